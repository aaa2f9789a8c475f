#!/usr/bin/env bash
# GPU check kit: everything this project can tell about its CUDA path, in one
# run of about 8 minutes on one H100, for the day a GPU is lent.
#
#   tools/gpu-check.sh [OUT_DIR]        (make gpu-check GPU_CHECK_OUT=DIR)
#
# Builds with nvcc (make CUDA=1), then runs, each step under its own timeout
# and with its output in OUT_DIR/STEP.log:
#   test-gpu        tests/gpu_parity: every CUDA op against the CPU backend
#   dev-cuda-NAME   each dev/cuda kernel experiment at its default shapes
#                   (validation, then timings of every version)
#   bench-train-gpu hwnas bench train --device cuda, and
#   bench-train-cpu the same on the CPU, for the images/s next to it
#   run-quick-gpu   hwnas run --quick with train.device=cuda (the whole
#                   pipeline on Fashion-MNIST)
# A failing step is recorded and the next one runs. OUT_DIR/summary.md gets
# the GPU, driver, CUDA version, date, host and commit, then per step its
# result, wall time and key numbers.
#
# Exit status: 0 every step passed; 1 a step failed or timed out; 2 usage;
# 77 no GPU here (summary.md says why; nothing was built or run).
#
# Environment (seconds): GPU_CHECK_BUDGET_S=480, the steps after the build
# share it (a step's timeout is cut to what is left, and steps that find none
# left are recorded as skipped, which counts as a failure);
# GPU_CHECK_BUILD_TIMEOUT_S=900; GPU_CHECK_JOBS=nproc, make's -j for the build.
set -euo pipefail

readonly DEFAULT_OUT=runs/gpu-check  # runs/ is git-ignored, like every run directory
readonly DEV_CUDA_TOOLS=(activation batchnorm channel depthwise_conv2d loss pool sgd)
readonly BUDGET_S=${GPU_CHECK_BUDGET_S:-480}
readonly BUILD_TIMEOUT_S=${GPU_CHECK_BUILD_TIMEOUT_S:-900}
readonly JOBS=${GPU_CHECK_JOBS:-$(nproc)}

# Per-step caps (seconds). Expected times on an H100 are far lower; the caps
# only bound a hang, and the shared budget bounds their sum.
readonly CAP_TEST_GPU=150 CAP_DEV_TOOL=45 CAP_BENCH=90 CAP_RUN=300

# The environment's numbers must be positive integers: bash arithmetic would
# otherwise fail halfway, after the build.
check_settings() {
    local value
    for value in "$BUDGET_S" "$BUILD_TIMEOUT_S" "$JOBS"; do
        if [[ ! $value =~ ^[1-9][0-9]*$ ]]; then
            echo "gpu-check: GPU_CHECK_BUDGET_S, GPU_CHECK_BUILD_TIMEOUT_S and GPU_CHECK_JOBS" \
                "must be positive integers (found '$value')" >&2
            exit 2
        fi
    done
}

usage() {
    echo "usage: tools/gpu-check.sh [OUT_DIR]   (default $DEFAULT_OUT)"
    echo "Builds the CUDA backend and runs the GPU checks; see the top of this file."
}

# ---------------------------------------------------------------- step bookkeeping

STEP_NAMES=()
STEP_RESULTS=()  # passed | failed (exit N) | timed out (N s) | skipped (...)
STEP_SECONDS=()
FAILURES=0
BUDGET_END=0  # epoch seconds; set once the build is done

record() {  # name result seconds
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("$2")
    STEP_SECONDS+=("$3")
    [[ $2 == passed ]] || FAILURES=$((FAILURES + 1))
    printf 'gpu-check: %-26s %s (%s s)\n' "$1" "$2" "$3"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# run_step NAME CAP_SECONDS COMMAND...: runs COMMAND with its output in
# OUT_DIR/NAME.log under `timeout`, capped by what is left of the budget.
# timeout signals the command's whole process group, so a hung make or
# kernel does not outlive its step.
run_step() {
    local name=$1 cap=$2
    shift 2
    local limit=$cap
    if ((BUDGET_END > 0)); then
        local left=$((BUDGET_END - $(date +%s)))
        ((left < limit)) && limit=$left
        if ((limit < 5)); then
            # Written anyway, so no log of an earlier check is taken for this one's.
            echo "skipped: the budget of ${BUDGET_S} s was spent" >"$OUT_DIR/$name.log"
            record "$name" "skipped (budget of ${BUDGET_S} s spent)" 0
            return 0
        fi
    fi
    local log="$OUT_DIR/$name.log" start rc=0
    start=$(now)
    {
        echo "\$ $*"
        echo "(timeout ${limit} s)"
    } >"$log"
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1 || rc=$?
    local seconds
    seconds=$(elapsed "$start")
    case $rc in
        0) record "$name" passed "$seconds" ;;
        124 | 137) record "$name" "timed out (${limit} s)" "$seconds" ;;
        77) record "$name" "failed (exit 77: no device)" "$seconds" ;;
        *) record "$name" "failed (exit $rc)" "$seconds" ;;
    esac
    return 0
}

