#!/bin/sh
# hwnas's engine against ONNX Runtime at batch 1, on the same subnets:
# `hwnas latency check` times N random subnets of SPACE end to end in hwnas's
# CPU engine, `hwnas latency check --runtime onnxruntime` exports the same N
# subnets (same seed, same sampler) with `hwnas export`'s code and times them
# in onnxruntime-node; both with THREADS threads, WARMUP untimed runs and the
# 20th percentile of RUNS, the subnets timed interleaved. Prints one row per subnet and a summary: which is faster, by
# how much (ratio = hwnas ms / ORT ms; > 1 means ONNX Runtime is faster).
# Needs a quiet machine for numbers worth quoting.
#
#   bench/engine_vs_ort.sh [-s SPACE] [-n N] [-t THREADS] [-r RUNS] [-w WARMUP] [-o DIR]
#   defaults: configs/spaces/hurricane-fmnist.yaml, 20 subnets, 1 thread, 50 runs, 10 warm-up
set -eu
space=configs/spaces/hurricane-fmnist.yaml n=20 threads=1 runs=50 warmup=10 out=
while getopts s:n:t:r:w:o:h opt; do
    case $opt in
    s) space=$OPTARG ;; n) n=$OPTARG ;; t) threads=$OPTARG ;; r) runs=$OPTARG ;; w) warmup=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,13s/^# \{0,1\}//p' "$0"; [ "$opt" = h ] && exit 0 || exit 2 ;;
    esac
done
hwnas=${HWNAS_BIN:-build/hwnas}
[ -n "$out" ] || out=$(mktemp -d /tmp/engine_vs_ort.XXXXXX)
mkdir -p "$out"
# The predictions do not matter here, only the measured column: an analytic
# target covers any space.
cat >"$out/analytic.yaml" <<YAML
device: "roofline placeholder (bench/engine_vs_ort.sh)"
unit: ms
method: analytic
source: bench/engine_vs_ort.sh
peak_gflops: 50
bandwidth_gbs: 20
YAML
common="--space $space --samples $n --seed 7 --threads $threads --runs $runs --warmup $warmup"
"$hwnas" latency check --target "$out/analytic.yaml" $common --csv "$out/hwnas.csv" >/dev/null
"$hwnas" latency check --runtime onnxruntime --target "$out/analytic.yaml" --work "$out/ort" $common \
    --csv "$out/ort.csv" >/dev/null
echo "batch 1, $threads thread(s), 20th percentile of $runs runs, space $space ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
# Both CSVs: ops,predicted_ms,measured_ms,error_pct,raw_predicted_ms,speed.
paste -d, "$out/ort.csv" "$out/hwnas.csv" | awk -F, '
    NR == 1 { printf "%-4s %10s %10s %8s  %s\n", "#", "hwnas ms", "ORT ms", "ratio", "faster"; next }
    $1 != $7 { print "engine_vs_ort: subnet " NR-1 " differs between the two CSVs" > "/dev/stderr"; exit 1 }
    { r = $9 / $3; printf "%-4d %10.4f %10.4f %8.2f  %s\n", NR-1, $9, $3, r, (r > 1 ? "ONNX Runtime" : "hwnas")
      sum_h += $9; sum_o += $3; ort += r > 1; ratios[NR-1] = r; k = NR-1 }
    END { if (!k) exit
          # median ratio (insertion sort: k is small)
          for (i = 2; i <= k; i++) { v = ratios[i]; j = i - 1; while (j > 0 && ratios[j] > v) { ratios[j+1] = ratios[j]; j-- } ratios[j+1] = v }
          med = k % 2 ? ratios[(k+1)/2] : (ratios[k/2] + ratios[k/2+1]) / 2
          printf "total %.3f ms (hwnas) vs %.3f ms (ONNX Runtime); ONNX Runtime faster on %d of %d; median ratio %.2f (%s faster by %.0f%%)\n",
                 sum_h, sum_o, ort, k, med, (med > 1 ? "ONNX Runtime" : "hwnas"), (med > 1 ? 100 * (med - 1) : 100 * (1 / med - 1)) }'
echo "CSVs: $out/hwnas.csv $out/ort.csv"
