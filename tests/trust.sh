#!/bin/sh
# The trust anchors tried as an attacker would (issue: "a verifier that cannot
# be talked into OK"). The attacker has the lake, the binary, the sqlite3
# shell and the source (tools/lake_attack re-chains from the documented
# layout) — not the keyring. Each attack is a test; so are the keyring's
# refusals and the secrecy of key bytes and raw personal values.
# usage: tests/trust.sh MARLSIM   (needs $MARLSIM_TOOLS/lake_attack; last
# line "trust: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOOLS=$(cd "${MARLSIM_TOOLS:-build}" && pwd)
ATTACK="$TOOLS/lake_attack"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
T=$(mktemp -d /tmp/marlsim-trust-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
mkdir -m 700 home keys
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/a"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 600 "$T/out" 2>/dev/null)"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>&1; got=$?
    # TRUST_TRANSCRIPT=FILE keeps each command and its output (for notes).
    if [ -n "${TRUST_TRANSCRIPT:-}" ]; then printf '$ %s   # %s\n%s\n(exit %s)\n\n' "$*" "$n" "$(cat "$T/out")" "$got" >>"$TRUST_TRANSCRIPT"; fi
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/out")"; fi
}
# As expect_exit, with stdout alone in $T/out (a JSON result; stderr in $T/err).
expect_json() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/err")"; fi
}
q() { sqlite3 "$1" "$2"; }
# Runs SQL on a lake with every append-only trigger dropped and then restored
# with its exact text (so only the data checks can catch the edit).
tamper() {
    db=$1 sql=$2
    trig=$(sqlite3 "$db" "select group_concat(sql, ';' || char(10)) || ';' from sqlite_schema where type = 'trigger'")
    drops=$(sqlite3 "$db" "select group_concat('drop trigger ' || name, ';') || ';' from sqlite_schema where type = 'trigger'")
    sqlite3 "$db" "$drops $sql; $trig"
}
SMALL="--set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --set telemetry.checkpoint_every=256 --quiet"

# --- keyrings -------------------------------------------------------------------
expect_exit "keys init creates keyring a" 0 "$M" keys init
check "the keyring is mode 0600" [ "$(stat -c %a keys/a)" = 600 ]
expect_exit "keys init refuses an existing keyring" 2 "$M" keys init
expect_exit "keys init b (another signer name)" 0 "$M" keys init --keyring "$T/keys/b" --name lab-b
expect_exit "keys pubkey prints a verifier key" 0 "$M" keys pubkey
PUB_A=$(cat "$T/out")
check "the verifier key is NAME+8HEX+BASE64" sh -c "echo '$PUB_A' | grep -Eq '^marlsim\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\$'"
chmod 640 keys/a
expect_exit "a keyring readable by the group is refused" 2 "$M" keys list
check "the refusal says chmod 600" grep -q 'chmod 600' "$T/out"
chmod 600 keys/a
ln -s "$T/keys/a" keys/link
expect_exit "a keyring that is a symlink is refused" 2 "$M" keys list --keyring "$T/keys/link"
cp keys/a keys/other && chmod 600 keys/other && chown 65534 keys/other 2>/dev/null
if [ "$(stat -c %u keys/other)" != "$(id -u)" ]; then
    expect_exit "a keyring owned by another user is refused" 2 "$M" keys list --keyring "$T/keys/other"
fi
expect_exit "keys list" 0 "$M" keys list
check "keys list shows generation 0 as usable" grep -Eq '^0 +k0 +[0-9a-f]{32} ' "$T/out"
expect_exit "cmd: keyring (a command prints it; nothing written)" 0 "$M" keys pubkey --keyring "cmd:cat $T/keys/a"
check "cmd: gives the same signing key" [ "$(cat "$T/out")" = "$PUB_A" ]
expect_exit "keys rotate on a cmd: keyring is refused (read-only)" 2 "$M" keys rotate --keyring "cmd:cat $T/keys/a"

