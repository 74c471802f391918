#!/bin/sh
# Command-line tests of the data lifecycle (SPEC §5): purge by class and step
# range at each telemetry level, verify after 1, 2 and 3 purges, the purged
# bytes gone from the file and its WAL, a reader holding the WAL, purge
# --policy-from with each retention key, exports of each class, the
# refusals, reproduce of a purged lake, crypto-shredding with keys destroy,
# and a kill -9 loop during purges.
# usage: tests/lifecycle.sh MARLSIM [CRASH_ITERATIONS]   (last line: "lifecycle: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CRASHES=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
T=$(mktemp -d /tmp/marlsim-life-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
# Keys live here: never the user's keyring (HOME points into $T as well).
mkdir -m 700 "$T/home" "$T/keys"
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/keyring"
"$M" keys init >/dev/null || { echo "lifecycle: could not create a test keyring"; echo "lifecycle: 0 passed, 1 failed"; exit 1; }
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
# Raw bytes of a file (and its -wal): 1 when the string occurs, else 0.
has() { if grep -aqF -e "$2" "$1" || { [ -e "$1-wal" ] && grep -aqF -e "$2" "$1-wal"; }; then echo 1; else echo 0; fi; }
cplake() { rm -f "$2" "$2-wal" "$2-shm" "$2.checkpoint"; cp "$1" "$2"; [ -e "$1.checkpoint" ] && cp "$1.checkpoint" "$2.checkpoint"; true; }
tamper() {
    db=$1 sql=$2
    trig=$(sqlite3 "$db" "select group_concat(sql, ';' || char(10)) || ';' from sqlite_schema where type = 'trigger'")
    drops=$(sqlite3 "$db" "select group_concat('drop trigger ' || name, ';') || ';' from sqlite_schema where type = 'trigger'")
    sqlite3 "$db" "$drops $sql; $trig"
}
# 512 simulation steps of 16 mailboxes
SMALL="--set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --set sim.poison_rate=0.05 --quiet"
BEH="environment_states agent_observations joint_actions di_credit_assignment behaviour_aggregates"
stepcol() { [ "$1" = behaviour_aggregates ] && echo window_start || echo step; }

expect_exit "run full" 0 "$M" run "$CFG" $SMALL --out full.db
expect_exit "run sampled" 0 "$M" run "$CFG" $SMALL --set telemetry.level=sampled --set telemetry.sample_every=4 --out sampled.db
expect_exit "run aggregate" 0 "$M" run "$CFG" $SMALL --set telemetry.level=aggregate --set telemetry.sample_every=8 --out aggregate.db
check "the runs recorded security rows" [ "$(q full.db 'select count(*) from anomalies')" -gt 0 ]

# --- purge by class and step range, each level; verify after 1, 2, 3 purges ----
for lv in full sampled aggregate; do
    cplake $lv.db p-$lv.db
    before=0 after0=0
    for t in $BEH; do
        c=$(stepcol $t)
        before=$((before + $(q $lv.db "select count(*) from $t where $c < 256")))
        after0=$((after0 + $(q $lv.db "select count(*) from $t where $c >= 256")))
    done
    entries=$(q $lv.db "select count(*) from ledger where tbl in ('environment_states','agent_observations','joint_actions','di_credit_assignment','behaviour_aggregates') and step < 256")
    expect_exit "$lv: purge --class behavioural --before-step 256" 0 "$M" purge p-$lv.db --class behavioural --before-step 256
    check "$lv: it says what it removed and that the bytes are scrubbed" sh -c "grep -q '^purged p-$lv.db: $entries ledger entries, $before rows' '$T/out' && grep -q 'purge 1: class behavioural, steps before 256' '$T/out' && grep -q '^scrubbed: ' '$T/out'"
    left=0 after=0
    for t in $BEH; do
        c=$(stepcol $t)
        left=$((left + $(q p-$lv.db "select count(*) from $t where $c < 256")))
        after=$((after + $(q p-$lv.db "select count(*) from $t where $c >= 256")))
    done
    check "$lv: nothing behavioural before step 256 is left, everything after it is ($before removed)" [ "$left" = 0 -a "$after" = "$after0" -a "$before" -gt 0 ]
    check "$lv: security and operational rows untouched" [ "$(q p-$lv.db 'select (select count(*) from anomalies) || (select count(*) from optimizer_steps)')" = "$(q $lv.db 'select (select count(*) from anomalies) || (select count(*) from optimizer_steps)')" ]
    expect_exit "$lv: verify after 1 purge: OK" 0 "$M" verify p-$lv.db
    check "$lv: verify reports purge 1" sh -c "grep -q '^OK p-$lv.db' '$T/out' && grep -q '^purge 1: class behavioural, steps before 256: removed $before rows of $entries ledger entries' '$T/out' && grep -q 'status completed' '$T/out'"
    expect_exit "$lv: purge --class security --before-step 300" 0 "$M" purge p-$lv.db --class security --before-step 300
    expect_exit "$lv: verify after 2 purges: OK" 0 "$M" verify p-$lv.db
    check "$lv: ... reports purge 2" grep -q '^purge 2: class security, steps before 300' "$T/out"
    check "$lv: no security row before step 300 is left" [ "$(q p-$lv.db 'select count(*) from anomalies where step < 300') $(q p-$lv.db 'select count(*) from poison_truth where step < 300')" = "0 0" -a "$(q p-$lv.db 'select count(*) from anomalies where step >= 300')" = "$(q $lv.db 'select count(*) from anomalies where step >= 300')" ]
    expect_exit "$lv: purge --class operational --before-step 128" 0 "$M" purge p-$lv.db --class operational --before-step 128
    expect_exit "$lv: verify after 3 purges: OK" 0 "$M" verify p-$lv.db --json
    check "$lv: verify --json lists the 3 purges" sh -c "grep -q '\"purges\":\[{\"purge_id\":1,\"class\":\"behavioural\",\"before_step\":256' '$T/out' && grep -q '{\"purge_id\":3,\"class\":\"operational\",\"before_step\":128' '$T/out' && grep -q '\"verdict\":\"OK\"' '$T/out'"
    check "$lv: the newest checkpoint file states the status and covers the purges" sh -c "grep -q '^status: completed\$' p-$lv.db.checkpoint && [ \"\$(sed -n 2p p-$lv.db.checkpoint)\" = \"\$(sqlite3 p-$lv.db 'select count(*) from ledger')\" ]"
    check "$lv: tombstones and purges are never purged" [ "$(q p-$lv.db 'select count(*) from purges') $(q p-$lv.db 'select count(*) = (select sum(entries) from purges) from tombstones')" = "3 1" ]
done
check "full: the lake shrank after purging half its behavioural data" [ "$(stat -c %s p-full.db)" -lt $(( $(stat -c %s full.db) * 3 / 4 )) ]
expect_exit "purge --json" 0 "$M" purge p-full.db --class behavioural --before-step 400 --json
check "... an object naming the purge, tables, size and the scrub" sh -c "grep -q '\"purges\":\[{\"purge_id\":4,\"class\":\"behavioural\"' '$T/out' && grep -q '\"environment_states\":{\"entries\":144' '$T/out' && grep -q '\"scrubbed\":true' '$T/out'"

# --- the purged bytes leave the file and its WAL ----------------------------------
cplake full.db g.db
# Pseudonyms (22 base64url symbols after a field name) as raw text of every
# broadcast, valid or not (a poisoned broadcast may be truncated JSON): those
# only in rows before step 256 (purged), those only in rows from step 256 on
# (kept).
pseudonyms() { q g.db "select broadcast from environment_states where step $1 256" | grep -oE '"(from|to|subject|attachment|link)":"[A-Za-z0-9_-]{22}"' | sed 's/.*:"//; s/"$//' | sort -u; }
pseudonyms "<" > early.txt
pseudonyms ">=" > late.txt
comm -23 early.txt late.txt > gone.txt
comm -13 early.txt late.txt > kept.txt
P=$(head -1 gone.txt)
K=$(head -1 kept.txt)
check "a pseudonym only in rows before step 256 ($P) and one only after ($K) are in the lake" [ ${#P} = 22 -a ${#K} = 22 -a "$(has g.db "$P")$(has g.db "$K")" = 11 ]
expect_exit "purge behavioural before step 256" 0 "$M" purge g.db --class behavioural --before-step 256
check "grep: the purged pseudonym is gone from the file and its WAL, the kept one is there" [ "$(has g.db "$P")$(has g.db "$K")" = 01 ]
check "grep: every pseudonym that occurred only in purged rows ($(wc -l < gone.txt)) is gone" sh -c "
  [ \$(wc -l < gone.txt) -gt 100 ] || exit 1
  ! grep -aqF -f gone.txt g.db && { [ ! -e g.db-wal ] || ! grep -aqF -f gone.txt g.db-wal; }"

# A reader holds the WAL: not yet scrubbed (exit 1); the next purge finishes it.
cplake full.db w.db
(printf 'BEGIN;\nSELECT count(*) FROM ledger;\n'; sleep 3; printf 'COMMIT;\n') | sqlite3 -readonly w.db >/dev/null &
rpid=$!
sleep 0.5
expect_exit "purge while a reader holds the WAL: exit 1" 1 "$M" purge w.db --class behavioural --before-step 256
check "... says NOT YET SCRUBBED" grep -q '^NOT YET SCRUBBED' "$T/out"
wait $rpid
check "... and the purged bytes are indeed still there" [ "$(has w.db "$P")" = 1 ]
expect_exit "... the purge is committed: verify OK" 0 "$M" verify w.db
expect_exit "the next purge (nothing new to remove) finishes the job" 0 "$M" purge w.db --class behavioural --before-step 256
check "... nothing to purge, scrubbed" sh -c "grep -q '^nothing to purge' '$T/out' && grep -q '^scrubbed: ' '$T/out'"
check "... the purged bytes are gone, the WAL empty" [ "$(has w.db "$P")$(has w.db "$K")" = 01 -a ! -s w.db-wal ]

# --- purge --policy-from with each retention key -------------------------------------
policy() { printf '[telemetry]\n%s\n' "$1" > "$2"; }
policy "retention_behavioural = 100" pb.ini
policy "retention_security = 0" ps.ini
policy "retention_operational = 64" po.ini
policy "retention_behavioural = keep" pk.ini
policy "retention_behavioural = 0" pb0.ini
cplake full.db r1.db; cplake full.db r2.db; cplake full.db r3.db; cplake full.db r4.db; cplake full.db r5.db
expect_exit "--policy-from retention_behavioural = 100" 0 "$M" purge r1.db --policy-from pb.ini
check "... keeps the run's last 100 steps (512 - 100 = 412)" sh -c "[ \"\$(sqlite3 r1.db 'select class, before_step from purges')\" = 'behavioural|412' ] && [ \"\$(sqlite3 r1.db 'select min(step) from environment_states')\" = 412 ] && sqlite3 r1.db 'select policy from purges' | grep -q 'retention_behavioural = 100 (--policy-from pb.ini; the run took 512 steps)'"
expect_exit "--policy-from retention_security = 0" 0 "$M" purge r2.db --policy-from ps.ini
check "... removes every security payload and nothing else" [ "$(q r2.db 'select (select count(*) from anomalies) + (select count(*) from hmac_keys) + (select count(*) from poison_truth)') $(q r2.db 'select count(*) from environment_states')" = "0 8192" ]
expect_exit "--policy-from retention_operational = 64" 0 "$M" purge r3.db --policy-from po.ini
check "... removes operational payloads before step 448 only" [ "$(q r3.db 'select class, before_step from purges')" = "operational|448" -a "$(q r3.db 'select count(*) from optimizer_steps where update_id <= 13')" = 0 -a "$(q r3.db 'select min(update_id) from optimizer_steps')" = 14 ]
expect_exit "--policy-from with every retention key keep: nothing to do" 0 "$M" purge r4.db --policy-from pk.ini
check "... says so and appends nothing" sh -c "grep -q 'nothing to purge' '$T/out' && [ \"\$(sqlite3 r4.db 'select count(*) from purges')\" = 0 ]"
expect_exit "--policy-from retention_behavioural = 0" 0 "$M" purge r5.db --policy-from pb0.ini
check "... removes every behavioural payload and its salts, and no other salt" [ "$(q r5.db "select (select count(*) from environment_states) + (select count(*) from di_credit_assignment) + (select count(*) from salts join ledger using (seq) where tbl in ($(echo $BEH | sed "s/[a-z_]*/'&'/g; s/ /, /g")))") $(q r5.db 'select count(*) from salts')" = "0 $(q full.db "select count(*) from salts join ledger using (seq) where tbl not in ($(echo $BEH | sed "s/[a-z_]*/'&'/g; s/ /, /g"))")" ]
printf '[telemetry]\nretention_behavioural = 100\nretention_security = 0\nretention_operational = 64\n' > pall.ini
cplake full.db r6.db
expect_exit "--policy-from with all three retention keys" 0 "$M" purge r6.db --policy-from pall.ini
check "... three purges (one per class) in one transaction: two chained entries" [ "$(q r6.db "select group_concat(class || ':' || before_step) from purges")" = "operational:448,security:513,behavioural:412" -a "$(q r6.db 'select count(*) from ledger') " = "$(($(q full.db 'select count(*) from ledger') + 2)) " ]
for f in r1 r2 r3 r5 r6; do expect_exit "verify $f.db" 0 "$M" verify $f.db; done
policy "retention_behavioural = soon" bad.ini
expect_exit "--policy-from with a bad retention value: exit 2" 2 "$M" purge r4.db --policy-from bad.ini
check "... naming the file, line, key and what is allowed" grep -q 'bad.ini:2: \[telemetry\] retention_behavioural: .*allowed: keep, or the steps to keep' "$T/out"

# --- refusals -----------------------------------------------------------------------------
cplake full.db t.db
tamper t.db "update joint_actions set reward = reward + 1 where rowid = 700"
sum=$(cksum < t.db)
expect_exit "purge of a tampered lake: exit 1" 1 "$M" purge t.db --class behavioural --before-step 10
check "... TAMPERED, nothing purged, the file unchanged" sh -c "grep -q '^TAMPERED t.db' '$T/out' && grep -q 'nothing was purged' '$T/out' && [ \"\$(cksum < t.db)\" = '$sum' ]"
expect_exit "export of a tampered lake: exit 1" 1 "$M" export t.db --class security --out tx.db
check "... TAMPERED, nothing written" sh -c "grep -q '^TAMPERED t.db' '$T/out' && [ ! -e tx.db ] && ! ls tx.db.* >/dev/null 2>&1"
"$M" keys init --keyring "$T/keys/other" --name other >/dev/null
expect_exit "purge with another keyring: exit 1 (FOREIGN)" 1 "$M" purge full.db --class behavioural --before-step 10 --keyring "$T/keys/other"
check "... says FOREIGN" grep -q '^FOREIGN full.db' "$T/out"
expect_exit "--before-step -1: exit 2" 2 "$M" purge full.db --class behavioural --before-step -1
expect_exit "an unknown class: exit 2" 2 "$M" purge full.db --class personal --before-step 10
expect_exit "--policy-from and --class together: exit 2" 2 "$M" purge full.db --policy-from pb.ini --class behavioural --before-step 1
expect_exit "--class without --before-step: exit 2" 2 "$M" purge full.db --class behavioural
"$M" run "$CFG" --set run.env_steps=4000000 --quiet --out live.db >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -9 $pid; wait $pid 2>/dev/null
expect_exit "purge of a running (killed) lake: exit 2" 2 "$M" purge live.db --class behavioural --before-step 10
check "... says why" grep -q 'still running, or was killed' "$T/out"

# An interrupted lake's env_steps is not chained (it grows while the run
# goes); verify ties it to the last update, through that update's chained
# step label once a purge removed its row. An attacker who forged it could
# otherwise make the owner's next `purge --policy-from` (retention measured
# back from the run's length) remove what the policy keeps.
"$M" run "$CFG" --set run.env_steps=4000000 --set sim.envs=16 --quiet --out int.db >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do # until it has made a few updates (ASan builds are slower)
    [ -e int.db ] && [ "$(sqlite3 -readonly int.db 'select count(distinct update_id) from optimizer_steps' 2>/dev/null)" -ge 3 ] 2>/dev/null && break
    sleep 0.1
done
kill -INT $pid; wait $pid 2>/dev/null
printf '[telemetry]\nretention_behavioural = 64\nretention_operational = 0\n' > pint.ini
expect_exit "an interrupted lake: purge --policy-from (every operational payload, the last update's too)" 0 "$M" purge int.db --policy-from pint.ini
check "... the last update's rows are gone" [ "$(q int.db 'select count(*) from optimizer_steps')" = 0 ]
expect_exit "... it verifies (--allow-incomplete)" 0 "$M" verify int.db --allow-incomplete
cplake int.db intf.db
tamper intf.db "update runs set env_steps = 160000000"
expect_exit "its unchained env_steps forged: verify exit 1" 1 "$M" verify intf.db --allow-incomplete
check "... TAMPERED, naming the last update's step and the mailboxes" sh -c "grep -q '^TAMPERED intf.db' '$T/out' && grep -q 'env_steps says 160000000, but the last update (its rows purged) was at step [0-9]* of 16 mailboxes' '$T/out'"
sum=$(cksum < intf.db)
expect_exit "... and the owner's purge --policy-from refuses it: exit 1" 1 "$M" purge intf.db --policy-from pint.ini
check "... nothing purged, the file unchanged" sh -c "grep -q 'nothing was purged' '$T/out' && [ \"\$(cksum < intf.db)\" = '$sum' ]"

# --- export per class ------------------------------------------------------------------------
cplake full.db x.db
"$M" purge x.db --class behavioural --before-step 100 >/dev/null
BP=$K                                                                   # behavioural (a kept row)
SP=$(q x.db "select fingerprint from hmac_keys limit 1")               # security
OP=$(q x.db "select params_sha256_after from optimizer_steps limit 1") # operational
check "the samples of each class are in the source" [ "$(has x.db "$BP")$(has x.db "$SP")$(has x.db "$OP")" = 111 ]
keys_b64=$(awk '$1 == "signing" { print $4 } $1 == "commit" { print $3 } $1 == "hmac" && $5 != "destroyed" { print $5 }' "$T/keys/keyring")
for c in behavioural security operational; do
    expect_exit "export --class $c" 0 "$M" export x.db --class $c --out x-$c.db
    expect_exit "verify the $c export on its own: OK" 0 "$M" verify x-$c.db
    check "... the verdict says EXPORT (class $c) and lists the source's purge" sh -c "grep -q '^OK EXPORT (class $c) x-$c.db' '$T/out' && grep -q '^purge 1: class behavioural' '$T/out'"
    expect_exit "verify the $c export against the original's checkpoint: OK" 0 "$M" verify x-$c.db --checkpoint x.db.checkpoint
    case $c in
        behavioural) want=100 ;; security) want=010 ;; operational) want=001 ;;
    esac
    got=$(has x-$c.db "$BP")$(has x-$c.db "$SP")$(has x-$c.db "$OP")
    check "the $c export holds its class's payload and no other's (behavioural, security, operational: $got)" [ "$got" = $want ]
    found=0
    for k in $keys_b64; do grep -qF "$k" x-$c.db && found=1; hexk=$(printf %s "$k" | base64 -d | od -An -tx1 -v | tr -d ' \n'); od -An -tx1 -v x-$c.db | tr -d ' \n' | grep -qF "$hexk" && found=1; done
    check "the $c export carries no key material" [ "$found" = 0 -a -n "$keys_b64" ]
