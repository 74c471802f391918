#!/bin/sh
# Interop: marlsim checkpoints checked by golang.org/x/mod/sumdb/note, the
# reference verifier of C2SP signed notes (built by `make interop`).
# usage: tests/interop.sh MARLSIM NOTECHECK   (last line "interop: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
NC=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/marlsim-interop-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
mkdir -m 700 home keys
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/a"
pass=0 fail=0
check() { n=$1; shift; if "$@" >"$T/out" 2>&1; then pass=$((pass + 1)); echo "PASS $n"; else fail=$((fail + 1)); echo "FAIL $n"; head -c 400 "$T/out"; fi; }
"$M" keys init >/dev/null && "$M" keys init --keyring "$T/keys/b" --name other >/dev/null
"$M" run "$ROOT/configs/default.ini" --set run.env_steps=4096 --set sim.envs=16 --set gate.every=2 --quiet --out a.db >/dev/null 2>&1
PUB=$("$M" keys pubkey) OTHER=$("$M" keys pubkey --keyring "$T/keys/b")
check "the Go note package accepts marlsim's verifier key and final checkpoint" "$NC" "$PUB" a.db.checkpoint
cp "$T/out" accepted.txt
check "... and reads the signed text marlsim wrote" grep -q 'status: completed' accepted.txt
sqlite3 a.db "select writefile('first.cp', note) from checkpoints where cp_id = 1" >/dev/null
check "... and a periodic checkpoint stored in the lake" "$NC" "$PUB" first.cp
check "it refuses the checkpoint under another key" sh -c "! '$NC' '$OTHER' a.db.checkpoint"
sed 's/^status: completed$/status: interrupted/' a.db.checkpoint > altered.cp
check "it refuses an altered checkpoint" sh -c "! '$NC' '$PUB' altered.cp"
echo "interop: $pass passed, $fail failed"
[ "$fail" = 0 ]
