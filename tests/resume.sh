#!/bin/bash
# run --resume: an interrupted, failed or killed run continued to the
# ledger (head hash) of a run that was never stopped; refusals; a kill -9
# loop of kill, resume, kill again, ... (20 kills here, more with the second
# argument: make soak).
# usage: tests/resume.sh MARLSIM [KILLS]   (last line "resume: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
KILLS=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
TOOLS=$(cd "${MARLSIM_TOOLS:-build}" && pwd)
T=$(mktemp -d /tmp/marlsim-resume-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
mkdir -m 700 home keys
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/a"
"$M" keys init >/dev/null 2>&1 || { echo "resume: 0 passed, 1 failed"; exit 1; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 600 "$T/out" 2>/dev/null)"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>&1; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/out")"; fi
}
q() { sqlite3 "$1" "$2"; }
head_of() { q "$1" "select head_hash from runs"; }
# Runs SQL with the append-only triggers dropped and restored (tests/trust.sh).
tamper() {
    db=$1 sql=$2
    trig=$(sqlite3 "$db" "select group_concat(sql, ';' || char(10)) || ';' from sqlite_schema where type = 'trigger'")
    drops=$(sqlite3 "$db" "select group_concat('drop trigger ' || name, ';') || ';' from sqlite_schema where type = 'trigger'")
    sqlite3 "$db" "$drops $sql; $trig"
}
# Starts a run (or a resume) in the background and interrupts it with
# signal $1 after $2 seconds; the exit status of the run is returned.
stop_after() {
    sig=$1 t=$2; shift 2
    "$@" >"$T/bg" 2>&1 &
    pid=$!
    sleep "$t"
    kill -"$sig" $pid 2>/dev/null
    wait $pid
}
# Starts a run (or a resume) of lake $1 in the background and sends SIGINT
# once the lake has committed more than $2 ledger entries (progress, not
# time: the machine may be loaded); the exit status of the run is returned.
int_past() {
    db=$1 n=$2; shift 2
    "$@" >"$T/bg" 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
        # (sqlite3 would create a missing file: look only at one that exists)
        [ -s "$db" ] && [ "$(sqlite3 -readonly -cmd '.timeout 200' "$db" 'select ledger_rows from runs' 2>/dev/null || echo 0)" -gt "$n" ] 2>/dev/null && break
        sleep 0.01 # a whole small run takes ~0.4 s: poll often enough to stop it midway
    done
    kill -INT $pid 2>/dev/null
    wait $pid
}
SMALL="--set run.env_steps=16384 --set sim.envs=16 --set gate.every=2 --set telemetry.checkpoint_every=256 --quiet"

t0=$(date +%s%N)
expect_exit "the uninterrupted run" 0 "$M" run "$CFG" $SMALL --out full.db
RUN_MS=$(( ($(date +%s%N) - t0) / 1000000 )) # the kill loop below kills within it
H=$(head_of full.db)

# --- SIGINT, resume ---------------------------------------------------------------
int_past i.db 600 "$M" run "$CFG" $SMALL --out i.db; rc=$?
check "SIGINT: exit 130, status interrupted" sh -c "[ $rc = 130 ] && [ \"\$(sqlite3 i.db 'select status from runs')\" = interrupted ]"
entries=$(q i.db "select count(*) from ledger")
expect_exit "run --resume of the interrupted lake: exit 0" 0 "$M" run --resume i.db
check "... it says it replays the lake's entries, then continues" grep -q "replaying its $entries ledger entries" "$T/out"
check "... completed, with the uninterrupted run's head" sh -c "[ \"\$(sqlite3 i.db 'select status from runs')\" = completed ] && [ \"\$(sqlite3 i.db 'select head_hash from runs')\" = '$H' ]"
check "... every ledger entry equal to the uninterrupted run's" [ "$(q i.db "select group_concat(hex(hash)) from ledger")" = "$(q full.db "select group_concat(hex(hash)) from ledger")" ]
check "... the interruption's checkpoint stays in the lake, outside the chain" [ "$(q i.db "select count(*) from checkpoints where status = 'interrupted' and tree_size = $entries")" = 1 ]
expect_exit "... and it verifies, signed, complete" 0 "$M" verify i.db
check "... OK" grep -q '^OK' "$T/out"
expect_exit "... and reproduces identically" 0 "$M" reproduce i.db
expect_exit "resume of a completed lake: exit 2" 2 "$M" run --resume i.db
check "... nothing to resume" grep -q 'nothing to resume' "$T/out"