done
expect_exit "export --json" 0 "$M" export full.db --class security --out xj.db --json
check "... an object with the class and the removed entries" sh -c "grep -q '\"class\":\"security\"' '$T/out' && grep -q '\"removed_entries\":' '$T/out' && grep -q '\"verdict\":\"OK\"' '$T/out'"
expect_exit "export onto an existing lake: exit 2" 2 "$M" export full.db --class security --out xj.db
expect_exit "export --force replaces it" 0 "$M" export full.db --class operational --out xj.db --force
expect_exit "export of an export: exit 2" 2 "$M" export xj.db --class security --out xk.db
expect_exit "purge of an export: exit 2" 2 "$M" purge xj.db --class security --before-step 10

# --- reproduce a purged lake -----------------------------------------------------------------
expect_exit "reproduce of a purged lake: exit 0" 0 "$M" reproduce p-full.db
check "... identical, saying what it compared only through commitments" sh -c "grep -q '^identical' '$T/out' && grep -Eq '^purged: [0-9]+ of the [0-9]+ ledger entries of p-full.db had their rows purged and were compared through their commitments only' '$T/out' && grep -q '8 purge entries are not part of the run' '$T/out'"
cplake p-full.db pt.db
tamper pt.db "update joint_actions set a_bin = 1 - a_bin where rowid = (select max(rowid) from joint_actions)"
expect_exit "reproduce of a tampered purged lake: exit 1" 1 "$M" reproduce pt.db --out ptr.db
check "... finds the edited row" grep -q '^DIVERGENT at ledger entry [0-9]*: table joint_actions' "$T/out"

