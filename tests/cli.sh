#!/usr/bin/env bash
# tests/cli.sh MARLSIM — command-line tests of the marlsim binary.
#
# Prints one PASS/FAIL line per test and "cli: N passed, N failed" last;
# exits 1 if any test failed. Plain bash + grep/sed/awk (no python, no
# sqlite3). Run from anywhere; tests that must not create files run with
# their working directory in an empty scratch directory.
#
# Adding a test:
#   t_name() { expect_exit 0 "$MARLSIM" eval "$CFG" --policy random && out_has '"policy":"random"'; }
#   check "what it shows" t_name
# Helpers:
#   check NAME CMD...        runs CMD; PASS if it succeeds, else FAIL (+ its stderr)
#   expect_exit CODE CMD...  runs CMD with stdout in $OUT, stderr in $ERR; true iff it exits CODE
#   in_scratch CMD...        runs CMD inside a fresh empty directory ($SCRATCH)
#   scratch_empty            true iff CMD left $SCRATCH empty
#   out_has TEXT / err_has TEXT / out_empty / err_empty
#   json_num KEY             prints the number after "KEY": in $OUT
#   num_gt A B / num_between X LO HI   numeric comparisons (awk)
set -u

if [ $# -ne 1 ]; then
    echo "usage: tests/cli.sh MARLSIM_BINARY" >&2
    exit 2
fi
case $1 in
/*) MARLSIM=$1 ;;
*) MARLSIM=$PWD/$1 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIGS=$ROOT/tests/configs
DEFAULT=$ROOT/configs/default.ini
SMALL=$CONFIGS/small.ini

TMP=$(mktemp -d "${TMPDIR:-/tmp}/marlsim-cli.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
# Never the user's keyring: keys, if any test needs them, live in $TMP.
mkdir -m 700 "$TMP/home"
export HOME="$TMP/home" XDG_DATA_HOME= MARLSIM_KEYRING="$TMP/keyring"
OUT=$TMP/stdout
ERR=$TMP/stderr
DIAG=$TMP/diagnostics
SCRATCH=$TMP/scratch
passed=0
failed=0

check() {
    local name=$1
    shift
    : >"$ERR"
    if "$@" >"$DIAG" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        cat "$DIAG"
        if [ -s "$ERR" ]; then sed -n '1,5s/^/    stderr: /p' "$ERR"; fi
    fi
}

expect_exit() {
    local want=$1
    shift
    "$@" >"$OUT" 2>"$ERR"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "    exit $rc, want $want: $*"
        return 1
    fi
    return 0
}

in_scratch() {
    rm -rf "$SCRATCH"
    mkdir -p "$SCRATCH"
    (cd "$SCRATCH" && "$@")
}

scratch_empty() {
    local left
    left=$(ls -A "$SCRATCH" 2>/dev/null)
    if [ -n "$left" ]; then
        echo "    files created: $left"
        return 1
    fi
    return 0
}

out_has() { grep -qF -- "$1" "$OUT" || { echo "    stdout lacks: $1"; return 1; }; }
err_has() { grep -qF -- "$1" "$ERR" || { echo "    stderr lacks: $1"; return 1; }; }
out_empty() { [ ! -s "$OUT" ] || { echo "    stdout not empty"; return 1; }; }
err_empty() { [ ! -s "$ERR" ] || { echo "    stderr not empty"; return 1; }; }
json_num() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" "$OUT" | head -n 1; }
num_gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }' || { echo "    not $1 > $2"; return 1; }; }
num_between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x + 0 >= lo + 0 && x + 0 <= hi + 0) }' ||
    { echo "    $1 not in [$2, $3]"; return 1; }; }

# ---- global options ----

t_version() { expect_exit 0 "$MARLSIM" --version && grep -qE '^marlsim [0-9]+\.[0-9]+' "$OUT" && err_empty; }
check "--version exits 0 and prints 'marlsim X.Y'" t_version

t_help() { expect_exit 0 "$MARLSIM" --help && out_has "usage: marlsim" && out_has "eval" && err_empty; }
check "--help exits 0 with usage on stdout" t_help

t_eval_help() { expect_exit 0 "$MARLSIM" eval --help && out_has "usage: marlsim eval" && out_has "--policy" && err_empty; }
check "eval --help exits 0 with the eval usage" t_eval_help

t_no_command() { expect_exit 2 "$MARLSIM" && err_has "usage:" && out_empty; }
check "no command: usage on stderr, exit 2" t_no_command

t_unknown_command() { expect_exit 2 "$MARLSIM" frobnicate && err_has "frobnicate" && err_has "usage:" && out_empty; }
check "unknown command: usage on stderr, exit 2" t_unknown_command

t_unknown_global_flag() { expect_exit 2 "$MARLSIM" --frob && err_has "usage:" && out_empty; }
check "unknown global flag: usage on stderr, exit 2" t_unknown_global_flag

t_unknown_flag() { expect_exit 2 "$MARLSIM" eval "$SMALL" --policy random --bogus && err_has "--bogus" && err_has "usage: marlsim eval" && out_empty; }
check "eval unknown flag: usage on stderr, exit 2" t_unknown_flag

t_missing_policy() { expect_exit 2 "$MARLSIM" eval "$SMALL" && err_has "--policy" && out_empty; }
check "eval without --policy: exit 2" t_missing_policy

t_policy_no_value() { expect_exit 2 "$MARLSIM" eval "$SMALL" --policy && err_has "usage:" && out_empty; }
check "eval --policy without a value: exit 2" t_policy_no_value

t_missing_config_arg() { expect_exit 2 "$MARLSIM" eval --policy random && err_has "CONFIG" && out_empty; }
check "eval without a config: exit 2" t_missing_config_arg

t_extra_arg() { expect_exit 2 "$MARLSIM" eval "$SMALL" "$SMALL" --policy random && err_has "usage:" && out_empty; }
check "eval with an extra argument: exit 2" t_extra_arg

# ---- bad configuration: exit 2, file:line and key named, nothing written ----

t_missing_file() {
    in_scratch expect_exit 2 "$MARLSIM" eval "$TMP/absent.ini" --policy heuristic && err_has "$TMP/absent.ini" &&
        out_empty && scratch_empty
}
check "eval with a missing config file: exit 2, path named" t_missing_file

# Each tests/configs/bad_*.ini starts with "; expect: LINE | TEXT": eval must
# exit 2 with one line on stderr reading "FILE:LINE: ..." and containing TEXT,
# print nothing on stdout and create no file.
t_bad_config() {
    local cfg=$1 line text
    line=$(sed -n '1s/^; expect: \([0-9][0-9]*\) | .*/\1/p' "$cfg")
    text=$(sed -n '1s/^; expect: [0-9][0-9]* | //p' "$cfg")
    [ -n "$line" ] && [ -n "$text" ] || { echo "    $cfg has no '; expect: LINE | TEXT' first line"; return 1; }
    in_scratch expect_exit 2 "$MARLSIM" eval "$cfg" --policy heuristic &&
        err_has "$cfg:$line: " && err_has "$text" && [ "$(wc -l <"$ERR")" -eq 1 ] && out_empty && scratch_empty
}
for cfg in "$CONFIGS"/bad_*.ini; do
    check "bad config $(basename "$cfg"): exit 2, file:line, key and allowed values named" t_bad_config "$cfg"
