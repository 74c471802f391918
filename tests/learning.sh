#!/bin/sh
# Learning under attack and under watch, from the command line: the
# poisoning ground truth against what the lake recorded, the run summary's
# poisoning object against the lake, each surveillance detector on a run
# built to trigger it (and silence on the default run), suspension freezing
# an agent, and the report stream fixed across run seeds.
# usage: tests/learning.sh MARLSIM   (last line "learning: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
POISONED="$ROOT/configs/poisoned.ini"
T=$(mktemp -d /tmp/marlsim-learning-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 600 "$T/out" 2>/dev/null)"; fi; }
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/err")"; fi
}
q() { sqlite3 "$1" "$2"; }
# json FILE a.b.c -> the value (Python's json; None for null)
json() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"; }
# eq A B: A equals B and is not empty (a failed query or parse never passes)
eq() { [ -n "$1" ] && [ "$1" = "$2" ] || { echo "'$1' != '$2'" >"$T/out"; return 1; }; }
RUN="run --keyring dev --quiet --json --force"

# --- poisoning: ground truth, summary and lake agree ------------------------------
expect_exit "poisoned run (64k env-steps, full telemetry)" 0 "$M" $RUN "$POISONED" --set run.env_steps=65536 --out p.db
cp "$T/out" p.json
check "the summary has a poisoning object with both threats" sh -c "python3 -c 'import json; p = json.load(open(\"p.json\"))[\"poisoning\"]; assert p[\"defence\"] == \"on\" and set(p[\"transit\"]) == {\"injected\", \"detected\", \"precision\", \"recall\"} and p[\"source\"][\"injected\"] > 0'"
check "transit injected = the transit ground-truth rows" eq "$(json p.json poisoning.transit.injected)" "$(q p.db "select count(*) from poison_truth where threat = 'transit'")"
check "every transit ground-truth row was rejected by all three agents, and nothing else was" eq "$(q p.db "select count(*) from poison_truth p where threat = 'transit' and (select count(*) from anomalies a where a.step = p.step and a.env = p.env and a.detector = 'broadcast_validator') = 3") $(q p.db "select count(*) / 3 from anomalies where detector = 'broadcast_validator'")" "$(json p.json poisoning.transit.injected) $(json p.json poisoning.transit.injected)"
check "source injected = the forged-feedback ground-truth rows" eq "$(json p.json poisoning.source.injected)" "$(q p.db "select count(*) from poison_truth where kind = 'forged_feedback'")"
check "backdoor messages = the source ground-truth rows" eq "$(json p.json poisoning.source.backdoor_messages)" "$(q p.db "select count(*) from poison_truth where threat = 'source'")"
check "every backdoor message is malware in the lake's true class" eq "$(q p.db "select count(*) from poison_truth p join joint_actions j using (step, env) where p.threat = 'source' and j.class <> 'malware'")" 0
# The recorded reward is what the learner was told: a forged feedback turns
# a delivered malware's penalty into a reward and a quarantine's reward into
# a penalty. Exactly the ground-truth rows show that flip.
FLIP="j.class = 'malware' and ((j.outcome in ('delivered', 'previewed') and j.reward > 0) or (j.outcome = 'quarantined' and j.reward < 0))"
check "the forged rows are exactly the malware rows whose recorded reward is flipped" eq "$(q p.db "select count(*) from v_joint_actions j where $FLIP") $(q p.db "select count(*) from v_joint_actions j join poison_truth p using (step, env) where p.kind = 'forged_feedback' and $FLIP")" "$(json p.json poisoning.source.injected) $(json p.json poisoning.source.injected)"
check "source detected = the defence's anomaly rows" eq "$(json p.json poisoning.source.detected)" "$(q p.db "select count(*) from anomalies where agent is null and detector in ('reward_contradicts_evidence', 'link_history')")"
check "source precision recomputed from the lake" eq "$(json p.json poisoning.source.precision)" "$(q p.db "select round(1.0 * sum(exists (select 1 from poison_truth p where p.step = a.step and p.env = a.env and p.kind = 'forged_feedback')) / count(*), 4) from anomalies a where agent is null")"
check "every flagged sample has a score and trained no agent (update_id NULL x 3)" eq "$(q p.db "select count(*) from anomalies a where agent is null and score is not null and (select count(*) from di_credit_assignment d where d.step = a.step and d.env = a.env and d.update_id is null) = 3")" "$(json p.json poisoning.source.detected)"
check "the defence catches most forgeries even at 64k env-steps (recall >= 0.7)" python3 -c "import sys; sys.exit(not $(json p.json poisoning.source.recall) >= 0.7)"
check "the ground truth is in the security class" eq "$(q p.db "select class from v_table_classes where name = 'poison_truth'")" security
expect_exit "defence off: exit 0" 0 "$M" $RUN "$POISONED" --set run.env_steps=65536 --set train.defence=off --set telemetry.level=aggregate --out off.db
check "defence off flags nothing and says so" sh -c "[ \"$(q off.db "select count(*) from anomalies where agent is null")\" = 0 ] && grep -q '\"defence\":\"off\"' '$T/out'"
# compare (ledger/summary.c) reads the same figures from the lake on its own
"$M" compare p.db off.db --json >"$T/cmp.json" 2>"$T/err"
check "compare's poisoning figures = the lake's ground truth joined to its detections" eq "$(python3 -c 'import json,sys; p = json.load(open(sys.argv[1]))["runs"][0]["poisoning"]; print(*(p[k] for k in ("transit_injected", "transit_detected", "transit_caught", "source_injected", "flagged", "flagged_forged", "backdoor_messages")))' "$T/cmp.json")" "$(q p.db "select (select count(*) from poison_truth where threat = 'transit'), (select count(distinct step * 1000000 + env) from anomalies where detector = 'broadcast_validator'), (select count(distinct a.step * 1000000 + a.env) from anomalies a join poison_truth t using (step, env) where a.detector = 'broadcast_validator' and t.threat = 'transit'), (select count(*) from poison_truth where kind = 'forged_feedback'), (select count(*) from anomalies where agent is null), (select count(*) from anomalies a join (select distinct step, env from poison_truth where kind = 'forged_feedback') t using (step, env) where a.agent is null), (select count(*) from poison_truth where threat = 'source')" | tr '|' ' ')"