# --- interrupted twice, and during the replay -----------------------------------
int_past t.db 400 "$M" run "$CFG" $SMALL --out t.db
n1=$(q t.db "select ledger_rows from runs")
int_past t.db $((n1 + 20)) "$M" run --resume t.db; rc=$? # a small margin: the resume may finish between two polls
check "a resume interrupted in turn, after it went on writing: exit 130, interrupted further on" sh -c "[ $rc = 130 ] && [ \"\$(sqlite3 t.db 'select status from runs')\" = interrupted ] && [ \"\$(sqlite3 t.db 'select ledger_rows from runs')\" -gt $n1 ]"
sum=$(cksum < t.db)
rows=$(q t.db "select ledger_rows || status from runs")
# (SIGTERM: a background job of a script ignores SIGINT until marlsim sets its handler)
stop_after TERM 0.05 "$M" run --resume t.db; rc=$?
check "a resume stopped while replaying: exit 143, the lake unchanged" sh -c "[ $rc = 143 ] && [ \"\$(cksum < t.db)\" = '$sum' ] && [ \"\$(sqlite3 -readonly t.db 'select ledger_rows || status from runs')\" = '$rows' ]"
expect_exit "the third resume completes it" 0 "$M" run --resume t.db
check "... with the uninterrupted run's head" [ "$(head_of t.db)" = "$H" ]
check "... two interruptions' checkpoints kept" [ "$(q t.db "select count(*) from checkpoints where status = 'interrupted'")" -ge 1 ]

# --- after an I/O failure (the lake hits a file-size limit) ---------------------
(trap '' XFSZ; ulimit -f 4000; exec "$M" run "$CFG" $SMALL --out f.db) >"$T/out" 2>&1; rc=$?
check "a run that hits a file-size limit fails: exit 2, a lake that says so" sh -c "[ $rc = 2 ] && [ -e f.db ] && [ \"\$(sqlite3 f.db 'select status from runs')\" != completed ]"
expect_exit "run --resume of the failed lake: exit 0" 0 "$M" run --resume f.db
check "... with the uninterrupted run's head" [ "$(head_of f.db)" = "$H" ]

# --- the development key ----------------------------------------------------------
expect_exit "a development-key run" 0 "$M" run "$CFG" $SMALL --keyring dev --out dfull.db
int_past d.db 600 "$M" run "$CFG" $SMALL --keyring dev --out d.db
expect_exit "resume of a development-key lake (its key derived from its seed): exit 0" 0 "$M" run --resume d.db
check "... with the uninterrupted development run's head" [ "$(head_of d.db)" = "$(head_of dfull.db)" ]

