#!/usr/bin/env bash
# The text seeds of the fuzz targets, from the project's own files, into DIR.
set -euo pipefail
dir=$1
mkdir -p "$dir"/{yaml,config,space,arch,lut,lut_import}
cp configs/*.yaml tests/configs/*.yaml "$dir/config/"
cp configs/spaces/*.yaml tests/spaces/*.yaml "$dir/space/"
cp configs/*.yaml configs/spaces/*.yaml configs/targets/*.yaml tests/spaces/*.yaml "$dir/yaml/"
cp configs/targets/*.yaml "$dir/lut/"
# A --set section after the config (fuzz_config's input format).
printf 'train:\n  epochs: 2\n---SET---\ntrain.epochs=3\nsearch.population=6\ndata.input_size=28\n' \
  >"$dir/config/with-set"
# An architecture of tests/spaces/tiny.yaml (every layer offers the whole pool).
python3 - "$dir/arch/tiny.yaml" <<'PY'
import sys, yaml
space = yaml.safe_load(open("tests/spaces/tiny.yaml"))
ops = ["mb_k3_e3"] * len(space["layers"])
open(sys.argv[1], "w").write("space: %s\nops: [%s]\n" % (space["name"], ", ".join(ops)))
PY
# Published tables, when ../shared is there (first byte: 0 proxyless, 1 ofa).
shared=${HWNAS_SHARED:-../shared}
if [ -d "$shared/data/latency" ]; then
  find "$shared/data/latency" -name '*.yaml' -size -400k | head -4 | while read -r f; do
    { printf '\000'; cat "$f"; } >"$dir/lut_import/proxyless-$(basename "$f")"
    { printf '\001'; cat "$f"; } >"$dir/lut_import/ofa-$(basename "$f")"
  done
fi
printf '\001{"Conv": {"count": 1}}' >"$dir/lut_import/tiny.json"
