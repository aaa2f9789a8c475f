#!/bin/sh
# Latency figures that hold on a busy machine (issue 16, part 5): profiles
# SPACE once, runs `hwnas latency check --samples 100` three times on the
# machine as it is (run it quiet), then once more while one busy process
# (a shell loop) spins, and prints the four shares within +-10% (or the
# one-line refusal: a machine too busy to measure is refused, exit 1).
#
#   bench/latency_stability.sh [SPACE.yaml] [THREADS]
#   (defaults: configs/spaces/hurricane-fmnist.yaml, 2; HWNAS=build/hwnas)
#
# Time: one check is 100 subnets x (5 warm-up + 6 rounds x (1 untimed + 5
# timed)) = 4,100 whole-network runs, about 10 s at 2-2.5 ms per network;
# a group of 10 subnets judged busy is retried twice (+0.9 s each, +0.9 s of
# pauses), and a busy machine is refused after its first group (~4 s). The
# profile takes 5-10 s. The whole script: about 1 minute.
set -u
SPACE=${1:-configs/spaces/hurricane-fmnist.yaml}
THREADS=${2:-2}
HWNAS=${HWNAS:-build/hwnas}
DIR=$(mktemp -d /tmp/hwnas_latency_stability.XXXXXX)
BUSY=""
cleanup() {
    [ -n "$BUSY" ] && kill "$BUSY" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
unset HWNAS_LATENCY_ON_BUSY HWNAS_TEST_LATENCY_BUSY  # refuse, never force

"$HWNAS" latency profile --space "$SPACE" --threads "$THREADS" -o "$DIR/target.yaml" || exit 1

# One check: its summary line, or the refusal.
check() {
    if "$HWNAS" latency check --target "$DIR/target.yaml" --space "$SPACE" --samples 100 --threads "$THREADS" \
        >"$DIR/out" 2>"$DIR/err"; then
        cat "$DIR/out"
    else
        echo "refused or failed (exit $?): $(tail -n 1 "$DIR/err")"
    fi
}

for i in 1 2 3; do
    printf 'quiet %d: %s\n' "$i" "$(check)"
done
sh -c 'while :; do :; done' &
BUSY=$!
printf 'busy  1: %s\n' "$(check)"
