#!/usr/bin/env bash
# tests/tools/same_heads.sh REF_MARLSIM NEW_MARLSIM — do two builds write the
# same ledgers?
#
# A speed change must not change what a run records (SPEC §8): this runs a
# set of configurations through both binaries (from the repository root)
# and compares the ledger head hash of every run, plus the JSON of eval
# with each reference policy (the held-out streams, public keys, no lake).
# The set covers the default config under several seeds, every credit
# method, observe = all, an odd mailbox count, key rotation, full
# telemetry, and configs/poisoned.ini (transit tampering, backdoors, forged
# feedback). Prints one line per case and "N passed, N failed" at the end;
# exits 1 if any case differs. CPU-heavy: about a minute per binary.
set -u
if [ $# -ne 2 ]; then
    echo "usage: tests/tools/same_heads.sh REF_MARLSIM NEW_MARLSIM" >&2
    exit 2
fi
REF=$1
NEW=$2
cd "$(dirname "$0")/../.." || exit 2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/envspeed-heads.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT

S=65536
RUNS=(
    "configs/default.ini --set run.env_steps=$S"
    "configs/default.ini --seed 2 --set run.env_steps=$S"
    "configs/default.ini --seed 77 --set run.env_steps=$S --set telemetry.level=full"
    "configs/default.ini --seed 3 --set run.env_steps=$S --set train.credit=global --set telemetry.level=sampled"
    "configs/default.ini --seed 4 --set run.env_steps=$S --set train.credit=rules --set telemetry.level=aggregate"
    "configs/default.ini --seed 5 --set run.env_steps=$S --set agents.observe=all --set sim.envs=7 --set train.minibatch=64 --set keys.rotate_every_episodes=2"
    "configs/default.ini --seed 6 --set run.env_steps=$S --set sim.poison_rate=0.2 --set sim.campaign_rate=0.3 --set sim.episode_len=9"
    "configs/poisoned.ini --set run.env_steps=$S"
    "configs/poisoned.ini --seed 9 --set run.env_steps=$S --set train.defence=off --set sim.poison_rate=0.3"
)
EVALS=(
    "configs/default.ini --policy random"
    "configs/default.ini --policy heuristic"
    "configs/default.ini --policy oracle"
    "configs/poisoned.ini --policy heuristic"
    "configs/poisoned.ini --policy random --set sim.poison_rate=0.3 --set sim.envs=5 --set train.minibatch=64"
)

pass=0
fail=0
head_of() { sed -n 's/.*"head_hash":"\([0-9a-f]*\)".*/\1/p' "$1"; }
i=0
for args in "${RUNS[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # args are word lists on purpose
    "$REF" run $args --keyring dev --out "$TMP/ref-$i.db" --force --quiet --json >"$TMP/ref-$i.json" 2>/dev/null
    rc1=$?
    # shellcheck disable=SC2086
    "$NEW" run $args --keyring dev --out "$TMP/new-$i.db" --force --quiet --json >"$TMP/new-$i.json" 2>/dev/null
    rc2=$?
    h1=$(head_of "$TMP/ref-$i.json")
    h2=$(head_of "$TMP/new-$i.json")
    if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -n "$h1" ] && [ "$h1" = "$h2" ]; then
        pass=$((pass + 1))
        echo "same  run  $h1  $args"
    else
        fail=$((fail + 1))
        echo "DIFF  run  ref=$h1 (exit $rc1) new=$h2 (exit $rc2)  $args"
    fi
    rm -f "$TMP"/*.db "$TMP"/*.db-*
done
for args in "${EVALS[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    "$REF" eval $args --keyring dev --json >"$TMP/ref-$i.json" 2>/dev/null
    rc1=$?
    # shellcheck disable=SC2086
    "$NEW" eval $args --keyring dev --json >"$TMP/new-$i.json" 2>/dev/null
    rc2=$?
    if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -s "$TMP/ref-$i.json" ] && cmp -s "$TMP/ref-$i.json" "$TMP/new-$i.json"; then
        pass=$((pass + 1))
        echo "same  eval $(sha256sum <"$TMP/ref-$i.json" | cut -c1-64)  $args"
    else
        fail=$((fail + 1))
        echo "DIFF  eval (exit $rc1 / $rc2)  $args"
    fi
done
echo "same_heads: $pass passed, $fail failed"
[ $fail -eq 0 ]