# --- a signed run and the secrecy of its keys -------------------------------------
expect_exit "run with keyring a" 0 "$M" run "$CFG" $SMALL --out a.db
cp a.db.checkpoint a.cp
expect_exit "verify with keyring a: OK" 0 "$M" verify a.db
check "verify says OK, signed" sh -c "grep -q '^OK' '$T/out' && grep -q '^signed: ' '$T/out'"
expect_exit "verify with --pubkey: OK" 0 "$M" verify a.db --pubkey "$PUB_A"
echo "$PUB_A" > a.pub
expect_exit "verify with --pubkey FILE: OK" 0 "$M" verify a.db --pubkey a.pub
expect_exit "verify --checkpoint of the run's own file: OK" 0 "$M" verify a.db --checkpoint a.cp
# Every key byte of the keyring, as raw bytes, hex and base64, must be absent
# from the lake, its WAL (none after a clean close), its checkpoint file.
keys_b64=$(awk '$1 == "signing" { print $4 } $1 == "commit" { print $3 } $1 == "hmac" && $5 != "destroyed" { print $5 }' keys/a)
lakehex=$(cat a.db a.db.checkpoint | od -An -tx1 -v | tr -d ' \n')
found=0
for k in $keys_b64; do
    hexk=$(printf %s "$k" | base64 -d | od -An -tx1 -v | tr -d ' \n')
    if grep -qF "$k" a.db a.db.checkpoint || printf %s "$lakehex" | grep -qF "$hexk" ||
       printf %s "$(cat a.db | od -An -c -v | tr -d ' \n')" | grep -qF "$hexk"; then found=1; fi
    if grep -aqF "$hexk" a.db; then found=1; fi
done
check "no key byte of the keyring (raw, hex, base64) is in the lake or its checkpoint" [ "$found" = 0 -a -n "$keys_b64" ]

# (a) edit a value, re-chain everything with the documented layout --------------
cp a.db ra.db
tamper ra.db "update joint_actions set a_bin = 1 - a_bin where rowid = 77"
"$ATTACK" rechain ra.db >/dev/null
expect_exit "(a) edit + full re-chain: verify with the trusted key exits 1" 1 "$M" verify ra.db
check "(a) the signed checkpoints contradict the re-chained ledger" grep -q 'states a root the ledger does not have' "$T/out"
expect_exit "(a) without a key the checkpoints still contradict the chain: exit 1" 1 "$M" verify ra.db --keyring dev
cp ra.db rb.db
"$ATTACK" rechain rb.db --drop-checkpoints >/dev/null
expect_exit "(a) re-chain and drop the checkpoints: with the trusted key exit 1" 1 "$M" verify rb.db
check "(a) ... because a finished run must carry signed checkpoints" grep -q 'holds no signed checkpoint' "$T/out"
MARLSIM_KEYRING= expect_exit "(a) ... and with no key at all: UNAUTHENTICATED" 0 "$M" verify rb.db
check "(a) the verdict says UNAUTHENTICATED, not OK" sh -c "grep -q '^UNAUTHENTICATED' '$T/out' && ! grep -q '^OK' '$T/out'"
expect_exit "(a) the re-chained lake against the run's checkpoint file: exit 1" 1 "$M" verify rb.db --checkpoint a.cp
check "(a) the kept checkpoint shows the rewrite" grep -q 'rewritten' "$T/out"
check "(a) no message prints a recomputed hash to paste" sh -c "! grep -qi recomputed '$T/out'"

# (b) a genuinely interrupted run of the same config, seed and keyring --------
"$M" run "$CFG" $SMALL --set run.env_steps=2000000 --out b.db >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid; wait $pid
expect_exit "(b) the interrupted run verifies with --allow-incomplete" 0 "$M" verify b.db --allow-incomplete
"$M" run "$CFG" $SMALL --set run.env_steps=2000000 --out bfull.db >/dev/null 2>&1 &
pid=$!
sleep 4
kill -INT $pid; wait $pid
expect_exit "(b) the shorter lake against the longer run's checkpoint: exit 1" 1 "$M" verify b.db --checkpoint bfull.db.checkpoint --allow-incomplete
check "(b) ... says truncated" grep -q '^TAMPERED' "$T/out"
check "(b) ... names truncation" grep -q 'truncated' "$T/out"
check "(b) the two interrupted runs share the run id and the first entries" [ "$(q b.db 'select run_id from runs')" = "$(q bfull.db 'select run_id from runs')" -a "$(q b.db 'select hex(hash) from ledger order by seq desc limit 1')" = "$(q bfull.db "select hex(hash) from ledger where seq = (select max(seq) from ledger where seq <= $(q b.db 'select count(*) from ledger'))")" ]
expect_exit "(b) the longer lake against the shorter one's checkpoint: OK (a prefix)" 0 "$M" verify bfull.db --checkpoint b.db.checkpoint --allow-incomplete