done

t_bad_set() {
    in_scratch expect_exit 2 "$MARLSIM" eval "$SMALL" --policy random --set sim.envs=0 &&
        err_has "--set sim.envs=0: [sim] envs" && err_has "allowed: an integer in [1, 4096]" && out_empty && scratch_empty
}
check "eval --set out of range: exit 2, names --set, key and allowed" t_bad_set

t_bad_set_syntax() { expect_exit 2 "$MARLSIM" eval "$SMALL" --policy random --set seed && err_has "--set seed: expected section.key=value" && out_empty; }
check "eval --set without section.key=value: exit 2" t_bad_set_syntax

t_bad_set_key() { expect_exit 2 "$MARLSIM" eval "$SMALL" --policy random --set train.learning_rate=1 && err_has "unknown key 'learning_rate'" && out_empty; }
check "eval --set unknown key: exit 2" t_bad_set_key

t_finish() { expect_exit 2 "$MARLSIM" eval "$SMALL" --policy random --set train.minibatch=100000 && err_has "[train] minibatch" && err_has "allowed" && out_empty; }
check "eval with minibatch > envs x rollout: exit 2" t_finish

t_good_in_scratch() { in_scratch expect_exit 0 "$MARLSIM" eval "$SMALL" --policy random && scratch_empty && err_empty; }
check "eval writes no file" t_good_in_scratch

# ---- eval output ----