# --- surveillance ---------------------------------------------------------------
AGG="--set telemetry.level=aggregate"
expect_exit "the default run" 0 "$M" $RUN "$CFG" $AGG --out d.db
check "the default run: no surveillance event" eq "$(q d.db "select count(*) from surveillance_events")" 0
check "the default run: the defence flags at most 1% of samples" python3 -c "import sys; sys.exit(not $(json "$T/out" poisoning.flagged_share) <= 0.01)"
# action_drift and entropy_collapse: an absurd learning rate saturates every policy at the first gates
expect_exit "an absurd learning rate (lr = 1)" 0 "$M" $RUN "$CFG" $AGG --set run.env_steps=65536 --set train.lr=1 --out lr.db
check "lr = 1: action_drift (warning, recorded) for every agent" eq "$(q lr.db "select count(distinct agent) from surveillance_events where detector = 'action_drift' and severity = 'warning' and action = 'recorded'")" 3
check "lr = 1: entropy_collapse (critical, suspended)" eq "$(q lr.db "select count(*) > 0 and min(action = 'suspended') from surveillance_events where detector = 'entropy_collapse'")" 1
check "the summary counts the events" eq "$(json "$T/out" surveillance.events)" "$(q lr.db "select count(*) from surveillance_events")"
expect_exit "zero entropy bonus with a high rate" 0 "$M" $RUN "$CFG" $AGG --set train.entropy=0 --set train.lr=0.03 --out ent.db
check "entropy 0, lr 0.03: entropy_collapse below the floor" eq "$(q ent.db "select count(*) > 0 and max(value) < 0.005 from surveillance_events where detector = 'entropy_collapse'")" 1
expect_exit "a reward table that pays for harm" 0 "$M" $RUN "$CFG" $AGG --set rules.malware_delivered=5 --set rules.phishing_delivered=3 --set rules.compromise_cost=0 --out hack.db
check "the harmful table: reward_hacking implicates all three agents" eq "$(q hack.db "select count(distinct agent) from surveillance_events where detector = 'reward_hacking' and action = 'suspended'")" 3
# Suspension: from the gate that suspended it, an agent takes no optimizer
# step and its parameter hash is the incumbent's for the rest of the run.
LATER="select s.agent, s.update_id from surveillance_events s where s.action = 'suspended'
  and s.update_id < (select max(update_id) from optimizer_steps) group by s.agent"
