#!/bin/sh
# Runs of several processes (SPEC §11) under Open MPI's mpirun: two -np 2 runs
# give the same shards and manifest, the manifest verifies, a tampered,
# missing or swapped shard (and an edited manifest) is caught, the ranks hold
# identical parameters on disjoint mailboxes, -np 1 is the plain run, a plain
# run never loads MPI, ranks with different OpenBLAS cores refuse to start,
# and reproduce replays a manifest with the same number of processes.
# Without mpirun (openmpi-bin: make installs it as root) there is nothing to
# run: it says so and counts nothing.
# usage: tests/mpi.sh MARLSIM   (last line: "mpi: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
if ! command -v mpirun >/dev/null 2>&1; then
    echo "mpi: no mpirun (install openmpi-bin): nothing tested"
    echo "mpi: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/marlsim-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
mkdir -m 700 "$T/home" "$T/keys"
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/keyring"
"$M" keys init >/dev/null || { echo "mpi: could not create a test keyring"; echo "mpi: 0 passed, 1 failed"; exit 1; }
# The sanitizer build (make asan): Open MPI's own allocations outlive
# MPI_Finalize in components it has unloaded, which LeakSanitizer cannot
# attribute (no suppression by library can match them), so leak detection
# is off in the processes mpirun starts; everything else here (verify,
# reproduce's checks, the plain runs) keeps it.
NOLEAK="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# As root mpirun needs --allow-run-as-root; 2 ranks on a 2-core machine
# shared with other jobs need --oversubscribe.
MR="env $NOLEAK mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && MR="$MR --allow-run-as-root"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>&1; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 800 "$T/out")"; fi
}
q() { sqlite3 "$1" "$2"; }
# A copy of a lake with its wall-clock columns blanked (outside the chain).
noclock() { python3 -c "import re,sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(re.sub(rb'20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z', b'T'*20, b))" "$1" "$2"; }
same_file() { noclock "$1" "$T/x1" && noclock "$2" "$T/x2" && cmp -s "$T/x1" "$T/x2"; }

SMALL="--set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --quiet"

# --- two runs of 2 processes ------------------------------------------------
expect_exit "mpirun -np 2 run: exit 0" 0 $MR -np 2 "$M" run "$CFG" $SMALL --out a.db
check "... shards and manifest written" sh -c "[ -f a.rank-0-of-2.db ] && [ -f a.rank-1-of-2.db ] && [ -f a.manifest ] && [ ! -e a.db ]"
check "... only rank 0 prints the summary, naming the manifest" sh -c "[ \$(grep -c '^run_id:' '$T/out') = 1 ] && grep -q '^manifest: .*a.manifest' '$T/out'"
expect_exit "a second -np 2 run: exit 0" 0 $MR -np 2 "$M" run "$CFG" $SMALL --out b.db
check "the two manifests are byte-identical" cmp -s a.manifest b.manifest
check "shard 0 of both runs: the same file (wall-clock columns aside)" same_file a.rank-0-of-2.db b.rank-0-of-2.db
check "shard 1 of both runs: the same file (wall-clock columns aside)" same_file a.rank-1-of-2.db b.rank-1-of-2.db
check "the shards' heads differ (each holds its own mailboxes)" [ "$(q a.rank-0-of-2.db 'select head_hash from runs')" != "$(q a.rank-1-of-2.db 'select head_hash from runs')" ]
check "disjoint mailboxes: rank 0 steps 0..7, rank 1 8..15" sh -c "[ \"\$(sqlite3 a.rank-0-of-2.db 'select min(env)||\",\"||max(env) from environment_states')\" = 0,7 ] && [ \"\$(sqlite3 a.rank-1-of-2.db 'select min(env)||\",\"||max(env) from environment_states')\" = 8,15 ]"
P="select group_concat(params_sha256_after) from (select params_sha256_after from optimizer_steps order by update_id, agent)"
check "identical parameters on both ranks after every update" sh -c "[ -n \"\$(sqlite3 a.rank-0-of-2.db '$P')\" ] && [ \"\$(sqlite3 a.rank-0-of-2.db '$P')\" = \"\$(sqlite3 a.rank-1-of-2.db '$P')\" ]"
E="select group_concat(candidate_score||decision) from evaluations"
check "the same gate evaluations on both ranks" [ "$(q a.rank-0-of-2.db "$E")" = "$(q a.rank-1-of-2.db "$E")" ]
check "the build facts say 2 ranks" sh -c "sqlite3 a.rank-1-of-2.db 'select build_facts from runs' | grep -q '\"ranks\":2'"

