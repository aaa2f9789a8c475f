#!/usr/bin/env bash
# Installs every Debian package hwnas, its tests and its benchmarks need, and
# ONNX Runtime (the npm package onnxruntime-node) into tools/ort/node_modules
# for the ONNX export tests. Idempotent: when everything is present it only
# checks and returns.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  libyaml-dev libstb-dev libturbojpeg0-dev zlib1g-dev
  libdnnl-dev libopenmpi-dev openmpi-bin
  googletest libgtest-dev
  dataset-fashion-mnist
  python3-torch python3-torchvision python3-numpy python3-pil python3-yaml
  libtcmalloc-minimal4
  protobuf-c-compiler libprotobuf-c-dev python3-onnx
  nodejs npm
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# A node from another source (NodeSource's nodejs bundles npm) counts as present.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || keep+=("$p"); done
  missing=("${keep[@]+"${keep[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "hwnas: installing missing packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime, project-local (tools/ort/package.json, not global). Its
# install script would download a CUDA build unless told to skip it.
ORT_DIR="$(cd "$(dirname "$0")" && pwd)/ort"
if [ ! -f "$ORT_DIR/node_modules/onnxruntime-node/package.json" ]; then
  echo "hwnas: installing onnxruntime-node into $ORT_DIR" >&2
  (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install --no-audit --no-fund)
fi