# --- a development-key lake ---------------------------------------------------------------------
expect_exit "run with the development key" 0 "$M" run "$CFG" $SMALL --keyring dev --out dev.db
expect_exit "purge it (with the key derived from its seed, nothing signed)" 0 "$M" purge dev.db --class behavioural --before-step 256
check "... says so" sh -c "grep -q 'development key' '$T/out' && grep -q 'not signed' '$T/out'"
expect_exit "verify --keyring dev: the chain checks" 0 "$M" verify dev.db --keyring dev
check "... UNAUTHENTICATED, with the purge" sh -c "grep -q '^UNAUTHENTICATED dev.db' '$T/out' && grep -q '^purge 1: class behavioural' '$T/out'"

# --- crypto-shredding: keys destroy --------------------------------------------------------------
expect_exit "keys destroy 0 (the generation every lake here used)" 0 "$M" keys destroy 0
check "... says what it means" grep -q 'can no longer be linked or re-derived' "$T/out"
expect_exit "the purged lake still verifies" 0 "$M" verify p-full.db
expect_exit "an export of it still verifies" 0 "$M" verify x-behavioural.db
expect_exit "reproducing it is refused: exit 2" 2 "$M" reproduce p-full.db
check "... saying what destroying a generation means" sh -c "grep -q 'can no longer be reproduced (crypto-shredding)' '$T/out' && grep -q 'nobody can re-derive or link them' '$T/out'"
expect_exit "purging a lake of a destroyed generation still works (purge needs the signing key only)" 0 "$M" purge x.db --class security --before-step 1000

