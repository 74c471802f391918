#!/bin/sh
# marlsim report and marlsim compare from the command line: the HTML's
# structure and every figure in it against direct sqlite3 queries on the
# same lake (tests/tools/report_check.py), an aggregate-level lake saying
# which sections it cannot fill, hostile text from a re-chained lake coming
# out escaped, tampered lakes refused with exit 1 and no file, and compare's
# text and JSON against the lakes.
# usage: tests/report.sh MARLSIM   (needs $MARLSIM_TOOLS/lake_attack; last
# line "report: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOOLS=$(cd "${MARLSIM_TOOLS:-build}" && pwd)
ATTACK="$TOOLS/lake_attack"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
CHECK="$ROOT/tests/tools/report_check.py"
HTML="$ROOT/tests/tools/report_html.py"
. "$ROOT/tests/harness.sh"
scratch report
q() { sqlite3 "$1" "$2"; }
# eq A B: A equals B and is not empty (a failed query or parse never passes)
eq() { [ -n "$1" ] && [ "$1" = "$2" ] || { echo "'$1' != '$2'" >"$T/out"; return 1; }; }
# json FILE a.b.0.c -> the value (Python's json; None for null)
json() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1" "$2"; }
# Counts report_check.py's PASS / FAIL lines as tests of this suite.
checks() {
    what=$1
    shift
    python3 "$CHECK" "$@" >"$T/checks" 2>&1 || echo "FAIL report_check.py could not run: $(head -c 300 "$T/checks")" >>"$T/checks"
    while read -r verdict rest; do
        case $verdict in
        PASS) ok "$what: $rest" ;;
        FAIL) ko "$what: $rest" ;;
        esac
    done <"$T/checks"
}
SMALL="--set run.env_steps=16384 --set sim.envs=16 --set gate.every=2 --set telemetry.checkpoint_every=256 --quiet --force"

"$M" keys init --keyring "$T/k" >/dev/null 2>&1
PUB=$("$M" keys pubkey --keyring "$T/k" 2>/dev/null)
SIGNER=$(echo "$PUB" | cut -d+ -f1-2)

# --- the lakes ----------------------------------------------------------------
expect_exit "a signed run (full telemetry)" 0 "$M" run "$CFG" $SMALL --keyring "$T/k" --out s.db
# A signed run's trajectory depends on its (random) keys; the development
# key's does not: with lr 0.03 this one rolls back twice and finds one
# surveillance event, every time.
expect_exit "a development-key run with rollbacks (full telemetry, lr 0.03)" 0 "$M" run "$CFG" $SMALL --set train.lr=0.03 --keyring dev --out d.db
check "...which has rollbacks and a surveillance finding to show" eq "$(q d.db "select (select count(*) from evaluations where decision = 'rolled_back') >= 2 and (select count(*) > 0 from surveillance_events)")" 1
expect_exit "an aggregate-level run (development key)" 0 "$M" run "$CFG" $SMALL --set telemetry.level=aggregate --set run.seed=2 --keyring dev --out a.db

# --- report: structure and figures ------------------------------------------
expect_exit "report with the trusted keyring: exit 0" 0 "$M" report s.db --keyring "$T/k"
check "it says where the report went: s.html beside the lake" grep -q "^report: s.html ([0-9]* bytes; lake s.db OK)" "$T/out"
checks "signed full lake" s.db s.html --verdict OK --signer "$SIGNER"
expect_exit "report of the lake with rollbacks, no key at hand: exit 0" 0 "$M" report d.db
checks "lake with rollbacks" d.db d.html --verdict UNAUTHENTICATED
expect_exit "report of the aggregate lake, no key at hand: exit 0" 0 "$M" report a.db --out=agg.html
check "...says UNAUTHENTICATED and that 2 sections cannot be filled" grep -q "UNAUTHENTICATED; 2 sections the lake cannot fill" "$T/out"
checks "aggregate lake" a.db agg.html --verdict UNAUTHENTICATED --empty outcomes,rules
check "the aggregate report names the telemetry level as the reason" sh -c "grep -c 'data-section=\"[a-z]*\">Not recorded: telemetry.level = aggregate' agg.html | grep -qx 2"
# The checker must be able to fail: the aggregate lake's report is not the signed lake's.
python3 "$CHECK" s.db agg.html --verdict OK >"$T/out" 2>&1
check "report_check.py fails a report of another lake (the checks can fail)" sh -c "[ \$(grep -c '^FAIL' '$T/out') -ge 5 ]"
expect_exit "report --pubkey (the verifier key): OK" 0 "$M" report s.db --pubkey "$PUB" --out pub.html --json
check "--json: one object naming the file, its size and the verdict" eq "$(json "$T/out" report) $(json "$T/out" bytes) $(json "$T/out" verdict)" "pub.html $(stat -c %s pub.html) OK"
expect_exit "report of a development-key lake with a trusted key: made, marked UNSIGNED" 0 "$M" report a.db --keyring "$T/k" --out uns.html
check "...the banner says UNSIGNED" eq "$(python3 "$HTML" uns.html | python3 -c 'import json,sys; print(json.load(sys.stdin)["texts"]["verdict"])')" UNSIGNED
expect_exit "the report replaces an earlier report" 0 "$M" report s.db --keyring "$T/k"