FROZEN="select count(*) from ($LATER) s
  where (select count(distinct o.params_sha256_before) = 1 and sum(o.params_sha256_before <> o.params_sha256_after) = 0 and sum(o.steps) = 0
         from optimizer_steps o where o.agent = s.agent and o.update_id > s.update_id)
    and (select o.params_sha256_before from optimizer_steps o where o.agent = s.agent and o.update_id = s.update_id + 1)
      = (select o.params_sha256_after from optimizer_steps o where o.agent = s.agent and o.update_id =
           (select max(e.update_id) from evaluations e where e.decision in ('baseline', 'promoted') and e.update_id < s.update_id)
         union all select o.params_sha256_before from optimizer_steps o where o.agent = s.agent and o.update_id = 1
           and (select max(e.update_id) from evaluations e where e.decision = 'promoted' and e.update_id < s.update_id) is null
         limit 1)"
SUSP="select count(*) from ($LATER)"
for db in lr.db ent.db hack.db; do
    check "$db: each suspended agent is frozen at its last promoted parameters to the end" eq "$(q $db "$FROZEN")" "$(q $db "$SUSP")"
done
check "suspensions before the last update, so freezing was tested (lr, entropy, harm)" sh -c "[ $(q lr.db "$SUSP") -gt 0 ] && [ $(q ent.db "$SUSP") -gt 0 ] && [ $(q hack.db "$SUSP") -gt 0 ]"
expect_exit "surveillance action = warn" 0 "$M" $RUN "$CFG" $AGG --set run.env_steps=65536 --set train.lr=1 --set surveillance.action=warn --out warn.db
check "warn: events recorded, nothing suspended, every agent still learns" eq "$(q warn.db "select (select count(*) > 0 from surveillance_events) and (select count(*) from surveillance_events where action <> 'recorded') = 0 and (select sum(steps) > 0 from optimizer_steps where update_id > 5)")" 1
expect_exit "surveillance off" 0 "$M" $RUN "$CFG" $AGG --set run.env_steps=65536 --set train.lr=1 --set surveillance.enabled=off --out soff.db
check "surveillance off: no event" eq "$(q soff.db "select count(*) from surveillance_events")" 0

# --- evaluation streams -----------------------------------------------------------
"$M" eval "$CFG" --policy heuristic --set run.seed=1 --json >e1.json 2>/dev/null
"$M" eval "$CFG" --policy heuristic --set run.seed=2 --json >e2.json 2>/dev/null
check "the report stream does not depend on the run seed (heuristic, seeds 1 and 2)" eq "$(json e1.json mean_reward_per_step)" "$(json e2.json mean_reward_per_step)"
"$M" eval "$CFG" --policy heuristic --set gate.eval_seed=99 --json >e3.json 2>/dev/null
check "...but on eval_seed" sh -c "[ -n \"$(json e3.json mean_reward_per_step)\" ] && [ \"$(json e1.json mean_reward_per_step)\" != \"$(json e3.json mean_reward_per_step)\" ]"
expect_exit "eval --episodes 3" 0 "$M" eval "$CFG" --policy heuristic --episodes 3 --json
check "--episodes 3 plays 3 episodes per mailbox" eq "$(json "$T/out" env_steps)" $((64 * 64 * 3))
check "the run's final figure is the report evaluation (d.db: completed, report scored)" sh -c "[ \"$(q d.db "select eval_reward_per_step is not null from runs")\" = 1 ]"

echo "learning: $pass passed, $fail failed"
[ "$fail" = 0 ]
