#!/bin/sh
# Governance (issue 11): audit on a clean signed run and on lakes built to
# fail each check, the model card's figures against direct sqlite3 queries,
# four-eyes release and its refusals, eval --policy RELEASE. The attacker
# has the lake, the binary, sqlite3 and the source (tools/lake_attack
# re-chains a lake after an edit) — not the keyrings.
# usage: tests/gov.sh MARLSIM   (needs $MARLSIM_TOOLS/lake_attack; last line
# "gov: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOOLS=$(cd "${MARLSIM_TOOLS:-build}" && pwd)
ATTACK="$TOOLS/lake_attack"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
T=$(mktemp -d /tmp/gov-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
mkdir -m 700 home keys
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/a"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 800 "$T/out" 2>/dev/null)"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>&1; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 800 "$T/out")"; fi
}
# As expect_exit, with stdout alone in $T/out (a JSON result; stderr in $T/err).
expect_json() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/err")"; fi
}
q() { sqlite3 "$1" "$2"; }
# has PATTERN: the last command's output matches (grep -E)
has() { grep -Eq -- "$1" "$T/out"; }
# line CHECK RESULT: the text audit's line for CHECK starts with RESULT
line() { grep -Eq "^$2 +$1 " "$T/out"; }
tamper() {
    db=$1 sql=$2
    trig=$(sqlite3 "$db" "select group_concat(sql, ';' || char(10)) || ';' from sqlite_schema where type = 'trigger'")
    drops=$(sqlite3 "$db" "select group_concat('drop trigger ' || name, ';') || ';' from sqlite_schema where type = 'trigger'")
    sqlite3 "$db" "$drops $sql; $trig"
}
SMALL="--set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --set telemetry.checkpoint_every=256 --quiet"

"$M" keys init >/dev/null 2>&1
"$M" keys init --keyring keys/b >/dev/null 2>&1
for n in alice bob carol mallory; do "$M" keys init --keyring "keys/$n" --name "$n" >/dev/null 2>&1; done
PUB_A=$("$M" keys pubkey)
PUB_B=$("$M" keys pubkey --keyring keys/b)
PUB_ALICE=$("$M" keys pubkey --keyring keys/alice)
printf '# release approvers\nalice %s\nbob %s\n\n' "$PUB_ALICE" "$("$M" keys pubkey --keyring keys/bob)" >approvers

# --- audit: a clean signed run ----------------------------------------------------
expect_exit "a signed run" 0 "$M" run "$CFG" $SMALL --out a.db
ls -la --time-style=full-iso a.db* >before
sum_before=$(cat a.db a.db-wal 2>/dev/null | sha256sum)
expect_exit "audit of the clean signed run: exit 0" 0 "$M" audit a.db --keyring keys/a
cp "$T/out" clean.txt
check "the clean run: outcome PASSED" has '^outcome: PASSED$'
check "the clean run: every check of chain .. safeguards passes (retention has no rule: NOT APPLICABLE)" sh -c "
  for c in chain signature checkpoints dev_key complete keys_not_stored policy_updated promotions rollbacks excluded_samples surveillance build_facts safeguards; do
    grep -Eq \"^PASS +\$c \" '$T/out' || { echo \$c; exit 1; }; done
  grep -Eq '^NOT APPLICABLE +retention ' '$T/out' && grep -Eq '^NOT APPLICABLE +release ' '$T/out'"