t_json() {
    expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy heuristic --json || return 1
    [ "$(wc -l <"$OUT")" -eq 1 ] || { echo "    not one line"; return 1; }
    grep -q '^{.*}$' "$OUT" || { echo "    not an object"; return 1; }
    local opens closes key
    opens=$(tr -cd '{' <"$OUT" | wc -c)
    closes=$(tr -cd '}' <"$OUT" | wc -c)
    [ "$opens" -eq "$closes" ] || { echo "    unbalanced braces"; return 1; }
    for key in policy episodes env_steps mean_reward_per_step outcomes; do
        grep -q "\"$key\":" "$OUT" || { echo "    missing key $key"; return 1; }
    done
    out_has '"policy":"heuristic"' &&
        grep -qE '"episodes":[0-9]+[,}]' "$OUT" &&
        grep -qE '"env_steps":[0-9]+[,}]' "$OUT" &&
        grep -qE '"mean_reward_per_step":-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?[,}]' "$OUT" &&
        grep -qE '"outcomes":\{"benign":\{' "$OUT" &&
        out_has '"spam":{' && out_has '"phishing":{' && out_has '"malware":{' &&
        ! grep -qiE 'nan|inf' "$OUT" && err_empty
}
check "eval --json prints one JSON object with the summary keys" t_json

t_json_counts() {
    expect_exit 0 "$MARLSIM" eval "$SMALL" --policy heuristic --json || return 1
    # small.ini: 8 mailboxes x 16 steps x report_episodes 20 (the report stream)
    [ "$(json_num env_steps)" = 2560 ] && [ "$(json_num episodes)" = 160 ] || { echo "    env_steps $(json_num env_steps) episodes $(json_num episodes)"; return 1; }
    # every env-step has exactly one outcome
    local sum
    sum=$(sed 's/.*"outcomes":{\(.*\)}},.*/\1/' "$OUT" | grep -oE ':[0-9]+' | tr -d : | awk '{ s += $1 } END { print s }')
    [ "$sum" = 2560 ] || { echo "    outcome counts sum to $sum"; return 1; }
}
check "eval --json counts: env_steps = envs x episode_len x eval_episodes = sum of outcomes" t_json_counts

t_text() {
    expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy random && out_has "policy: random" &&
        grep -qE '^mean_reward_per_step: -?[0-9]' "$OUT" && grep -qE '^env_steps: 81920$' "$OUT" && err_empty
}
check "eval prints key: value lines without --json" t_text

t_repeatable() {
    local p
    for p in random heuristic oracle; do
        expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy $p --json || return 1
        cp "$OUT" "$TMP/first"
        expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy $p --json || return 1
        cmp -s "$OUT" "$TMP/first" || { echo "    $p: two evals differ"; return 1; }
    done
}
check "two evals print identical figures (random, heuristic, oracle)" t_repeatable

t_set_changes() {
    expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy random --json && cp "$OUT" "$TMP/a" &&
        expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy random --json --set gate.eval_seed=2 &&
        ! cmp -s "$OUT" "$TMP/a" ||
        { echo "    another eval_seed gives the same figures"; return 1; }
}
check "eval --set gate.eval_seed changes the held-out episodes" t_set_changes

t_heuristic_band() {
    expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy heuristic --json && num_between "$(json_num mean_reward_per_step)" 0.9 1.1
}
check "heuristic mean reward per step in [0.9, 1.1]" t_heuristic_band

t_ordering() {
    local r h o
    expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy random --json && r=$(json_num mean_reward_per_step) &&
        expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy heuristic --json && h=$(json_num mean_reward_per_step) &&
        expect_exit 0 "$MARLSIM" eval "$DEFAULT" --policy oracle --json && o=$(json_num mean_reward_per_step) &&
        num_gt "$o" "$h" && num_gt "$h" "$r" || { echo "    oracle ${o:-?} heuristic ${h:-?} random ${r:-?}"; return 1; }
}
check "oracle > heuristic > random over 20 episodes" t_ordering

t_no_room() {
    in_scratch expect_exit 2 "$MARLSIM" run "$DEFAULT" --keyring dev --set run.env_steps=1000000000000 --out big.db || return 1
    err_has 'not enough room for the lake' && err_has 'full telemetry' && scratch_empty
}
check "run refuses a lake the file system has no room for (10^12 env-steps at full: ~1 PB): exit 2, nothing written" t_no_room

# A hostile file name (say, in a shared drop folder a script loops over)
# must not reach the terminal as an escape sequence.
t_control_bytes() {
    local name
    name=$(printf 'x\033]0;PWNED\007\033[2Jy.db')
    in_scratch expect_exit 2 "$MARLSIM" verify "$name" || return 1
    err_has 'contains a control character (byte 0x1b)' || return 1
    if LC_ALL=C grep -q "$(printf '\033')" "$ERR" "$OUT"; then echo "    an ESC byte was printed"; return 1; fi
    scratch_empty
}
check "a control byte in an argument (a file name): exit 2, never echoed" t_control_bytes

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