# --- verify ---------------------------------------------------------------------
expect_exit "verify the manifest (trusted key: the keyring's): exit 0" 0 "$M" verify a.manifest
check "... OK, 2 shards" grep -q '^OK a.manifest: .* 2 shards' "$T/out"
expect_exit "verify --json of the manifest" 0 "$M" verify a.manifest --json
check "... verdict OK, authenticated" sh -c "grep -q '\"verdict\":\"OK\"' '$T/out' && grep -q '\"authenticated\":true' '$T/out'"
expect_exit "each shard verifies on its own" 0 "$M" verify a.rank-1-of-2.db
mkdir other && (cd other && MARLSIM_KEYRING="$T/keys/other" "$M" keys init >/dev/null 2>&1)
expect_exit "verify with another key: exit 1" 1 "$M" verify a.manifest --keyring "$T/keys/other"
check "... FOREIGN" grep -q '^FOREIGN' "$T/out"

cp a.manifest t.manifest; cp a.rank-0-of-2.db t.rank-0-of-2.db; cp a.rank-1-of-2.db t.rank-1-of-2.db
trig=$(q t.rank-1-of-2.db "select sql from sqlite_schema where name='joint_actions_no_update'")
q t.rank-1-of-2.db "drop trigger joint_actions_no_update; update joint_actions set a_bin = 1 - a_bin where rowid = 40; $trig;"
expect_exit "a tampered shard: exit 1" 1 "$M" verify t.manifest
check "... TAMPERED, naming shard 1" sh -c "grep -q '^TAMPERED t.manifest' '$T/out' && grep -q '^shard 1' '$T/out'"
rm t.rank-1-of-2.db
expect_exit "a missing shard: exit 1" 1 "$M" verify t.manifest
check "... MISSING, naming shard 1" sh -c "grep -q '^MISSING t.manifest' '$T/out' && grep -q 'shard 1 .* is missing' '$T/out'"
cp a.rank-0-of-2.db t.rank-1-of-2.db
expect_exit "shard 0 in shard 1's place: exit 1" 1 "$M" verify t.manifest
check "... SWAPPED" grep -q '^SWAPPED t.manifest' "$T/out"
cp a.rank-1-of-2.db t.rank-1-of-2.db
cp b.rank-0-of-2.db t.rank-0-of-2.db
expect_exit "a shard replaced by the same rank's shard of an identical run: still exit 0" 0 "$M" verify t.manifest
sed 's/^shard 1 \([0-9]*\)/shard 1 1\1/' a.manifest > t.manifest
expect_exit "an edited manifest (a shard's size): exit 1" 1 "$M" verify t.manifest
check "... TAMPERED or FOREIGN (its signature no longer holds)" grep -Eq '^(TAMPERED|FOREIGN) t.manifest' "$T/out"
expect_exit "... and without a key, its root no longer matches its lines: exit 1" 1 "$M" verify t.manifest --pubkey "$("$M" keys pubkey --keyring "$T/keys/other")"
printf 'not a manifest\n' > junk.manifest
expect_exit "verify a file that is not a manifest: exit 2" 2 "$M" verify junk.manifest --keyring "$T/keys/other"
expect_exit "verify a missing manifest: exit 2" 2 "$M" verify missing.manifest

# --- development key: an unsigned manifest ------------------------------------------
expect_exit "mpirun -np 2 with the development key: exit 0" 0 $MR -np 2 "$M" run "$CFG" $SMALL --keyring dev --out d.db
expect_exit "... its manifest verifies without a key: exit 0" 0 env MARLSIM_KEYRING= HOME="$T/nohome" "$M" verify d.manifest
check "... UNAUTHENTICATED" grep -q '^UNAUTHENTICATED d.manifest' "$T/out"
expect_exit "... with a trusted key it fails: exit 1" 1 "$M" verify d.manifest
check "... UNSIGNED" grep -q '^UNSIGNED d.manifest' "$T/out"

# --- one process -------------------------------------------------------------------
expect_exit "mpirun -np 1 run: exit 0" 0 $MR -np 1 "$M" run "$CFG" $SMALL --out one.db
expect_exit "the plain run: exit 0" 0 "$M" run "$CFG" $SMALL --out plain.db
check "-np 1 writes the plain lake, no shard, no manifest" sh -c "[ -f one.db ] && [ ! -e one.manifest ] && [ ! -e one.rank-0-of-1.db ]"
check "-np 1 equals the plain binary's lake (wall-clock columns aside)" same_file one.db plain.db
check "... and the same head" [ "$(q one.db 'select head_hash from runs')" = "$(q plain.db 'select head_hash from runs')" ]
LD_DEBUG=files "$M" run "$CFG" $SMALL --out plain2.db >/dev/null 2>"$T/ld"
check "a plain run never loads Open MPI (LD_DEBUG=files)" sh -c "grep -q 'libopenblas' '$T/ld' && ! grep -q 'libmpi' '$T/ld'"

