#!/usr/bin/env bash
# tests/run.sh UNIT_BINARY MARLSIM_BINARY — the whole test suite.
#
# Runs the unit-test binary (from the repository root: unit tests read
# configs/default.ini), then the shell suites against the marlsim binary
# (listed below), then the fuzz replay and the quick fault sweep, and
# prints the summed "N passed, N failed" as the last line. Exits non-zero if
# anything failed, including a binary that crashed before its summary line
# (counted as one failed test).
set -u

if [ $# -ne 2 ]; then
    echo "usage: tests/run.sh UNIT_BINARY MARLSIM_BINARY" >&2
    exit 2
fi
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
UNIT=$(abs "$1")
MARLSIM=$(abs "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

LOG=$(mktemp "${TMPDIR:-/tmp}/marlsim-run.XXXXXX") || exit 2
trap 'rm -f "$LOG"' EXIT

# Reads "PREFIX: N passed, M failed" from LOG; prints "N M" (or "0 1" when
# the line is missing) and adds one failure if the exit status was non-zero
# but no test was reported failed.
tally() {
    local prefix=$1 rc=$2 line p f
    line=$(grep -E "^$prefix: [0-9]+ passed, [0-9]+ failed\$" "$LOG" | tail -n 1)
    if [ -z "$line" ]; then
        echo "run.sh: $prefix tests ended without a summary (exit $rc)" >&2
        echo "0 1"
        return
    fi
    p=$(printf '%s\n' "$line" | sed -E 's/^[^:]*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
    f=$(printf '%s\n' "$line" | sed -E 's/^[^:]*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "run.sh: $prefix tests exited $rc with no failure reported" >&2
        f=1
    fi
    echo "$p $f"
}

# counted PREFIX BINARY CMD...: runs CMD (when BINARY is executable; else
# one failure) with its output in LOG and adds its tally to the totals.
total_pass=0 total_fail=0
counted() {
    local prefix=$1 bin=$2 rc p f
    shift 2
    if [ -x "$bin" ]; then
        "$@" | tee "$LOG"
        rc=${PIPESTATUS[0]}
    else
        echo "run.sh: no $prefix binary at $bin" >&2
        : >"$LOG"
        rc=127
    fi
    read -r p f < <(tally "$prefix" "$rc")
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

counted unit "$UNIT" "$UNIT"

# Each shell suite runs against the marlsim binary and ends with
# "NAME: N passed, N failed". lake.sh runs a 20-crash kill -9 loop; trust.sh
# the attacks on the trust anchors (needs $MARLSIM_TOOLS/lake_attack);
# learning.sh poisoning, the defence and surveillance on real runs;
# lifecycle.sh purge and export, with a 20-crash kill -9 loop during purges;
# resume.sh run --resume, with 20 kills while running and resuming;
# gov.sh audit, model cards and four-eyes release (needs lake_attack);
# mpi.sh runs of several processes under mpirun (nothing without mpirun);
# lint.sh the compliance lint on the tree and on planted copies;
# docs.sh the shipped documentation against the code (needs
# $MARLSIM_TOOLS/docgen and man); report.sh the HTML report and compare
# against the lakes they read. The Python package's tests and the
# install test are `make pytest` and `make installcheck` (CI runs both).
for suite in cli lake trust learning lifecycle resume gov mpi lint docs report; do
    counted "$suite" "$MARLSIM" "$ROOT/tests/$suite.sh" "$MARLSIM"
done

# Test binaries beside the unit tests ($MARLSIM_TOOLS, else the unit
# binary's folder): fuzz_regress replays every committed fuzz input (seed
# corpora and fixed crashes) through the harnesses of tests/fuzz/;
# fault_sweep --quick injects a few I/O and allocation faults of each kind
# (tests/fault/; `make faults` runs the whole sweep).
TOOLS=${MARLSIM_TOOLS:-$(dirname "$UNIT")}
case $TOOLS in /*) ;; *) TOOLS="$ROOT/$TOOLS" ;; esac
counted fuzz-regress "$TOOLS/fuzz_regress" env OPENBLAS_NUM_THREADS=1 "$TOOLS/fuzz_regress"
counted faults "$TOOLS/fault_sweep" env OPENBLAS_NUM_THREADS=1 "$TOOLS/fault_sweep" --quick

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