# (c) another seed or config with the same keyring --------------------------------
expect_exit "(c) run another seed with keyring a" 0 "$M" run "$CFG" $SMALL --seed 2 --out c.db
expect_exit "(c) another seed against the first checkpoint: exit 1" 1 "$M" verify c.db --checkpoint a.cp
check "(c) ... names the other origin" grep -q 'the given checkpoint is for marlsim/' "$T/out"
expect_exit "(c) run another config with keyring a" 0 "$M" run "$CFG" $SMALL --set train.lr=0.001 --out c2.db
expect_exit "(c) another config against the first checkpoint: exit 1" 1 "$M" verify c2.db --checkpoint a.cp

# (d) a lake signed by another keyring ----------------------------------------------
expect_exit "(d) run with keyring b" 0 "$M" run "$CFG" $SMALL --keyring "$T/keys/b" --out d.db
expect_exit "(d) verify it with keyring a: exit 1" 1 "$M" verify d.db
check "(d) ... FOREIGN, naming both keys" sh -c "grep -q '^FOREIGN' '$T/out' && grep -q 'lab-b+' '$T/out' && grep -q 'marlsim+' '$T/out'"
expect_exit "(d) verify it with keyring b: OK" 0 "$M" verify d.db --keyring "$T/keys/b"
expect_exit "(d) keyring b's checkpoint against lake a: exit 1" 1 "$M" verify a.db --checkpoint d.db.checkpoint
expect_exit "(d) a development-key lake with a trusted key: exit 1" 0 "$M" run "$CFG" $SMALL --keyring dev --out dev.db
expect_exit "(d) ... verify: UNSIGNED, exit 1" 1 "$M" verify dev.db
check "(d) ... says the development key signs nothing" sh -c "grep -q '^UNSIGNED' '$T/out' && grep -q 'development key' '$T/out'"

# (e) an inserted policy snapshot -----------------------------------------------------
cp a.db e.db
tamper e.db "insert into policy_snapshots select snapshot_id + 1000, eval_id, update_id, agent, sha256, params from policy_snapshots where agent = 'BIN' order by snapshot_id desc limit 1"
expect_exit "(e) eval --policy of a lake with an inserted snapshot: exit 1" 1 "$M" eval --policy e.db
check "(e) ... nothing was evaluated" sh -c "grep -q '^TAMPERED' '$T/out' && ! grep -q mean_reward_per_step '$T/out'"
expect_exit "(e) eval --policy of the intact lake names the snapshot it loaded" 0 "$M" eval --policy a.db
check "(e) ... the chain's last promoted evaluation" grep -q 'evaluating the policy it promoted last: evaluation [0-9]*, update [0-9]*, snapshots GET #' "$T/out"

