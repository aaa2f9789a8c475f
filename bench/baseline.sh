#!/bin/sh
# The searched winner against hand-made networks: a MobileNetV2-like network
# (every layer mb_k3_e6 in the full pool of SPACE) and the narrower or
# shallower variant of it whose latency, measured end to end on this CPU, is
# the highest at or below the winner's. Every candidate is measured the same
# way (`hwnas latency predict --measure`, batch 1, the table's threads); all
# three are trained from scratch with one recipe (`hwnas retrain -c CONFIG
# --epochs E`, the config's finetune.retrain_lr) and tested on the test split.
# Variants: every layer mb_k3_e6 or mb_k3_e3, or e6 in the first K layers and
# e3 after, each at full depth or with the last 1, 2 or 3 stride-1 layers of
# every stage skipped.
#
#   bench/baseline.sh -a ARCH.yaml|RUN_DIR [-c CONFIG] [-s SPACE] [-e EPOCHS] [-t THREADS] [-o DIR]
#   defaults: -c configs/fmnist.yaml, -s configs/spaces/hurricane-fmnist.yaml, 3 epochs,
#   2 threads, DIR runs/baseline. Needs a quiet machine for the latencies. SPACE
#   must be configs/spaces/NAME.yaml (the architectures name it by NAME). A net
#   whose DIR/NET/subnet.safetensors exists is not trained again.
#   Environment: HWNAS_BIN (default build/hwnas), SETS (extra --set options for retrain).
set -eu
config=configs/fmnist.yaml space=configs/spaces/hurricane-fmnist.yaml epochs=3 threads=2 out=runs/baseline arch=
while getopts a:c:s:e:t:o:h opt; do
    case $opt in
    a) arch=$OPTARG ;; c) config=$OPTARG ;; s) space=$OPTARG ;; e) epochs=$OPTARG ;; t) threads=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,17s/^# \{0,1\}//p' "$0"; [ "$opt" = h ] && exit 0 || exit 2 ;;
    esac
done
[ -n "$arch" ] || { echo "bench/baseline.sh: -a ARCH.yaml|RUN_DIR is required" >&2; exit 2; }
[ -d "$arch" ] && arch=$arch/best.yaml
hwnas=${HWNAS_BIN:-build/hwnas}
mkdir -p "$out"
name=$(sed -n 's/^name: *//p' "$space" | head -1)
# The space's layers: stride and whether skip fits (stride 1, same width as
# the layer before).
strides=$(sed -n 's/.*{out: *\([0-9]*\), *stride: *\([0-9]\).*/\1 \2/p' "$space")
[ -n "$strides" ] || { echo "bench/baseline.sh: $space: no layers of the form {out: C, stride: S, ...}" >&2; exit 2; }

# arch_file FILE OP... : an architecture of SPACE.
arch_file() {
    f=$1; shift
    printf 'space: %s\nops: [%s]\n' "$name" "$(echo "$@" | sed 's/ /, /g')" >"$f"
}

# variant K DEPTH: e6 in the first K layers, e3 after; DEPTH stride-1 layers
# at the end of every stage skipped (a stage ends before a stride-2 layer).
variant() {
    echo "$strides" | awk -v k="$1" -v d="$2" '
        { out[NR] = $1; s[NR] = $2 }
        END {
            for (i = 1; i <= NR; i++) {
                # layers left in this stage after i
                left = 0
                for (j = i + 1; j <= NR && s[j] == 1; j++) left++
                can_skip = s[i] == 1 && i > 1 && out[i] == out[i - 1]
                op = (i <= k) ? "mb_k3_e6" : "mb_k3_e3"
                if (can_skip && left < d) op = "skip"
                printf "%s%s", op, (i < NR ? " " : "\n")
            }
        }'
}

table=$out/target-cpu.yaml
[ -f "$table" ] || "$hwnas" latency profile --space "$space" -o "$table" --threads "$threads" >/dev/null
measure() { "$hwnas" latency predict --measure --target "$table" --arch "$1" --space "$space" | awk '
    NR == 1 { p = $1 } /^measured_ms/ { print p, $2 }'; }

# The winner in the full pool (its operators keep their names there).
arch_file "$out/winner.yaml" $(sed -n 's/^ops: *\[\(.*\)\]/\1/p' "$arch" | tr -d ',')
set -- $(measure "$out/winner.yaml")
winner_pred=$1 winner_ms=$2
layers=$(echo "$strides" | wc -l)
arch_file "$out/mbv2.yaml" $(variant "$layers" 0)
echo "name,predicted_ms,measured_ms,ops" >"$out/variants.csv"
for d in 0 1 2 3; do
    k=0
    while [ "$k" -le "$layers" ]; do
        ops=$(variant "$k" "$d")
        arch_file "$out/v.yaml" $ops
        set -- $(measure "$out/v.yaml")
        echo "k$k-d$d,$1,$2,$ops" >>"$out/variants.csv"
        k=$((k + 1))
    done
done
# The variant measured closest to the winner from below (else the fastest).
pick=$(awk -F, -v w="$winner_ms" 'NR > 1 && $1 != "k'"$layers"'-d0" {
        if ($3 <= w && $3 > best) { best = $3; row = $0 }
        if (fast == "" || $3 < fast) { fast = $3; frow = $0 } }
    END { print (row != "" ? row : frow) }' "$out/variants.csv")
arch_file "$out/variant.yaml" $(echo "$pick" | cut -d, -f4)
echo "winner: $winner_pred ms predicted, $winner_ms ms measured; variant $(echo "$pick" | cut -d, -f1-3)"

# Measured again together (the selection's figures came minutes apart),
# then trained one after another.
for net in winner mbv2 variant; do measure "$out/$net.yaml" >"$out/$net.ms"; done
echo "network,ops,predicted_ms,measured_ms,test_top1,train_seconds" >"$out/baseline.csv"
for net in winner mbv2 variant; do
    if [ ! -f "$out/$net/subnet.safetensors" ]; then
        "$hwnas" retrain -c "$config" --arch "$out/$net.yaml" -o "$out/$net" --epochs "$epochs" \
            --threads "$threads" ${SETS:-} >"$out/$net.out" 2>"$out/$net.err" || {
            echo "bench/baseline.sh: retrain of $net failed: $(tail -1 "$out/$net.err")" >&2; exit 1; }
    fi
    top1=$(awk '/^top1/ { print $2 }' "$out/$net.out")
    secs=$(sed -n 's/.* steps in \([0-9.]*\) s.*/\1/p' "$out/$net.err")
    ops=$(sed -n 's/^ops: *\[\(.*\)\]/\1/p' "$out/$net.yaml" | tr -d ',')
    echo "$net,$ops,$(sed 's/ /,/' "$out/$net.ms"),$top1,$secs" >>"$out/baseline.csv"
done
cat "$out/baseline.csv"