# --- refusals ---------------------------------------------------------------------
expect_exit "ranks with different OpenBLAS cores: exit 2" 2 $MR -np 1 "$M" run "$CFG" $SMALL --set train.blas_core=Prescott --out core.db : -np 1 "$M" run "$CFG" $SMALL --set train.blas_core=Core2 --out core.db
check "... the message names both cores" sh -c "grep -q 'rank 1 runs OpenBLAS core Core2, rank 0 runs Prescott' '$T/out'"
check "... nothing written" sh -c "! ls core* >/dev/null 2>&1"
expect_exit "more ranks than mailboxes: exit 2" 2 $MR -np 2 "$M" run "$CFG" $SMALL --set sim.envs=1 --out few.db
check "... nothing written" sh -c "! ls few* >/dev/null 2>&1"
expect_exit "an existing shard without --force: exit 2" 2 $MR -np 2 "$M" run "$CFG" $SMALL --out a.db
check "... the old shards are intact" sh -c "'$M' verify a.manifest >/dev/null"
expect_exit "resuming a shard is refused: exit 2" 2 "$M" run --resume a.rank-0-of-2.db
# A run of another N must not replace a manifest, which binds its shards.
expect_exit "an existing manifest (another N's shards) without --force: exit 2" 2 $MR -np 3 "$M" run "$CFG" $SMALL --out a.db
check "... says so; the manifest and its shards are intact, no new shard" sh -c "grep -q 'a.manifest already exists' '$T/out' && '$M' verify a.manifest >/dev/null && ! ls a.rank-*-of-3.db >/dev/null 2>&1"
# A shard given alone says what it is.
expect_exit "verify of one shard: exit 0" 0 "$M" verify a.rank-1-of-2.db
check "... it says it is a shard of a run of 2 processes, whose manifest is the run" grep -q '^SHARD: one process.s part of a run of 2 processes' "$T/out"
expect_exit "verify --json of one shard" 0 "$M" verify a.rank-1-of-2.db --json
check "... shard_of_ranks 2" grep -q '"shard_of_ranks":2' "$T/out"
expect_exit "reproduce of one shard alone: exit 2" 2 "$M" reproduce a.rank-0-of-2.db
check "... it points to the manifest" grep -q 'is one process.s shard of a run of 2 processes: the run is reproduced from its manifest' "$T/out"
# Hostile files: a FIFO named like a manifest does not hang verify.
mkfifo f.manifest
expect_exit "verify of a FIFO named .manifest: exit 2 (no hang)" 2 timeout 20 "$M" verify f.manifest
check "... not a regular file" grep -q 'f.manifest: not a regular file' "$T/out"

# --- interruption: SIGINT to the ranks (Ctrl-C on mpirun makes Open MPI kill them) ---
$MR -np 2 "$M" run "$CFG" --set run.env_steps=262144 --set sim.envs=16 --quiet --out int.db >"$T/int.out" 2>&1 &
mp=$!
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -f int.rank-1-of-2.db ] && break; sleep 1; done
sleep 3
for pid in $(pgrep -P "$mp"); do kill -INT "$pid"; done
wait "$mp"; got=$?
check "SIGINT to both ranks: exit 130" [ "$got" = 130 ]
check "... the manifest says interrupted" grep -q '^status interrupted$' int.manifest
expect_exit "... verify --allow-incomplete accepts it: exit 0" 0 "$M" verify int.manifest --allow-incomplete
check "... INCOMPLETE" grep -q '^INCOMPLETE int.manifest' "$T/out"
expect_exit "... without --allow-incomplete: exit 1" 1 "$M" verify int.manifest

# --- reproduce ---------------------------------------------------------------------
expect_exit "reproduce a manifest without mpirun: exit 2" 2 "$M" reproduce a.manifest
check "... it says the mpirun command" grep -q 'mpirun -np 2 .* reproduce a.manifest' "$T/out"
# The environment's say-so is not enough: variables set by hand start a
# world of one process, which must not reproduce (and call DIVERGENT) rank 1.
expect_exit "reproduce under hand-set mpirun variables: exit 2" 2 env $NOLEAK OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 "$M" reproduce a.manifest
check "... MPI's own world is named; nothing reproduced" sh -c "grep -q 'MPI says this is process 0 of 1' '$T/out' && ! ls a.reproduce.rank-1-of-2.db >/dev/null 2>&1"
expect_exit "mpirun -np 2 reproduce the manifest: exit 0" 0 $MR -np 2 "$M" reproduce a.manifest
check "... both shards identical" [ "$(grep -c '^identical: ' "$T/out")" = 2 ]
check "... its manifest verifies" sh -c "'$M' verify a.reproduce.manifest >/dev/null"
expect_exit "mpirun -np 2 reproduce of a tampered shard: exit 1" 1 sh -c "cp a.manifest r.manifest && cp a.rank-0-of-2.db r.rank-0-of-2.db && cp a.rank-1-of-2.db r.rank-1-of-2.db && sqlite3 r.rank-1-of-2.db \"drop trigger joint_actions_no_update; update joint_actions set a_bin = 1 - a_bin where rowid = 40; $trig;\" && $MR -np 2 '$M' reproduce r.manifest"
check "... rank 1 reports the divergent row" grep -q '^DIVERGENT at ledger entry [0-9]*: table joint_actions' "$T/out"

echo "mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