# ---------------------------------------------------------------- the machine

# Sets GPU_INFO (nvidia-smi's name, driver, memory per GPU) or NO_GPU_REASON.
GPU_INFO=""
NO_GPU_REASON=""
detect_gpu() {
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        NO_GPU_REASON="nvidia-smi not found, so no NVIDIA driver here"
        return
    fi
    local out rc=0
    out=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1) || rc=$?
    if ((rc != 0)); then
        NO_GPU_REASON="nvidia-smi failed (exit $rc): $(head -n 1 <<<"$out")"
    elif [[ -z ${out//[[:space:]]/} ]]; then
        NO_GPU_REASON="nvidia-smi lists no GPU"
    else
        GPU_INFO=$out
    fi
}

nvcc_path() {
    command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc
}

# The toolkit that builds (nvcc) and the newest CUDA the driver supports.
cuda_versions() {
    local toolkit driver=""
    toolkit=$("$(nvcc_path)" --version 2>/dev/null | grep -o 'release [0-9.]*' | head -n 1) ||
        toolkit="release ? (nvcc not found)"
    if [[ -n $GPU_INFO ]]; then
        driver=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1) || true
    fi
    driver=${driver#CUDA Version: }
    echo "toolkit ${toolkit#release } (nvcc); driver supports ${driver:-? (no driver)}"
}

git_commit() {
    local sha
    sha=$(git rev-parse --short=12 HEAD 2>/dev/null) || {
        echo "unknown (no git repository)"
        return
    }
    if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        sha="$sha with uncommitted changes"
    fi
    echo "$sha"
}

# ---------------------------------------------------------------- the steps

# One make per goal, in turn: gpu-parity-build runs a sub-make that builds
# the library too, and two makes building the same objects at once would race.
# -k and going on after a failed goal: whatever does build can still run.
# shellcheck disable=SC2016 # $0 and $rc belong to the inner bash
build() {
    run_step build "$BUILD_TIMEOUT_S" bash -c '
        rc=0
        for goal in build/hwnas gpu-parity-build dev-cuda; do
            make CUDA=1 -k -j"$0" --no-print-directory "$goal" || rc=1
        done
        exit $rc' "$JOBS"
}

test_gpu() {
    run_step test-gpu "$CAP_TEST_GPU" make CUDA=1 --no-print-directory test-gpu
}

dev_cuda_tools() {
    local tool
    for tool in "${DEV_CUDA_TOOLS[@]}"; do
        run_step "dev-cuda-$tool" "$CAP_DEV_TOOL" "build/dev/cuda/$tool"
    done
}

bench_train() {
    run_step bench-train-gpu "$CAP_BENCH" build/hwnas bench train --device cuda
    run_step bench-train-cpu "$CAP_BENCH" build/hwnas bench train
}

run_quick() {
    # A run directory that already holds a run is resumed, not rerun: start fresh.
    rm -rf "$OUT_DIR/run-quick"
    # The run's CPU latency figures are not what this checks: a busy host
    # CPU warns instead of refusing (search/measure.h).
    run_step run-quick-gpu "$CAP_RUN" \
        env HWNAS_LATENCY_ON_BUSY=warn build/hwnas run --quick -o "$OUT_DIR/run-quick" --set train.device=cuda
}

# ---------------------------------------------------------------- the summary

log_of() { echo "$OUT_DIR/$1.log"; }

# The last lines of a failed step's log: usually the error that stopped it.
log_tail() {
    [[ -f $(log_of "$1") ]] || return 0
    echo '```'
    tail -n 8 "$(log_of "$1")"
    echo '```'
}

result_of() {
    local i
    for i in "${!STEP_NAMES[@]}"; do
        if [[ ${STEP_NAMES[$i]} == "$1" ]]; then
            echo "${STEP_RESULTS[$i]}"
            return
        fi
    done
    echo "not run"
}

summary_header() {
    echo "# GPU check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- host: $(uname -n)"
    echo "- commit: $(git_commit)"
    if [[ -n $GPU_INFO ]]; then
        echo "- GPU (name, driver, memory):"
        sed 's/^/  - /' <<<"$GPU_INFO"  # one line per GPU
    else
        echo "- GPU: none: $NO_GPU_REASON"
    fi
    echo "- CUDA: $(cuda_versions)"
    echo
}

summary_table() {
    echo "| step | result | wall s | log |"
    echo "|---|---|---|---|"
    local i
    for i in "${!STEP_NAMES[@]}"; do
        echo "| ${STEP_NAMES[$i]} | ${STEP_RESULTS[$i]} | ${STEP_SECONDS[$i]} | ${STEP_NAMES[$i]}.log |"
    done
    echo
    echo "Steps after the build share a budget of ${BUDGET_S} s."
    echo
}

summary_test_gpu() {
    echo "## test-gpu (tests/gpu_parity)"
    echo
    local log counts failed
    log=$(log_of test-gpu)
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" 2>/dev/null | tail -n 1) || true
    echo "- step: $(result_of test-gpu)"
    echo "- ${counts:-no \"N passed, M failed\" line}"
    # gtest lists each failed test once more at the end, without a time.
    failed=$(grep -E '^\[  FAILED  \] [A-Za-z0-9_/.]+$' "$log" 2>/dev/null | sed 's/^\[  FAILED  \] /  - /') || true
    if [[ -n $failed ]]; then
        echo "- failed tests:"
        echo "$failed"
    fi
    [[ $(result_of test-gpu) == passed ]] || log_tail test-gpu
    echo
}

# Each tool validates some small shapes, then its default (benchmarked) shape
# last: the last unindented line before "all results match" names that one.
default_shape_line() {
    awk '/^all results match/ { print last; exit } NF && !/^  / { last = $0 }' "$1"
}

summary_dev_cuda() {
    echo "## dev/cuda kernels (default shapes; median of the timed runs)"
    echo
    local tool name
    for tool in "${DEV_CUDA_TOOLS[@]}"; do
        name=dev-cuda-$tool
        echo "### $tool: $(result_of "$name")"
        echo
        if [[ $(result_of "$name") == passed ]]; then
            echo '```'
            default_shape_line "$(log_of "$name")"
            grep -E '[0-9] ms ' "$(log_of "$name")" || echo "(no timing lines)"
            echo '```'
        else
            log_tail "$name"
        fi
        echo
    done
}

images_per_s() {
    grep -o 'images_per_s=[0-9.]*' "$(log_of "$1")" 2>/dev/null | tail -n 1 | cut -d= -f2 || true
}

summary_bench() {
    echo "## bench train (hurricane-fmnist supernet, batch 128, random paths)"
    echo
    local gpu cpu name
    gpu=$(images_per_s bench-train-gpu)
    cpu=$(images_per_s bench-train-cpu)
    echo "- GPU: ${gpu:-?} images/s; step: $(result_of bench-train-gpu)"
    echo "- CPU: ${cpu:-?} images/s; step: $(result_of bench-train-cpu)"
    if [[ -n $gpu && -n $cpu ]]; then
        awk -v g="$gpu" -v c="$cpu" 'BEGIN { if (c > 0) printf "- GPU / CPU: %.1fx\n", g / c }'
    fi
    for name in bench-train-gpu bench-train-cpu; do
        if [[ $(result_of "$name") == passed ]]; then
            echo '```'
            grep '^bench train ' "$(log_of "$name")" || true
            echo '```'
        else
            log_tail "$name"
        fi
    done
    echo
}

summary_run() {
    echo "## hwnas run --quick, train.device=cuda: $(result_of run-quick-gpu)"
    echo
    local log best="$OUT_DIR/run-quick/best.yaml"
    log=$(log_of run-quick-gpu)
    if [[ -f $log ]]; then
        echo '```'
        grep -E 'hwnas run: (search space|latency limit|winner|test top-1)|^test top1 ' "$log" || true
        if [[ -f $best ]]; then grep -E '^ops:' "$best" || true; fi
        echo '```'
    fi
    [[ $(result_of run-quick-gpu) == passed ]] || log_tail run-quick-gpu
    echo
}

write_summary() {
    {
        summary_header
        if [[ -n $NO_GPU_REASON ]]; then
            echo "Nothing was built or run: no GPU."
            return
        fi
        summary_table
        summary_test_gpu
        summary_dev_cuda
        summary_bench
        summary_run
    } >"$OUT_DIR/summary.md"
}

# ---------------------------------------------------------------- main

main() {
    if (($# > 1)); then
        usage >&2
        exit 2
    fi
    if [[ ${1:-} == -h || ${1:-} == --help ]]; then
        usage
        exit 0
    fi
    if [[ ${1:-} == -* ]]; then
        usage >&2
        exit 2
    fi
    check_settings
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    # OUT_DIR is relative to where the script was started; made absolute
    # before moving to the repository root, where make and build/ are.
    OUT_DIR=${1:-$root/$DEFAULT_OUT}
    mkdir -p "$OUT_DIR"
    OUT_DIR=$(cd "$OUT_DIR" && pwd)
    cd "$root"

    detect_gpu
    if [[ -n $NO_GPU_REASON ]]; then
        write_summary
        echo "gpu-check: no GPU ($NO_GPU_REASON); nothing was run; see $OUT_DIR/summary.md"
        exit 77
    fi
    nvidia-smi >"$OUT_DIR/nvidia-smi.log" 2>&1 || true

    build
    BUDGET_END=$(($(date +%s) + BUDGET_S))
    test_gpu
    dev_cuda_tools
    bench_train
    run_quick
    write_summary

    echo "gpu-check: $FAILURES of ${#STEP_NAMES[@]} steps did not pass; summary: $OUT_DIR/summary.md"
    if ((FAILURES > 0)); then exit 1; fi
}

main "$@"