# (f) the files beside a lake -------------------------------------------------------
before=$(ls -a | sort | tr '\n' ' ')
"$M" verify a.db >/dev/null 2>&1
check "(f) verify of a closed lake creates no file (no -wal, no -shm)" [ "$(ls -a | sort | tr '\n' ' ')" = "$before" ]
"$M" run "$CFG" --set run.env_steps=2000000 --quiet --out live.db >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -9 $pid; wait $pid 2>/dev/null
rm -f live.db-shm
check "(f) a killed writer left a -wal" [ -s live.db-wal ]
sum=$(cat live.db live.db-wal | cksum)
before=$(ls -a | sort | tr '\n' ' ')
"$M" verify live.db --allow-incomplete >"$T/out" 2>&1; rc=$?
check "(f) verify of a lake with a -wal reads it (exit 0 or UNSIGNED), creating no -shm" [ "$(ls -a | sort | tr '\n' ' ')" = "$before" -a "$(cat live.db live.db-wal | cksum)" = "$sum" -a $rc -le 1 ]
check "(f) ... and sees its committed frames" grep -Eq '^(OK|UNSIGNED)' "$T/out"
cp a.db j.db
printf 'a hot journal: not empty\n' > j.db-journal
expect_exit "(f) a rollback journal beside the lake: exit 1" 1 "$M" verify j.db
check "(f) ... names it" grep -q 'rollback journal' "$T/out"
cp a.db w.db
sqlite3 w.db 'pragma journal_mode=delete' >/dev/null
expect_exit "(f) a lake rewritten out of WAL mode: exit 1" 1 "$M" verify w.db

# (g) a stored config that names a keyring command ---------------------------------------
cp a.db g.db
tamper g.db "update runs set config_text = replace(config_text, '[keys]' || char(10), '[keys]' || char(10) || 'keyring = cmd:touch $T/pwned' || char(10))"
"$ATTACK" rechain g.db --drop-checkpoints >/dev/null
"$M" verify g.db >/dev/null 2>&1
"$M" eval --policy g.db >"$T/out" 2>&1; rc_eval=$?
"$M" reproduce g.db --out gr.db >"$T/out2" 2>&1; rc_rep=$?
MARLSIM_KEYRING= "$M" eval --policy g.db >"$T/out3" 2>&1; rc_eval2=$?
check "(g) no command named by a lake ran under verify, eval or reproduce" [ ! -e "$T/pwned" ]
check "(g) eval refuses it (exit 1: the stored config sets a key a lake never holds)" sh -c "[ $rc_eval = 1 ] && [ $rc_eval2 = 1 ] && grep -q 'never part of a lake' '$T/out3'"
check "(g) reproduce refuses it" [ $rc_rep -ge 1 ]

# (h) the raw values cannot be regenerated with another keyring ------------------------------
expect_exit "(h) the same config and seed with keyring b" 0 "$M" run "$CFG" $SMALL --keyring "$T/keys/b" --out hb.db
check "(h) no pseudonym of keyring a's lake appears in keyring b's" [ "$(sqlite3 a.db "attach 'hb.db' as b; select count(*) from (select distinct json_extract(broadcast, '\$.from') as f from environment_states) x where substr(f, 4) in (select distinct substr(json_extract(broadcast, '\$.from'), 4) from b.environment_states)")" = 0 ]
check "(h) the same recipients are unlinkable across keyrings (no shared pseudonym at all)" [ "$(sqlite3 a.db "attach 'hb.db' as b; select count(*) from (select distinct substr(json_extract(broadcast, '\$.to'), 4) as t from environment_states) where t in (select distinct substr(json_extract(broadcast, '\$.to'), 4) from b.environment_states)")" = 0 ]

# --- rotation and destruction -----------------------------------------------------------------
for r in 1 2; do "$M" keys rotate >/dev/null; done
expect_exit "rotate twice; keys list shows k0..k2" 0 "$M" keys list
check "... three usable generations" [ "$(grep -c usable "$T/out")" = 3 ]
expect_exit "a new run uses the newest generation" 0 "$M" run "$CFG" $SMALL --seed 5 --out n.db --json
check "... k2" grep -q '"key_ids":\["k2"\]' "$T/out"
expect_exit "the first run still reproduces with k0" 0 "$M" reproduce a.db
expect_exit "keys destroy 0" 0 "$M" keys destroy 0
check "destroy erased the key from the keyring file" [ "$(awk '$1 == "hmac" && $2 == 0 { print $5 }' keys/a)" = destroyed ]
expect_exit "the lake made with k0 still verifies" 0 "$M" verify a.db
expect_exit "reproducing it is refused: exit 2" 2 "$M" reproduce a.db
check "... saying it can no longer be reproduced" grep -q 'can no longer be reproduced' "$T/out"
grep -v '^hmac 2 ' keys/a > keys/old && chmod 600 keys/old   # an old backup of keyring a
expect_exit "a lake naming a generation the (old) keyring lacks: verify exits 2" 2 "$M" verify n.db --keyring "$T/keys/old"
check "... naming it" grep -q 'k2' "$T/out"