# --- kill -9 during a purge, at random moments -------------------------------------------------
cplake full.db ref.db
head0=$(q ref.db "select head_hash from runs")
t0=$(date +%s%N)
"$M" purge ref.db --class behavioural --before-step 300 >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))   # how long a purge takes here: the kills land in 0 .. 1.3 x that
head1=$(q ref.db "select head_hash from runs")
i=0 good=0 before=0 after=0
while [ $i -lt "$CRASHES" ]; do
    i=$((i + 1))
    cplake full.db k.db
    "$M" purge k.db --class behavioural --before-step 300 >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v s="$i$$" -v ms="$ms" 'BEGIN { srand(s); printf "%.3f", rand() * ms * 1.3 / 1000 }')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    "$M" verify k.db >"$T/kout" 2>&1; rc=$?
    h=$(q k.db "select head_hash from runs")
    if [ $rc = 0 ] && grep -q '^OK' "$T/kout" && { [ "$h" = "$head0" ] || [ "$h" = "$head1" ]; }; then
        good=$((good + 1))
        if [ "$h" = "$head0" ]; then before=$((before + 1)); else after=$((after + 1)); fi
    else
        echo "  kill -9 at iteration $i: verify exit $rc, head $h"; head -3 "$T/kout"
    fi
done
check "kill -9 during purge x $CRASHES (a purge takes $ms ms here): every lake verifies and is the old one ($before) or the purged one ($after)" [ "$good" = "$CRASHES" ]
expect_exit "the last killed lake: purge again finishes (or makes) the purge" 0 "$M" purge k.db --class behavioural --before-step 300
check "... and it is the purged lake, scrubbed, with the newest checkpoint beside it" sh -c "[ \"\$(sqlite3 k.db 'select head_hash from runs')\" = '$head1' ] && grep -q '^scrubbed' '$T/out' && cmp -s k.db.checkpoint ref.db.checkpoint"

echo "lifecycle: $pass passed, $fail failed"
[ "$fail" = 0 ]
