#!/usr/bin/env bash
# Installs every Debian package hwnas, its tests and its benchmarks need.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  libyaml-dev libstb-dev libturbojpeg0-dev zlib1g-dev
  libopenblas-dev libopenmpi-dev openmpi-bin
  googletest libgtest-dev
  dataset-fashion-mnist
  python3-torch python3-torchvision python3-numpy python3-pil python3-yaml
  libtcmalloc-minimal4
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "hwnas: installing missing packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