# --- prove ------------------------------------------------------------------------------------
expect_exit "prove --entry 5" 0 "$M" prove a.db --entry 5
cp "$T/out" p1.txt
expect_exit "prove --check of the proof against the signed checkpoint" 0 "$M" prove --check p1.txt --checkpoint a.cp
sed 's/^path \(.\)/path A\1/; s/^path A\(.\)\(.*\)$/path \2A/' p1.txt > p2.txt
awk '/^path/ && !done { $2 = (substr($2,1,1) == "A" ? "B" : "A") substr($2,2); done = 1 } { print }' p1.txt > p3.txt
expect_exit "a proof with one path hash changed fails: exit 1" 1 "$M" prove --check p3.txt
sed 's/^tree_size .*/tree_size 9999999999999999999/' p1.txt > p5.txt
expect_exit "a proof whose tree size is beyond int64 is malformed: exit 2 (no overflow)" 2 "$M" prove --check p5.txt
n=$(q a.db 'select count(*) from ledger')
expect_exit "prove --from 100 --to $n" 0 "$M" prove a.db --from 100 --to "$n"
cp "$T/out" p4.txt
expect_exit "prove --check of the consistency proof" 0 "$M" prove --check p4.txt --checkpoint a.cp
expect_exit "prove of a leaf beyond the ledger: exit 2" 2 "$M" prove a.db --entry "$n"
expect_json "prove --entry 5 --json" 0 "$M" prove a.db --entry 5 --json
check "... one object holding the same proof text, verdict authenticated" python3 -c "
import json; d = json.load(open('$T/out')); assert d['verdict'] == 'authenticated' and d['proof'] == open('p1.txt').read()"
expect_json "prove --check --json of the proof against the checkpoint" 0 "$M" prove --check p1.txt --checkpoint a.cp --json
check "... valid, inclusion of leaf 5 (entry 6), the checkpoint's size" python3 -c "
import json; d = json.load(open('$T/out')); assert d['valid'] is True and d['kind'] == 'inclusion' and d['leaf'] == 5 and d['entry'] == 6 and d['checkpoint_size'] == d['size'] > 5"
expect_json "prove --check --json of the altered proof: exit 1" 1 "$M" prove --check p3.txt --json
check "... valid false, with why" python3 -c "
import json; d = json.load(open('$T/out')); assert d['valid'] is False and d['why']"


# --- the review's attacks on unfinished lakes, JSON and reproduce ----------------------------
# (2) A completed lake turned back into a running one: seal and final
# checkpoint removed, the newest promoted snapshot swapped for the initial
# policy, everything re-chained; the periodic checkpoints stay (a forger
# cannot re-sign, and deleting them is caught next).
last=$(q a.db "select max(snapshot_id) from policy_snapshots where agent = 'GET'")
cp a.db u1.db && tamper u1.db "delete from ledger where tbl = 'runs.seal'; delete from checkpoints where status is not null;
 update runs set status = 'running';
 update policy_snapshots set params = (select params from policy_snapshots p where p.snapshot_id = 1),
   sha256 = (select sha256 from policy_snapshots p where p.snapshot_id = 1) where snapshot_id = $last" && "$ATTACK" rechain u1.db >/dev/null
"$M" verify u1.db --allow-incomplete >"$T/out" 2>&1; rc=$?
check "(2) a forged tail after the newest checkpoint: never OK (INCOMPLETE or TAMPERED)" sh -c "! grep -q '^OK' '$T/out' && { grep -q '^TAMPERED' '$T/out' || grep -q '^UNSIGNED TAIL' '$T/out'; }"
"$M" eval --policy u1.db >"$T/out" 2>&1; rc=$?
check "(2) eval --policy of it evaluates nothing: exit 1" sh -c "[ $rc = 1 ] && grep -q 'nothing was evaluated' '$T/out'"
"$M" verify u1.db --allow-incomplete --json >"$T/out" 2>&1
check "(2) verify --json: not authenticated, signed entries short of the ledger" python3 -c "
import json; d = json.load(open('$T/out'))
assert d['verdict'] != 'OK' and d.get('authenticated') is not True and (d['verdict'] == 'TAMPERED' or d['signed_entries'] < d['entries'])"
cp a.db u3.db && tamper u3.db "delete from ledger where tbl = 'runs.seal'; delete from checkpoints where cp_id >= 2;
 update runs set status = 'running'" && "$ATTACK" rechain u3.db >/dev/null