# --- refusals ---------------------------------------------------------------------
int_past r.db 600 "$M" run "$CFG" $SMALL --out r.db
cp r.db r1.db && tamper r1.db "update joint_actions set reward = reward + 1 where rowid = 7"
expect_exit "a tampered lake: refused, exit 1" 1 "$M" run --resume r1.db
check "... saying nothing was resumed, the lake untouched" sh -c "grep -q 'nothing was resumed' '$T/out' && [ \"\$(sqlite3 r1.db 'select status from runs')\" = interrupted ]"
cp r.db r2.db && tamper r2.db "update joint_actions set reward = reward + 1 where rowid = 7" && "$TOOLS/lake_attack" rechain r2.db --drop-checkpoints >/dev/null
expect_exit "a re-chained forgery without its checkpoints: refused, exit 1" 1 "$M" run --resume r2.db
"$M" keys init --keyring "$T/keys/b" --name other >/dev/null 2>&1
expect_exit "another keyring: refused, exit 1 (FOREIGN checkpoints)" 1 "$M" run --resume r.db --keyring "$T/keys/b"
cp r.db r3.db && "$M" purge r3.db --class behavioural --before-step 1000000 >/dev/null 2>&1
expect_exit "a purged lake: nothing to resume, exit 2" 2 "$M" run --resume r3.db
"$M" run "$CFG" --set run.env_steps=400000 --set sim.envs=16 --quiet --out live.db >/dev/null 2>&1 &
pid=$!
n=0; while [ ! -e live.db ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
sleep 0.3
expect_exit "a lake whose writer still runs: refused, exit 2" 2 "$M" run --resume live.db
check "... saying another process holds it" grep -q 'held by another marlsim process' "$T/out"
kill -INT $pid; wait $pid
expect_exit "resume --set: refused (the lake's config is the run's), exit 2" 2 "$M" run --resume r.db --set run.seed=3

# --- kill -9, resume, kill again, ... ---------------------------------------------
rm -f k.db*
kills=0 intact=0 checked=0 resumes=0 rounds=0
while [ $kills -lt "$KILLS" ] && [ $rounds -lt $((KILLS * 3)) ]; do
    rounds=$((rounds + 1))
    if [ -e k.db ]; then cmd=("$M" run --resume k.db); resumes=$((resumes + 1)); else cmd=("$M" run "$CFG" $SMALL --out k.db); fi
    "${cmd[@]}" >/dev/null 2>&1 &
    pid=$!
    # A moment within an uninterrupted run's duration (a resume replays the
    # prefix first, so it is killed while replaying or while going on).
    sleep "$(awk -v s="$rounds$$" -v ms="$RUN_MS" 'BEGIN { srand(s); printf "%.3f", (20 + rand() * 0.9 * ms) / 1000 }')"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    [ -e k.db ] || continue
    if [ "$(q k.db "select status from runs")" = completed ]; then
        # Finished before enough kills (the machine got faster than when the
        # run was timed): start over, killing sooner.
        [ $kills -ge 2 ] && [ $resumes -ge 1 ] && break
        rm -f k.db k.db-wal k.db-shm k.db.checkpoint
        RUN_MS=$((RUN_MS / 2 + 1))
        continue
    fi
    checked=$((checked + 1))
    "$M" verify k.db --allow-incomplete >"$T/kout" 2>&1; rc=$?
    if [ $rc = 0 ] && grep -q '^INCOMPLETE' "$T/kout"; then
        intact=$((intact + 1))
    elif [ $rc = 1 ] && grep -q '^UNSIGNED' "$T/kout" && grep -q 'before its first signed checkpoint' "$T/kout"; then
        # Killed before anything was signed: resume refuses it (the key cannot
        # vouch for it) and says to run the config again, as the next round does.
        intact=$((intact + 1))
        "$M" run --resume k.db >"$T/kout" 2>&1; rc=$?
        if [ $rc = 1 ] && grep -q 'run its config again' "$T/kout"; then rm -f k.db k.db-wal k.db-shm k.db.checkpoint; else
            intact=$((intact - 1)); cat "$T/kout"; fi
    else cat "$T/kout"; fi
done
# At least two kills (one of a run, one of a resume) or the loop tested little.
check "kill -9 x $kills (while running and while resuming, $resumes resumes): every lake left verifies as an intact prefix ($intact/$checked)" [ "$intact" = "$checked" -a "$kills" -ge 2 -a "$resumes" -ge 1 ]
if [ ! -e k.db ]; then
    expect_exit "the last run completes it" 0 "$M" run "$CFG" $SMALL --out k.db
elif [ "$(q k.db "select status from runs")" != completed ]; then
    expect_exit "the last resume completes it" 0 "$M" run --resume k.db
else
    # a resume finished before its kill: the lake it completed must verify
    expect_exit "the last resume completed it before the kill: verify exit 0" 0 "$M" verify k.db
fi
check "... with the uninterrupted run's head after $kills kills" [ "$(head_of k.db)" = "$H" ]

echo "resume: $pass passed, $fail failed"
[ "$fail" = 0 ]
