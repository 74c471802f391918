#!/bin/sh
# tests/heads.sh MARLSIM KEYRING — the ledger head of a set of small runs, one
# "NAME HEAD" line each: run it with two builds (e.g. before and after a
# change that must not change lakes, such as the MPI layer) and diff the
# outputs. KEYRING is a keyring file both builds share (marlsim keys init
# --keyring FILE makes one); each set is also run with the development key.
# Runs in a temporary directory; prints nothing else on stdout.
set -u
[ $# -eq 2 ] || { echo "usage: tests/heads.sh MARLSIM KEYRING" >&2; exit 2; }
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
K=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/marlsim-heads-XXXXXX)
trap 'rm -rf "$T"' EXIT
S="--set run.env_steps=16384"
run() {
    name=$1; shift
    for kr in dev "$K"; do
        tag=$name-$( [ "$kr" = dev ] && echo dev || echo keyring )
        head=$("$M" run "$@" $S --keyring "$kr" --quiet --json --force --out "$T/$tag.db" 2>"$T/err" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["head_hash"])') ||
            { echo "$tag FAILED: $(head -c 300 "$T/err")"; continue; }
        echo "$tag $head"
    done
}
run default "$ROOT/configs/default.ini"
run poisoned "$ROOT/configs/poisoned.ini"
run sampled "$ROOT/configs/default.ini" --set telemetry.level=sampled --set telemetry.sample_every=4 --seed 3
run aggregate "$ROOT/configs/default.ini" --set telemetry.level=aggregate --set agents.observe=all --seed 5
run relu-global "$ROOT/configs/default.ini" --set agents.activation=relu --set train.credit=global --set sim.envs=24
run odd-envs "$ROOT/configs/default.ini" --set sim.envs=7 --set train.minibatch=100 --set gate.every=2