expect_exit "(2) periodic checkpoints removed from a running lake: TAMPERED, exit 1" 1 "$M" verify u3.db --allow-incomplete
check "... naming the missing checkpoint" grep -q 'is missing\|not where the run signs' "$T/out"
cp a.db u4.db && tamper u4.db "insert into checkpoints select cp_id + 100, tree_size, status, note from checkpoints where cp_id = 2"
expect_exit "(9) a periodic checkpoint repeated: TAMPERED, exit 1" 1 "$M" verify u4.db
# (10) proofs with a trusted key stay within what it signed
cp n.db u8.db && tamper u8.db "delete from ledger where tbl = 'runs.seal'; delete from checkpoints where status is not null;
 update runs set status = 'running'" && "$ATTACK" rechain u8.db >/dev/null
n8=$(q u8.db "select count(*) from ledger"); s8=$(q u8.db "select max(tree_size) from checkpoints")
expect_exit "(10) a running lake: verify --allow-incomplete is INCOMPLETE, exit 0" 0 "$M" verify u8.db --allow-incomplete
check "... with an UNSIGNED TAIL after entry $s8" sh -c "grep -q '^INCOMPLETE' '$T/out' && grep -q 'vouches for entries 1 to $s8 only' '$T/out'"
expect_exit "(10) prove --entry in the unsigned tail with a trusted key: exit 1" 1 "$M" prove u8.db --entry $((n8 - 1))
expect_exit "(10) prove --entry within the signed prefix: exit 0" 0 "$M" prove u8.db --entry 3
check "... over the signed tree (size $s8)" grep -q "^tree_size $s8\$" "$T/out"
# (3) a development-key lake made of a signed one: eval with a trusted key refuses it
cp a.db u5.db && tamper u5.db "update runs set dev_key = 1;
 update policy_snapshots set params = (select params from policy_snapshots p where p.snapshot_id = 1),
   sha256 = (select sha256 from policy_snapshots p where p.snapshot_id = 1) where snapshot_id = $last" && "$ATTACK" rechain u5.db --drop-checkpoints >/dev/null
expect_exit "(3) eval --policy --pubkey of an unsigned forgery: exit 1, nothing evaluated" 1 "$M" eval --policy u5.db --pubkey "$PUB_A"
check "... saying UNSIGNED" grep -q '^UNSIGNED' "$T/out"
# (4) JSON injection through the run id
RID='x","verdict":"OK","authenticated":true,"z":"'
cp a.db u6.db && tamper u6.db "update runs set run_id = '$RID', origin = 'marlsim/$RID', dev_key = 1" && "$ATTACK" rechain u6.db --drop-checkpoints >/dev/null
"$M" verify u6.db --json >"$T/out" 2>/dev/null
check "(4) verify --json escapes the run id: one object, the run id as stored, the verdict not OK" python3 -c "
import json; d = json.load(open('$T/out'))
assert d['run_id'] == '$RID' and d['verdict'] != 'OK' and d['authenticated'] is False"
# (6) reproduce of a lake that does not verify: it shows where, but signs and keeps nothing
cp n.db u7.db && tamper u7.db "update joint_actions set reward = reward + 1 where rowid = 5" && "$ATTACK" rechain u7.db --drop-checkpoints >/dev/null
expect_exit "(6) reproduce of a re-chained forgery: exit 1" 1 "$M" reproduce u7.db --out u7r.db
check "... names where it diverges, and keeps no (signed) reproduction" sh -c "grep -q '^DIVERGENT' '$T/out' && [ ! -e u7r.db ] && [ ! -e u7r.db.checkpoint ]"
expect_json "(6) reproduce --json of it: exit 1" 1 "$M" reproduce u7.db --out u7r.db --json
check "... one object: verdict tampered, the divergence in joint_actions, no reproduction" python3 -c "
import json; d = json.load(open('$T/out')); assert d['verdict'] == 'tampered' and d['why'] and d['divergence']['table'] == 'joint_actions' and d['reproduction'] is None"
expect_json "reproduce --json of the intact run: exit 0" 0 "$M" reproduce n.db --json
check "... verdict identical, the original's head, reproduction removed (null)" python3 -c "
import json, sqlite3; d = json.load(open('$T/out')); h = sqlite3.connect('n.db').execute('select head_hash from runs').fetchone()[0]
assert d['verdict'] == 'identical' and d['head_hash'] == h == d['original_head_hash'] and d['reproduction'] is None and d['entries'] == d['reproduced_entries'] > 0"