# --- purged and exported lakes ---------------------------------------------------
cp s.db p.db
expect_exit "purge the behavioural rows before step 500" 0 "$M" purge p.db --class behavioural --before-step 500 --keyring "$T/k"
expect_exit "report of the purged lake: exit 0" 0 "$M" report p.db --keyring "$T/k"
checks "purged lake" p.db p.html --verdict OK --signer "$SIGNER"
check "...says how many joint_actions rows the purge removed and how many are left" grep -qF "a purge removed $(q p.db "select sum(n_rows) from tombstones where tbl = 'joint_actions'") rows of joint_actions: these figures cover the $(q p.db 'select count(*) from joint_actions') rows left" p.html
expect_exit "export the security class" 0 "$M" export s.db --class security --out x.db --keyring "$T/k"
expect_exit "report of the export: exit 0" 0 "$M" report x.db --keyring "$T/k"
check "...marked EXPORT (class security); learning, outcomes, rules and credit said removed by the export" sh -c "grep -q '<span id=\"export\">EXPORT (class security)</span>' x.html && [ \$(grep -c 'data-section=\"[a-z]*\">Not recorded: this export removed every row of' x.html) = 4 ]"

# --- refusals -----------------------------------------------------------------
echo "precious" >keep.txt
expect_exit "--out naming a file that is not a report: exit 2" 2 "$M" report s.db --out keep.txt
check "...and the file is untouched" eq "$(cat keep.txt)" precious
expect_exit "--out naming the lake itself: exit 2" 2 "$M" report s.db --out s.db
expect_exit "...and the lake still verifies" 0 "$M" verify s.db --keyring "$T/k"
expect_exit "report of a missing lake: exit 2" 2 "$M" report nosuch.db --out nosuch.html
check "...no file" sh -c "[ ! -e nosuch.html ] && ! ls nosuch.html.tmp-* >/dev/null 2>&1"
expect_exit "report with no lake: usage, exit 2" 2 "$M" report
expect_exit "report --pubkey and --keyring: exit 2" 2 "$M" report s.db --pubkey "$PUB" --keyring "$T/k"
cp s.db t.db
tamper t.db "update evaluations set candidate_score = 9.0 where eval_id = 2"
expect_exit "a tampered lake: exit 1" 1 "$M" report t.db --out t.html
check "...named TAMPERED, and nothing written" sh -c "grep -q '^TAMPERED t.db' '$T/out' && [ ! -e t.html ] && ! ls t.html.tmp-* >/dev/null 2>&1"
expect_exit "a tampered lake with --json: exit 1" 1 "$M" report t.db --out t.html --json
check "...one JSON object: no report, the verdict and why" eq "$(json "$T/out" report) $(json "$T/out" verdict) $([ -n "$(json "$T/out" error)" ] && echo why) $(test -e t.html && echo written)" "None TAMPERED why "
cp s.db r.db
tamper r.db "update evaluations set candidate_score = 9.0 where eval_id = 2"
"$ATTACK" rechain r.db --drop-checkpoints >/dev/null
expect_exit "a re-chained lake against the trusted key: exit 1, nothing written" 1 "$M" report r.db --keyring "$T/k" --out r.html
check "...no file" sh -c "[ ! -e r.html ]"

