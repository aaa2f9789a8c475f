#!/usr/bin/env bash
# make fuzz: runs every libFuzzer target for SECONDS from its seeds (and the
# corpus it grew before, kept in build-fuzz/corpus/), and prints a table:
# target, executions, coverage, crashes, timeouts, out-of-memory. A finding
# leaves its input in build-fuzz/findings/TARGET/; replay it with
# build-fuzz/TARGET FILE. The folder holds this run's findings only (a fixed
# finding lives on as a regression test, not as a file here), so the counts
# are this run's. Ends with "N passed, M failed". With FUZZ_RUNS=N in the
# environment each target runs N executions instead (the 10^6 table:
# `make fuzz FUZZ_RUNS=1000000`).
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=$1
shift
limit=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
passed=0
failed=0
printf '| %-24s | %12s | %8s | %7s | %8s | %4s |\n' target executions coverage crashes timeouts oom
printf '|%s|%s|%s|%s|%s|%s|\n' -------------------------- -------------- ---------- --------- ---------- ------
for target in "$@"; do
  name=${target#fuzz_}
  corpus=build-fuzz/corpus/$name findings=build-fuzz/findings/$name log=build-fuzz/logs/$name.log
  rm -rf "$findings"
  mkdir -p "$corpus" "$findings" build-fuzz/logs
  ./build-fuzz/"$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "build-fuzz/seeds/$name" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*')
  crashes=$(find "$findings" -name 'crash-*' | wc -l)
  timeouts=$(find "$findings" -name 'timeout-*' | wc -l)
  ooms=$(find "$findings" -name 'oom-*' | wc -l)
  printf '| %-24s | %12s | %8s | %7s | %8s | %4s |\n' "$target" "${execs:-?}" "${cov:-?}" "$crashes" "$timeouts" "$ooms"
  if [ "$rc" -eq 0 ] && [ $((crashes + timeouts + ooms)) -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "  $target: exit $rc, see $log and $findings/"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
