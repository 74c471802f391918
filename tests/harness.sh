# tests/harness.sh — the helpers of a shell test suite, sourced (`. FILE`);
# the suite then calls scratch (T: its scratch folder, where the last
# command's output goes: $T/out and $T/err). Counts into pass and fail;
# the suite prints its own last line "SUITE: N passed, N failed".
#   ok NAME              a passed test
#   ko NAME [DETAIL]     a failed test, with what was seen
#   check NAME CMD...    CMD succeeds
#   expect_exit NAME CODE CMD...   CMD exits with CODE (output in $T/out, $T/err)
#   tamper DB SQL        SQL on a lake with its append-only triggers dropped,
#                        then restored with their exact text (an attacker's edit)
#   scratch PREFIX       T becomes a new folder /tmp/PREFIX-XXXXXX, removed at
#                        exit, and the working directory; HOME is T/home (mode
#                        0700) and no keyring is named, so the user's own is
#                        never touched
# Used by report.sh and report_shot.sh; the older suites still carry their
# own copies.
pass=0 fail=0
scratch() {
    T=$(mktemp -d "/tmp/$1-XXXXXX") || exit 2
    trap 'rm -rf "$T"' EXIT
    cd "$T" || exit 2
    mkdir -m 700 home
    export HOME="$T/home" XDG_DATA_HOME=
    unset MARLSIM_KEYRING
}
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 600 "$T/out" 2>/dev/null)"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/err") $(head -c 300 "$T/out")"; fi
}
tamper() {
    db=$1 sql=$2
    trig=$(sqlite3 "$db" "select group_concat(sql, ';' || char(10)) || ';' from sqlite_schema where type = 'trigger'")
    drops=$(sqlite3 "$db" "select group_concat('drop trigger ' || name, ';') || ';' from sqlite_schema where type = 'trigger'")
    sqlite3 "$db" "$drops $sql; $trig"
}