# --- hostile text ---------------------------------------------------------------
# A development-key lake re-chained after text fields were replaced with
# markup: the chain is intact again, so the report is made (UNAUTHENTICATED)
# and every text must come out as text.
cp d.db h.db
tamper h.db "update runs set name = '<script>alert(1)</script>', build_facts = '{\"compiler\":\"</code><script>alert(2)</script>\",\"x<y\":\"a&b\"}', key_ids = '[\"<img src=x onerror=alert(3)>\"]';
  update hmac_keys set purpose = '<script>alert(4)</script>' where rowid = 1;
  update evaluations set decision = '\"><svg onload=alert(5)>' where eval_id = 2;
  update joint_actions set rules = '[\"<b>bold</b>\"]' where rowid = 1;
  update joint_actions set class = '<i>c</i>' where rowid = 2;
  update anomalies set reason = '''><iframe src=//evil>' where rowid = 1"
"$ATTACK" rechain h.db >/dev/null
expect_exit "the re-chained hostile lake verifies without a key (the chain alone cannot tell)" 0 "$M" verify h.db
expect_exit "its report is made: exit 0" 0 "$M" report h.db --out h.html
python3 "$HTML" h.html >h.json
check "the hostile report parses, with no element the lake named" python3 -c "
import json, sys
d = json.load(open('h.json'))
bad = [t for t in ('script', 'img', 'iframe', 'b', 'i') if t in d['tags']]
sys.exit(0 if d['well_formed'] and not bad and not d['external'] and d['tags'].get('svg') == 4 else (print(bad, d['errors'], d['external']) or 1))"
check "every hostile text is there, escaped" sh -c "grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' h.html && grep -qF '&lt;/code&gt;&lt;script&gt;alert(2)&lt;/script&gt;' h.html && grep -qF '&lt;img src=x onerror=alert(3)&gt;' h.html && grep -qF '&lt;script&gt;alert(4)&lt;/script&gt;' h.html && grep -qF '&quot;&gt;&lt;svg onload=alert(5)&gt;' h.html && grep -qF '&lt;b&gt;bold&lt;/b&gt;' h.html && grep -qF '&lt;i&gt;c&lt;/i&gt;' h.html && grep -qF '&#39;&gt;&lt;iframe src=//evil&gt;' h.html && grep -qF 'x&lt;y' h.html"
check "no raw markup from the lake anywhere" sh -c "! grep -qiE '<(script|img|iframe|b|i)[ >]|<svg onload' h.html"

# --- compare ------------------------------------------------------------------------
expect_exit "compare s.db a.db --json: exit 0" 0 "$M" compare s.db a.db --keyring "$T/k" --json
cp "$T/out" c.json
check "compare --json is one JSON object naming both runs and their verdicts" eq "$(json c.json compared) $(json c.json runs.0.verdict) $(json c.json runs.1.verdict) $(json c.json runs.1.path)" "True OK UNSIGNED a.db"
check "the config keys that differ = those of the stored config texts (parsed here by Python)" python3 -c "
import json, subprocess, sys
def cfg(db):
    text = subprocess.run(['sqlite3', db, 'select config_text from runs'], capture_output=True, text=True).stdout
    sec, out = '', {}
    for line in text.splitlines():
        if line.startswith('['): sec = line.strip('[]')
        elif ' = ' in line: k, v = line.split(' = ', 1); out[sec + '.' + k] = v
    return out
a, b = cfg('s.db'), cfg('a.db')
want = [[k, [a[k], b[k]]] for k in a if a[k] != b[k]]
got = [[d['key'], d['values']] for d in json.load(open('c.json'))['config_diff']]
sys.exit(0 if got == want and len(want) >= 2 and json.load(open('c.json'))['config_keys_compared'] == len(a) else (print(got, want) or 1))"
check "final report figures = runs.eval_reward_per_step" python3 -c "
import json, subprocess, sys
d = json.load(open('c.json'))
for i, db in enumerate(['s.db', 'a.db']):
    v = float(subprocess.run(['sqlite3', db, 'select eval_reward_per_step from runs'], capture_output=True, text=True).stdout)
    if abs(d['runs'][i]['final_report_figure'] - v) > 1e-9: sys.exit(1)"
check "each run's gates and the aligned curve = evaluations (env-steps, score)" python3 -c "
import json, subprocess, sys
d = json.load(open('c.json'))
grid = {}
for i, db in enumerate(['s.db', 'a.db']):
    rows = subprocess.run(['sqlite3', '-separator', ' ', db, 'select eval_id, env_steps, candidate_score from evaluations order by eval_id'], capture_output=True, text=True).stdout.split(chr(10))
    rows = [r.split() for r in rows if r]
    g = d['runs'][i]['gates']
    if len(g) != len(rows) or any(int(r[0]) != x['eval_id'] or int(r[1]) != x['env_steps'] or abs(float(r[2]) - x['score']) > 1e-9 for r, x in zip(rows, g)): sys.exit(1)
    for r in rows: grid.setdefault(int(r[1]), [None, None])[i] = float(r[2])
got = {p['env_steps']: p['scores'] for p in d['curve']}
sys.exit(0 if sorted(got) == sorted(grid) and all(all((a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9) for a, b in zip(got[k], grid[k])) for k in grid) else 1)"
check "rule hits = v_rule_hits for the full lake, null (not recorded) for the aggregate one" python3 -c "
import json, subprocess, sys
d = json.load(open('c.json'))
rows = subprocess.run(['sqlite3', '-separator', ' ', 's.db', 'select rule, hits from v_rule_hits'], capture_output=True, text=True).stdout.split()
want = dict(zip(rows[0::2], map(int, rows[1::2])))
sys.exit(0 if d['runs'][0]['rule_hits'] == want and want and d['runs'][1]['rule_hits'] is None else 1)"
check "speed: wall seconds from the lake's started_at/finished_at, or null" python3 -c "
import json, subprocess, sys, datetime
d = json.load(open('c.json'))
for i, db in enumerate(['s.db', 'a.db']):
    a, b = subprocess.run(['sqlite3', '-separator', ' ', db, 'select started_at, finished_at from runs'], capture_output=True, text=True).stdout.split()
    f = lambda s: datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ')
    secs = int((f(b) - f(a)).total_seconds())
    r = d['runs'][i]
    if r['wall_seconds'] != secs: sys.exit(1)
    if (r['env_steps_per_second'] is None) != (secs == 0): sys.exit(1)"
expect_exit "compare in text: exit 0" 0 "$M" compare s.db a.db --keyring "$T/k"
check "text: the differing keys, both final figures, a sparkline per run, rules not recorded for B" sh -c "grep -q '^  telemetry.level  *full  *aggregate\$' '$T/out' && grep -q '^  A  $(q s.db "select printf('%.4f', eval_reward_per_step) from runs")  (' '$T/out' && grep -q '^  B  $(q a.db "select printf('%.4f', eval_reward_per_step) from runs")  (' '$T/out' && [ \$(grep -cE '^  [AB]  \|[ .:=+*#%@-]+\|  [0-9]+ gates' '$T/out') = 2 ] && grep -q '^  B: not recorded (telemetry.level = aggregate' '$T/out'"
check "text: no trailing spaces" sh -c "! grep -q ' \$' '$T/out'"
expect_exit "compare with a tampered lake: exit 1" 1 "$M" compare s.db t.db a.db
check "...names it, and nothing is compared" sh -c "grep -q '^TAMPERED t.db' '$T/out' && grep -q '^nothing compared: 1 lake refused' '$T/out' && ! grep -q '^config:' '$T/out'"
expect_exit "compare --json with a tampered lake: exit 1" 1 "$M" compare s.db t.db --json
check "...one JSON object with the refusal" eq "$(json "$T/out" compared) $(json "$T/out" refused.0.path) $(json "$T/out" refused.0.verdict)" "False t.db TAMPERED"
expect_exit "compare with one lake: usage, exit 2" 2 "$M" compare s.db
expect_exit "compare with a missing lake: exit 2" 2 "$M" compare s.db nosuch.db

# --- help -----------------------------------------------------------------------
expect_exit "report --help" 0 "$M" report --help
check "...says what it writes" grep -q "self-contained HTML" "$T/out"
expect_exit "help compare" 0 "$M" help compare
check "...is compare's usage" grep -q "^usage: marlsim compare A.db B.db" "$T/out"
expect_exit "marlsim --help lists report and compare" 0 "$M" --help
check "...both" sh -c "grep -q '^  report RUN.db' '$T/out' && grep -q '^  compare A.db B.db' '$T/out'"

echo "report: $pass passed, $fail failed"
[ "$fail" = 0 ]