# --- the file verify reads is the file it was named (review findings) -----------------------
mkdir names && cp a.db names/x.db && cp a.db 'names/file:y.db' && printf 'not a lake\n' > names/y.db
(cd names && "$M" verify 'file:y.db' >"$T/out" 2>&1); rc=$?
check "verify 'file:y.db' reads the file of that name, not y.db as an SQLite URI (OK)" sh -c "[ $rc = 0 ] && grep -q '^OK' '$T/out'"
cp names/y.db 'names/file:x.db'
(cd names && "$M" verify 'file:x.db' >"$T/out" 2>&1); rc=$?
check "verify 'file:x.db' (a text file) is not a lake, though x.db is one: exit 2" [ "$rc" = 2 ]
cp a.db 'names/file:z.db?vfs=unix'
(cd names && "$M" verify 'file:z.db?vfs=unix' >"$T/out" 2>&1); rc=$?
check "a ?vfs= query in the name selects no VFS: OK, and no -shm or -wal is created" sh -c "[ $rc = 0 ] && [ -z \"\$(ls names | grep -e '-shm' -e '-wal')\" ]"
(cd names && "$M" run "$CFG" $SMALL --out 'file:o.db?vfs=unix' >"$T/out" 2>&1); rc=$?
check "run --out 'file:o.db?vfs=unix' writes the file of exactly that name" sh -c "[ $rc = 0 ] && [ -s 'names/file:o.db?vfs=unix' ] && [ ! -e names/o.db ]"
(cd names && "$M" export 'file:o.db?vfs=unix' --class security --out 'file:e.db' >"$T/out" 2>&1); rc=$?
check "export between 'file:' names reads and writes the files of those names" sh -c "[ $rc = 0 ] && [ -s 'names/file:e.db' ] && [ ! -e names/e.db ]"
(cd names && "$M" eval --policy 'file:y.db' >"$T/out" 2>&1); rc=$?
check "eval --policy 'file:y.db' evaluates the file of that name" [ "$rc" = 0 ]
cp a.db fifo.db && mkfifo fifo.db-wal
timeout 20 "$M" verify fifo.db >"$T/out" 2>&1; rc=$?
check "a FIFO as the -wal: refused at once (exit 2), never a hang" sh -c "[ $rc = 2 ] && grep -q 'not a regular file' '$T/out'"
cp a.db real.db && ln -s real.db link.db
expect_exit "verify through a symlink to the lake: OK" 0 "$M" verify link.db
cp a.db sw.db && ln -s "$T/a.db-nonexistent" sw.db-wal
expect_exit "a symlink as the -wal: refused, exit 2" 2 "$M" verify sw.db
if [ "$(id -u)" = 0 ]; then
    mkdir hl && cp a.db hl/x.db && chown 65534:65534 hl/x.db && echo data > hl/victim
    ln hl/victim hl/x.db-wal
    "$M" verify hl/x.db >"$T/out" 2>&1
    check "as root, verify changes no owner through a hard-linked -wal (SQLite's VFS would chown it)" [ "$(stat -c %u:%g hl/victim)" = 0:0 ]
fi

echo "trust: $pass passed, $fail failed"
[ "$fail" = 0 ]
