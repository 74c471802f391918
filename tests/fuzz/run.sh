#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD SECONDS NAME... — runs each libFuzzer harness
# BUILD/fuzz_NAME for SECONDS, from its committed seeds
# (tests/fuzz/corpus/NAME) and dictionary (tests/fuzz/dict/NAME.dict, when
# there is one), growing a working corpus in BUILD/corpus/NAME (kept between
# local runs, new in CI). Prints a table (harness, executions, coverage as
# libFuzzer's cov/ft, corpus size, verdict) and "fuzz: N passed, N failed",
# one test per harness. A harness fails when libFuzzer stops on a crash, a
# sanitizer report, a broken FUZZ_REQUIRE, a leak or a timeout; the input is
# kept in BUILD/artifacts/NAME/ and the log in BUILD/log-NAME.txt. Exit 1
# when any failed.
set -u
if [ $# -lt 3 ]; then
    echo "usage: tests/fuzz/run.sh BUILD SECONDS NAME..." >&2
    exit 2
fi
B=$1 T=$2
shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
# One BLAS thread: the harnesses are single-threaded, and an idle OpenBLAS
# pool only competes for the two cores.
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
pass=0 fail=0
rows=""
for n in "$@"; do
    mkdir -p "$B/corpus/$n" "$B/artifacts/$n"
    dict=()
    [ -f "tests/fuzz/dict/$n.dict" ] && dict=("-dict=tests/fuzz/dict/$n.dict")
    log="$B/log-$n.txt"
    start=$(date +%s)
    # -timeout: one input taking longer is a hang; -rss_limit_mb bounds memory.
    "$B/fuzz_$n" -max_total_time="$T" -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$n/" "${dict[@]}" "$B/corpus/$n" "tests/fuzz/corpus/$n" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    if [ "$rc" -eq 0 ]; then
        verdict=ok
        pass=$((pass + 1))
    else
        verdict="FAILED (exit $rc; see $log, input in $B/artifacts/$n/)"
        fail=$((fail + 1))
        grep -E 'ERROR: |runtime error|fuzz property broken|SUMMARY' "$log" | head -n 5 >&2
    fi
    rows+=$(printf '%-8s %10s %6s %7s %12s %5ss  %s' "$n" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$secs" "$verdict")$'\n'
done
printf '%-8s %10s %6s %7s %12s %6s  %s\n' harness execs cov ft corpus time verdict
printf '%s' "$rows"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