check "the clean run: the keyring's keys were searched for in the file" has 'none of the keyring.s [0-9]+ HMAC and commitment keys occurs'
check "audit changed nothing beside the lake (no file created, the lake's bytes unchanged)" sh -c "
  ls -la --time-style=full-iso a.db* | diff before - >/dev/null && [ \"\$(cat a.db a.db-wal 2>/dev/null | sha256sum)\" = '$sum_before' ]"
expect_exit "audit --json" 0 "$M" audit a.db --pubkey "$PUB_A" --json
check "audit --json: 16 checks, outcome PASSED, each with result, severity, sentence, evidence" python3 -c "
import json; r = json.load(open('$T/out'))
assert r['outcome'] == 'PASSED' and len(r['checks']) == 16
assert all(set(c) == {'id', 'result', 'severity', 'sentence', 'evidence'} for c in r['checks'])"
expect_exit "audit without any trusted key: FAILED (exit 1)" 1 env MARLSIM_KEYRING= "$M" audit a.db
check "no trusted key: signature FAIL HIGH" line signature 'FAIL HIGH'
expect_exit "audit of a file that is not a lake: exit 2" 2 "$M" audit "$CFG"
expect_exit "audit of a missing file: exit 2" 2 "$M" audit nothing.db

# --- audit: lakes built to fail each check ------------------------------------------
expect_exit "a development-key run" 0 "$M" run "$CFG" $SMALL --keyring dev --out dev.db
expect_exit "audit of the dev-key run: FAILED" 1 "$M" audit dev.db --keyring keys/a
cp "$T/out" dev.txt
check "dev key: dev_key FAIL HIGH, checkpoints FAIL HIGH, outcome FAILED" sh -c "
  grep -Eq '^FAIL HIGH +dev_key ' '$T/out' && grep -Eq '^FAIL HIGH +checkpoints ' '$T/out' && grep -q '^outcome: FAILED' '$T/out'"

cp a.db t.db
tamper t.db "update optimizer_steps set samples = samples + 1 where rowid = 5"
expect_exit "audit of a tampered row: exit 1" 1 "$M" audit t.db --keyring keys/a
check "tampered row: chain FAIL CRITICAL naming optimizer_steps, outcome CRITICAL" sh -c "
  grep -Eq '^FAIL CRITICAL +chain .*optimizer_steps' '$T/out' && grep -q '^outcome: CRITICAL' '$T/out'"
check "tampered row: the other checks are NOT APPLICABLE, never passed" sh -c "! grep -Eq '^PASS ' '$T/out'"

cp a.db nocp.db
tamper nocp.db "delete from checkpoints where cp_id = (select max(cp_id) from checkpoints)"
expect_exit "audit with the final checkpoint deleted: exit 1" 1 "$M" audit nocp.db --keyring keys/a
check "missing final checkpoint: CRITICAL, the finding names the checkpoint" sh -c "
  grep -Eq '^FAIL CRITICAL +chain .*checkpoint' '$T/out' && grep -q '^outcome: CRITICAL' '$T/out'"
cp a.db nocp2.db
tamper nocp2.db "delete from checkpoints"
expect_exit "audit with every checkpoint deleted: exit 1" 1 "$M" audit nocp2.db --keyring keys/a
check "no checkpoint at all: a finding on the checkpoints, outcome not PASSED" sh -c "
  grep -Eq '^FAIL (HIGH|CRITICAL) +(checkpoints|chain) .*checkpoint' '$T/out' && ! grep -q '^outcome: PASSED' '$T/out'"

expect_exit "audit against another key: exit 1" 1 "$M" audit a.db --pubkey "$PUB_B"
check "signed by another key: signature FAIL CRITICAL, chain still PASS, outcome CRITICAL" sh -c "
  grep -Eq '^FAIL CRITICAL +signature ' '$T/out' && grep -Eq '^PASS +chain ' '$T/out' && grep -q '^outcome: CRITICAL' '$T/out'"

# A promotion outside tolerance, re-chained (a dev-key lake: nothing signed to break).
cp dev.db prom.db
tamper prom.db "update evaluations set candidate_score = best_score - 0.5 where eval_id = (select max(eval_id) from evaluations where decision = 'promoted')"
"$ATTACK" rechain prom.db >/dev/null
expect_exit "audit of a promotion outside tolerance (re-chained): exit 1" 1 "$M" audit prom.db --keyring keys/a
check "promotion outside tolerance: chain PASS (re-chained), promotions FAIL HIGH naming the evaluation" sh -c "
  grep -Eq '^PASS +chain ' '$T/out' && grep -Eq '^FAIL HIGH +promotions +evaluations eval_id [0-9]+: promoted with score' '$T/out'"
check "the clean dev lake's promotions pass (the finding is the edit's)" grep -Eq '^PASS +promotions ' dev.txt

# A flagged sample trained on, re-chained.
cp dev.db flag.db
nan=$(q flag.db "select count(*) from anomalies")
tamper flag.db "update di_credit_assignment set update_id = 1, policy_updated = 1 where rowid = (select d.rowid from di_credit_assignment d join anomalies a on a.step = d.step and a.env = d.env limit 1)"
"$ATTACK" rechain flag.db >/dev/null
expect_exit "audit of a trained-on flagged sample (re-chained): exit 1" 1 "$M" audit flag.db --keyring keys/a
check "flagged sample trained on: excluded_samples FAIL HIGH naming the row ($nan anomalies)" sh -c "
  [ $nan -gt 0 ] && grep -Eq '^FAIL HIGH +excluded_samples .*di_credit_assignment step [0-9]+ env [0-9]+ agent' '$T/out'"
check "the clean dev lake's excluded_samples and policy_updated pass" sh -c "grep -Eq '^PASS +excluded_samples ' dev.txt && grep -Eq '^PASS +policy_updated ' dev.txt"

# A parameter change outside any recorded update or rollback, re-chained.
cp dev.db roll.db
tamper roll.db "update optimizer_steps set params_sha256_before = params_sha256_after where rowid = (select max(rowid) from optimizer_steps)"
"$ATTACK" rechain roll.db >/dev/null
expect_exit "audit of an unrecorded parameter change (re-chained): exit 1" 1 "$M" audit roll.db --keyring keys/a
check "unrecorded change: rollbacks FAIL HIGH" line rollbacks 'FAIL HIGH'

# Rollbacks really recorded: a run with tolerance 0 rolls back and passes.
expect_exit "a run with rollbacks (tolerance 0)" 0 "$M" run "$CFG" $SMALL --keyring dev --set gate.every=1 --set gate.tolerance=0 --out rb.db
expect_exit "audit of the run with rollbacks" 1 "$M" audit rb.db --keyring keys/a
check "rollbacks: PASS with at least one rollback" sh -c "[ \$(sqlite3 rb.db \"select count(*) from evaluations where decision = 'rolled_back'\") -gt 0 ] && grep -Eq '^PASS +rollbacks +[1-9][0-9]* rollbacks?' '$T/out'"

# An unheeded retention rule, then the purge that heeds it.
expect_exit "a signed run with retention_behavioural = 100" 0 "$M" run "$CFG" $SMALL --set telemetry.retention_behavioural=100 --out ret.db
expect_exit "audit before the purge: exit 1" 1 "$M" audit ret.db --keyring keys/a
check "unheeded retention: retention FAIL HIGH naming the class and the query" sh -c "
  grep -Eq '^FAIL HIGH +retention +retention_behavioural = 100' '$T/out' && grep -q 'evidence: SELECT COUNT(\*) FROM ledger' '$T/out'"
sed 's/^retention_behavioural = keep/retention_behavioural = 100/' "$CFG" >ret.ini
expect_exit "purge --policy-from the same retention" 0 "$M" purge ret.db --policy-from ret.ini
expect_exit "audit after the purge: PASSED" 0 "$M" audit ret.db --keyring keys/a
check "retention PASS after the purge" line retention PASS

# Surveillance: suspensions that froze, then one that did not (re-chained).
expect_exit "a run whose agents collapse (lr = 1)" 0 "$M" run "$CFG" $SMALL --keyring dev --set run.env_steps=16384 --set train.lr=1 --set telemetry.level=aggregate --out s.db
expect_exit "audit of the suspended run" 1 "$M" audit s.db --keyring keys/a
check "surveillance PASS with suspensions" sh -c "[ \$(sqlite3 s.db \"select count(*) from surveillance_events where action = 'suspended'\") -gt 0 ] && grep -Eq '^PASS +surveillance .* [1-9][0-9]* suspensions?' '$T/out'"
cp s.db s2.db
tamper s2.db "update optimizer_steps set steps = 3 where rowid = (select o.rowid from optimizer_steps o join surveillance_events s on s.agent = o.agent and o.update_id > s.update_id where s.action = 'suspended' limit 1)"
"$ATTACK" rechain s2.db >/dev/null
expect_exit "audit of a suspended agent that kept training (re-chained)" 1 "$M" audit s2.db --keyring keys/a
check "surveillance FAIL HIGH" line surveillance 'FAIL HIGH'

# A hostile string in the lake reaches the output escaped.
cp dev.db host.db
tamper host.db "update hmac_keys set key_id = 'k0' || char(27) || '[31m' || char(10) || 'PASS' where rowid = 1"
"$ATTACK" rechain host.db >/dev/null
expect_exit "audit of a lake with control bytes in hmac_keys" 1 "$M" audit host.db --keyring keys/a
check "keys_not_stored FAIL CRITICAL; no control byte reaches the output" sh -c "
  grep -Eq '^FAIL CRITICAL +keys_not_stored ' '$T/out' && ! grep -q \"\$(printf '\\033')\" '$T/out' && [ \$(grep -c '^PASS\$' '$T/out') = 0 ]"
expect_exit "the same in JSON" 1 "$M" audit host.db --keyring keys/a --json
check "the JSON parses and says CRITICAL" python3 -c "import json; assert json.load(open('$T/out'))['outcome'] == 'CRITICAL'"

# --- card ---------------------------------------------------------------------------
expect_exit "card of the clean run" 0 "$M" card a.db --keyring keys/a --out a.md
check "the card has the conventional sections" sh -c "for s in 'Model details' 'Intended use' 'Factors' 'Metrics' 'Evaluation data' 'Training data' 'Safety-rule hits' 'Poisoning and defence' 'Surveillance' 'Data lifecycle' 'Caveats and limitations' 'Appendix: queries'; do grep -q \"^## \$s\" a.md || exit 1; done"
check "every inline figure (X (Qn)) is the first value of its appendix query in sqlite3, every table its rows" python3 - "$T/a.md" "$T/a.db" <<'EOF'
import re, subprocess, sys
card = open(sys.argv[1]).read()
qs = dict(re.findall(r'^Q(\d+)\. `(.*)`$', card, re.M))
assert len(qs) > 30, len(qs)
def run(sql):
    return subprocess.run(['sqlite3', '-batch', '-list', '-separator', '\x1f', sys.argv[2], sql], capture_output=True, text=True, check=True).stdout.splitlines()
unesc = lambda s: re.sub(r'\\(.)', r'\1', s)
esc = lambda s: re.sub(r'([\\`*_\[\]<>|&#!{}])', r'\\\1', s)
body = card.split('## Appendix')[0]
checked = 0
for n in sorted(set(re.findall(r'\(Q(\d+)\)', body)), key=int):
    if n == '1' or re.search(r'\n\(Q%s\)\n|_ \(Q%s\)' % (n, n), body):
        continue  # the config (quoted settings), or a table
    rows = run(qs[n])
    want = rows[0].split('\x1f')[0] if rows and rows[0] != '' else 'n/a'
    assert esc(want) + ' (Q%s)' % n in body, (n, want)
    checked += 1
tables = re.findall(r'((?:^\|.*\|\n)+)\n\(Q(\d+)\)', card, re.M)
for body, n in tables:
    lines = body.strip().split('\n')[2:]
    rows = run(qs[n])
    assert len(lines) == len(rows), (n, len(lines), len(rows))
    for l, r in zip(lines, rows):
        cells = [unesc(c.strip()) for c in l.strip('|').split(' | ')]
        assert cells == [c if c != '' else 'n/a' for c in r.split('\x1f')], (n, cells, r)
    checked += 1
assert checked > 25, checked
EOF
check "the card's report figure and snapshots are the lake's" sh -c "
  grep -q \"figure .*: \$(sqlite3 a.db \"select printf('%.4f', eval_reward_per_step) from runs\") (Q\" a.md &&
  for h in \$(sqlite3 a.db \"select sha256 from policy_snapshots where eval_id = (select max(eval_id) from evaluations where decision in ('baseline','promoted'))\"); do grep -q \"| \$h |\" a.md || exit 1; done"
expect_exit "card of a tampered lake: exit 1" 1 "$M" card t.db --keyring keys/a --out t.md
check "no card was written for the tampered lake" sh -c "[ ! -e t.md ] && grep -q TAMPERED '$T/out'"
expect_exit "card of the dev-key run" 0 "$M" card dev.db --out dev.md
check "the dev-key card says so in its caveats" grep -q 'development key: its pseudonyms protect nothing' dev.md
expect_exit "card of an aggregate-telemetry run" 0 "$M" card s.db --out s.md
check "the aggregate card shows per-window aggregates and surveillance findings" sh -c "grep -q '^| GET | benign |' s.md && grep -q '^| entropy._collapse | critical | suspended |' s.md"

# A lake big enough that SQLite's sorts outgrow memory and want temp files,
# which the read-only VFS never opens (audit and card failed on the default
# run with "unable to open database file" until the reader kept them in memory).
expect_exit "a 65,536 env-step development-key run" 0 "$M" run "$CFG" --keyring dev --set run.env_steps=65536 --quiet --out big.db
expect_exit "audit of it: FAILED for the development key only, not a malformed lake (exit 1)" 1 "$M" audit big.db
check "... the findings are the development key's (and the file system's encryption, INFO) alone" sh -c "grep -Eq '^FAIL HIGH +dev_key' '$T/out' && grep -q '^outcome: FAILED' '$T/out' && [ \$(grep -E '^FAIL' '$T/out' | grep -Evc '^FAIL (HIGH +(dev_key|checkpoints)|INFO +encryption) ') = 0 ] && ! grep -qi 'unable to open' '$T/out'"
expect_exit "card of it: exit 0" 0 "$M" card big.db --out big.md

# --- four-eyes release ------------------------------------------------------------------
expect_exit "approve as alice" 0 "$M" approve a.db --as alice --keyring keys/alice --pubkey "$PUB_A" --out A
expect_exit "approve as bob" 0 "$M" approve a.db --as bob --keyring keys/bob --pubkey "$PUB_A" --out B
check "an approval is a signed note naming the run, checkpoint and snapshots" sh -c "
  head -1 A | grep -qx 'marlsim-approval v1' && grep -q \"^run \$(sqlite3 a.db 'select run_id from runs')\$\" A &&
  grep -q \"^checkpoint \$(sqlite3 a.db 'select max(tree_size) from checkpoints') \" A && grep -q '^— alice ' A"
expect_exit "release with alice and bob" 0 "$M" release a.db --approvers approvers --approval A --approval B --out a.rel
check "the release holds the three snapshots and two approvals" sh -c "[ \$(grep -c '^snapshot ' a.rel) = 3 ] && [ \$(grep -c '^approval ' a.rel) = 2 ] && tail -1 a.rel | grep -qx end"
expect_json "eval --policy RELEASE --approvers" 0 "$M" eval --policy a.rel --approvers approvers --json
"$M" eval --policy a.rel --approvers approvers --json >"$T/out" 2>/dev/null
rel_score=$(python3 -c "import json; print(json.load(open('$T/out'))['mean_reward_per_step'])")
"$M" eval --policy a.db --json >"$T/out" 2>/dev/null
lake_score=$(python3 -c "import json; print(json.load(open('$T/out'))['mean_reward_per_step'])")
check "the release plays the lake's policy (same report figure: $rel_score)" [ -n "$rel_score" -a "$rel_score" = "$lake_score" ]
expect_exit "eval of a release without --approvers: exit 2" 2 "$M" eval --policy a.rel
# --pubkey / --keyring pin the run's key, as release and audit do.
expect_exit "eval of the release pinned to the run's key (--keyring keys/a): exit 0" 0 "$M" eval --policy a.rel --approvers approvers --keyring keys/a --episodes 1
expect_exit "eval of the release pinned to another key (mallory's): exit 1" 1 "$M" eval --policy a.rel --approvers approvers --pubkey "$("$M" keys pubkey --keyring keys/mallory)" --episodes 1
check "refused: its run was signed by another key; nothing evaluated" sh -c "grep -q '^REFUSED a.rel' '$T/out' && grep -q 'its run was signed by .*, not by the trusted key mallory' '$T/out' && grep -q 'nothing was evaluated' '$T/out'"
expect_exit "eval of the release with an unparsable --pubkey: exit 2" 2 "$M" eval --policy a.rel --approvers approvers --pubkey garbage --episodes 1
expect_json "eval --json of a refused release: one JSON object (exit 1)" 1 "$M" eval --policy a.rel --approvers approvers --pubkey "$("$M" keys pubkey --keyring keys/mallory)" --json
check "... outcome refused, with why" python3 -c "import json,sys; d = json.load(open(sys.argv[1])); sys.exit(not (d['outcome'] == 'refused' and 'mallory' in d['why']))" "$T/out"
# A file that is not a release, given with --approvers, is reported as such.
tr -d '\r' <a.rel | sed 's/$/\r/' >crlf.rel
expect_exit "eval of a CRLF copy of the release: exit 2" 2 "$M" eval --policy crlf.rel --approvers approvers
check "... the release's own parse error, not a usage complaint" sh -c "grep -q 'crlf.rel' '$T/out' && ! grep -q 'approvers is for' '$T/out'"
mkfifo fifo.rel
expect_exit "eval of a FIFO as a release: exit 2 (no hang)" 2 timeout 20 "$M" eval --policy fifo.rel --approvers approvers
check "... not a regular file" grep -q 'fifo.rel: not a regular file' "$T/out"
expect_exit "audit --release: PASSED" 0 "$M" audit a.db --keyring keys/a --release a.rel --approvers approvers
check "audit: release PASS naming both approvers" sh -c "grep -Eq '^PASS +release +approved by alice and bob' '$T/out'"

# Refusals.
expect_exit "release: the same approver twice" 1 "$M" release a.db --approvers approvers --approval A --approval A --out x.rel
check "refused: both approvals are by alice" has 'both approvals are by alice'
printf 'alice %s\ncarol %s\nbob %s\n' "$PUB_ALICE" "$PUB_ALICE" "$("$M" keys pubkey --keyring keys/bob)" >approvers2
expect_exit "approve as carol with alice's key" 0 "$M" approve a.db --as carol --keyring keys/alice --pubkey "$PUB_A" --out C
expect_exit "release: two names on one key" 1 "$M" release a.db --approvers approvers2 --approval A --approval C --out x.rel
check "refused: one key" has 'sign with one key'
expect_exit "approve with the run's own key: refused" 1 "$M" approve a.db --as dave --keyring keys/a --pubkey "$PUB_A" --out D
check "refused: the run's signer" sh -c "grep -q \"run's own key\" '$T/out' && [ ! -e D ]"
expect_json "approve --json as bob" 0 "$M" approve a.db --as bob --keyring keys/bob --pubkey "$PUB_A" --out B2 --json
check "... one object: approved by bob, the newest checkpoint, three snapshots, the approval file" python3 -c "
import json, sqlite3; d = json.load(open('$T/out')); db = sqlite3.connect('a.db')
assert d['outcome'] == 'approved' and d['approver'] == 'bob' and d['approval'] == 'B2'
assert d['checkpoint']['size'] == db.execute('select max(tree_size) from checkpoints').fetchone()[0]
assert sorted(d['snapshots']) == ['BIN', 'GET', 'OPEN'] and d['run_id'] == db.execute('select run_id from runs').fetchone()[0]"
expect_exit "approve --json without --out: usage, exit 2" 2 "$M" approve a.db --as bob --keyring keys/bob --pubkey "$PUB_A" --json
expect_json "release --json" 0 "$M" release a.db --approvers approvers --approval A --approval B2 --out j.rel --json
check "... released, approvers alice and bob, the release file" python3 -c "
import json; d = json.load(open('$T/out')); assert d['outcome'] == 'released' and d['approvers'] == ['alice', 'bob'] and d['release'] == 'j.rel'"
expect_json "release --json of one approver twice: exit 1" 1 "$M" release a.db --approvers approvers --approval A --approval A --out x.rel --json
check "... outcome refused, with why" python3 -c "
import json; d = json.load(open('$T/out')); assert d['outcome'] == 'refused' and 'alice' in d['why']"
expect_exit "approve as mallory (not listed)" 0 "$M" approve a.db --as mallory --keyring keys/mallory --pubkey "$PUB_A" --out MAL
expect_exit "release: an approver not on the list" 1 "$M" release a.db --approvers approvers --approval A --approval MAL --out x.rel
check "refused: not on the allow-list" has 'mallory is not on the allow-list'
# A forged approval: bob's text signed by mallory under bob's name is not bob's.
sed 's/^approver mallory$/approver bob/' MAL >FORGED
expect_exit "release: an approval whose signature is not the listed key's" 1 "$M" release a.db --approvers approvers --approval A --approval FORGED --out x.rel
check "refused: not signed by the listed key" has 'not signed by the key the allow-list gives approver bob'
printf 'alice d31473d9\n' >idonly
expect_exit "an allow-list with a 4-byte key id only: exit 2" 2 "$M" release a.db --approvers idonly --approval A --approval B --out x.rel
# Approvals of another run.
expect_exit "a second signed run (seed 2)" 0 "$M" run "$CFG" $SMALL --seed 2 --out b.db
expect_exit "approve b as bob" 0 "$M" approve b.db --as bob --keyring keys/bob --pubkey "$PUB_A" --out Bb
expect_exit "release: approvals of two runs" 1 "$M" release a.db --approvers approvers --approval A --approval Bb --out x.rel
check "refused: the approvals disagree" has 'approvals disagree on run'
expect_exit "approve b as alice" 0 "$M" approve b.db --as alice --keyring keys/alice --pubkey "$PUB_A" --out Ab
expect_exit "release of a with both approvals of b" 1 "$M" release a.db --approvers approvers --approval Ab --approval Bb --out x.rel
check "refused: another run" has 'the approvals are of run'
check "no release file was left by a refusal" [ ! -e x.rel ]
# Tampered release files.
expect_exit "release of b" 0 "$M" release b.db --approvers approvers --approval Ab --approval Bb --out b.rel
grep '^snapshot BIN ' b.rel >bsnap
awk -v s="$(cat bsnap)" '/^snapshot BIN / { print s; next } { print }' a.rel >swap.rel
expect_exit "eval of a release whose BIN snapshot was swapped for another run's" 1 "$M" eval --policy swap.rel --approvers approvers
check "refused, nothing evaluated: the snapshot is not what was approved" sh -c "grep -q 'REFUSED' '$T/out' && grep -q 'nothing was evaluated' '$T/out' && ! grep -q mean_reward '$T/out'"
python3 - "$T/a.rel" "$T/flip.rel" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
i = next(k for k, l in enumerate(lines) if l.startswith('snapshot GET '))
head, b64 = lines[i].rsplit(' ', 1)
mid = len(b64) // 2
c = 'A' if b64[mid] != 'A' else 'B'
lines[i] = head + ' ' + b64[:mid] + c + b64[mid + 1:]
open(sys.argv[2], 'w').write('\n'.join(lines))
EOF
expect_exit "eval of a release with one parameter byte changed" 1 "$M" eval --policy flip.rel --approvers approvers
check "refused: the parameters do not hash to the approved snapshot" has 'do not hash to the approved snapshot'
sed 's/^eval [0-9]*$/eval 1/' a.rel >evl.rel
expect_exit "eval of a release naming another evaluation" 1 "$M" eval --policy evl.rel --approvers approvers
expect_exit "audit --release with the tampered release: exit 1" 1 "$M" audit a.db --keyring keys/a --release flip.rel --approvers approvers
check "audit: release FAIL HIGH" line release 'FAIL HIGH'
# A tampered lake.
cp a.db t2.db
tamper t2.db "update evaluations set candidate_score = 1 where eval_id = 2"
expect_exit "release of a tampered lake" 1 "$M" release t2.db --approvers approvers --approval A --approval B --out x.rel
check "refused: the lake does not verify" sh -c "grep -q REFUSED '$T/out' && [ ! -e x.rel ]"
expect_exit "approve a tampered lake: refused" 1 "$M" approve t2.db --as alice --keyring keys/alice --pubkey "$PUB_A"
expect_exit "approve a dev-key lake: refused (not authenticated)" 1 "$M" approve dev.db --as alice --keyring keys/alice --pubkey "$PUB_A"
# A purge moves the head, not the approved checkpoint.
expect_exit "purge a's behavioural payloads" 0 "$M" purge a.db --class behavioural --before-step 100
expect_exit "release after the purge, with the approvals made before it" 0 "$M" release a.db --approvers approvers --approval A --approval B --out p.rel
check "the release names the checkpoint approved before the purge" sh -c "[ \"\$(grep '^checkpoint ' p.rel)\" = \"\$(grep '^checkpoint ' A)\" ]"
expect_exit "approve --help" 0 "$M" approve --help
expect_exit "help release" 0 "$M" help release
expect_exit "release --approvers=FILE form" 0 "$M" release a.db --approvers=approvers --approval=A --approval=B --out=q.rel

echo "gov: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
