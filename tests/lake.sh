#!/bin/sh
# Command-line tests of run / verify / reproduce / eval --policy RUN.db and of
# the lake's behaviour: overwrite refusal, determinism, telemetry levels,
# views, tampering, hostile files, SIGINT and a kill -9 crash loop.
# usage: tests/lake.sh MARLSIM [CRASH_ITERATIONS]   (last line: "lake: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CRASHES=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
T=$(mktemp -d /tmp/marlsim-lake-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
# Keys live here: never the user's keyring (HOME points into $T as well).
mkdir -m 700 "$T/home" "$T/keys"
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/keyring"
"$M" keys init >/dev/null || { echo "lake: could not create a test keyring"; echo "lake: 0 passed, 1 failed"; exit 1; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
# check NAME CONDITION-COMMAND...
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n"; fi; }
# expect_exit NAME CODE COMMAND... (stdout+stderr kept in $T/out)
expect_exit() {
    n=$1 want=$2; shift 2
    "$@" >"$T/out" 2>&1; got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else ko "$n" "exit $got, wanted $want: $(head -c 600 "$T/out")"; fi
}
q() { sqlite3 "$1" "$2"; }

SMALL="--set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --quiet"

# --- run, verify, summary ------------------------------------------------
expect_exit "run small exits 0" 0 "$M" run "$CFG" $SMALL --out a.db --json
check "run --json has the summary keys" sh -c "for k in run_id config_sha256 seed env_steps steps_per_second eval_reward_per_step head_hash db; do grep -q \"\\\"\$k\\\":\" '$T/out' || exit 1; done"
head=$(q a.db "select head_hash from runs")
check "summary head_hash is the lake's head" grep -q "\"head_hash\":\"$head\"" "$T/out"
expect_exit "verify a fresh lake: exit 0" 0 "$M" verify a.db
check "verify says OK and completed" sh -c "grep -q '^OK' '$T/out' && grep -q 'status: completed' '$T/out'"
check "status completed in runs" [ "$(q a.db "select status from runs")" = completed ]
check "journal mode is WAL" [ "$(q a.db "pragma journal_mode")" = wal ]
check "application_id and user_version set" [ "$(q a.db "pragma application_id")" = 1296126540 -a "$(q a.db "pragma user_version")" = 4 ]
check "a signed checkpoint file beside the lake" sh -c "head -1 a.db.checkpoint | grep -q '^marlsim/' && grep -q '^status: completed\$' a.db.checkpoint && grep -q '^— marlsim ' a.db.checkpoint"
sum_before=$(cksum a.db)
expect_exit "run refuses to overwrite an existing lake" 2 "$M" run "$CFG" $SMALL --out a.db
check "the refused lake is untouched" [ "$(cksum a.db)" = "$sum_before" ]
expect_exit "run --force replaces it" 0 "$M" run "$CFG" $SMALL --out a.db --force

# --- determinism -----------------------------------------------------------
expect_exit "second identical run" 0 "$M" run "$CFG" $SMALL --out b.db
check "two identical runs: identical ledger hashes" [ "$(q a.db "select group_concat(hex(hash)) from ledger")" = "$(q b.db "select group_concat(hex(hash)) from ledger")" ]
check "two identical runs: identical event rows" [ "$(q a.db "select group_concat(hex(broadcast)) from environment_states") $(q a.db "select count(*), sum(credit) from di_credit_assignment")" = "$(q b.db "select group_concat(hex(broadcast)) from environment_states") $(q b.db "select count(*), sum(credit) from di_credit_assignment")" ]
expect_exit "run with 2 BLAS threads" 0 "$M" run "$CFG" $SMALL --set train.blas_threads=2 --out b2.db
check "1 and 2 BLAS threads: same parameter hashes after every update" [ "$(q a.db "select group_concat(params_sha256_after) from optimizer_steps")" = "$(q b2.db "select group_concat(params_sha256_after) from optimizer_steps")" ]
expect_exit "reproduce an intact lake: exit 0" 0 "$M" reproduce a.db --out r.db
check "reproduce says identical" grep -q '^identical' "$T/out"
cp a.db d.db
q d.db "update runs set config_text = replace(config_text, 'lr = 0.0003', 'lr = 0.003')"
expect_exit "reproduce with a changed stored config: exit 1" 1 "$M" reproduce d.db --out r2.db
check "reproduce says the edited lake does not verify" grep -q '^TAMPERED d.db' "$T/out"
check "reproduce says the stored config no longer gives the run's identity" grep -q 'was altered, so there is no run to reproduce' "$T/out"
sum_before=$(cksum a.db)
expect_exit "reproduce --out the original itself is refused" 2 "$M" reproduce a.db --out "./a.db"
check "the original is untouched" [ "$(cksum a.db)" = "$sum_before" ]
expect_exit "reproduce refuses an existing --out" 2 "$M" reproduce a.db --out r.db
expect_exit "reproduce --out the original's -wal is refused, even with --force" 2 "$M" reproduce a.db --out a.db-wal --force
check "no side file was created" [ ! -e a.db-wal ]
cp a.db u.db
q u.db "update runs set config_text = 'garbage'"
expect_exit "reproduce of a lake whose stored config is unreadable: exit 1 (it does not verify)" 1 "$M" reproduce u.db --out ru.db
expect_exit "reproduce --force replaces it" 0 "$M" reproduce a.db --out r.db --force

# --- learning bookkeeping ----------------------------------------------------
# The development key: the run's data (and so whether a gate ever loses)
# must not depend on the test's freshly generated keyring.
expect_exit "a run whose gate never tolerates a loss" 0 "$M" run "$CFG" --keyring dev --set run.env_steps=16384 --set sim.envs=16 --set gate.every=2 --set gate.tolerance=0 --quiet --out g0.db
check "tolerance 0: some updates were rolled back" [ "$(q g0.db "select count(*) from evaluations where decision = 'rolled_back'")" -gt 0 ]
check "rollback: the next update starts from the incumbent's exact parameters" [ "$(q g0.db "select count(*) || ' ' || sum(nxt.params_sha256_before = prev.params_sha256_after) from evaluations ev join optimizer_steps nxt on nxt.update_id = ev.undone_last + 1 join optimizer_steps prev on prev.update_id = (select max(update_id) from v_update_survival where survived and update_id < ev.undone_first) and prev.agent = nxt.agent where ev.decision = 'rolled_back'" | awk '$1 > 0 && $1 == $2 { print "ok" }')" = ok ]
check "rollback: v_update_survival marks exactly the undone updates" [ "$(q g0.db "select count(*) from v_update_survival where survived = 0")" = "$(q g0.db "select coalesce(sum(undone_last - undone_first + 1), 0) * 3 from evaluations where decision = 'rolled_back'")" ]
expect_exit "a run with poisoned broadcasts" 0 "$M" run "$CFG" --set run.env_steps=8192 --set sim.envs=16 --set gate.every=2 --set sim.poison_rate=0.2 --quiet --out p2.db
check "rejected broadcasts never reach an update" [ "$(q p2.db "select count(*) > 0 and count(update_id) = 0 and sum(policy_updated) = 0 from di_credit_assignment where valid = 0")" = 1 ]
check "every valid sample is consumed by its rollout's update" [ "$(q p2.db "select count(*) = count(update_id) from di_credit_assignment where valid = 1 and step < (select max(step) from di_credit_assignment)")" = 1 ]

# --- eval --policy RUN.db ---------------------------------------------------
expect_exit "eval --policy RUN.db" 0 "$M" eval "$CFG" --set sim.envs=16 --policy a.db --json
check "eval of the run's policy matches the recorded final score" sh -c "
  want=\$(sqlite3 a.db \"select printf('%.6f', eval_reward_per_step) from runs\")
  grep -q \"\\\"mean_reward_per_step\\\":\$want\" '$T/out'"
expect_exit "eval --policy with a mismatched observe is refused" 2 "$M" eval "$CFG" --set sim.envs=16 --set agents.observe=all --policy a.db

# --- views answer in one SELECT ---------------------------------------------
check "v_outcomes covers every joint action" [ "$(q a.db "select sum(n) from v_outcomes")" = "$(q a.db "select count(*) from joint_actions")" ]
check "v_rule_hits counts match a direct count" [ "$(q a.db "select coalesce(sum(hits),0) from v_rule_hits where rule='preview_requires_fetch'")" = "$(q a.db "select count(*) from joint_actions where rules like '%preview_requires_fetch%'")" ]
check "v_credit_by_class covers every credit row" [ "$(q a.db "select sum(samples) from v_credit_by_class")" = "$(q a.db "select count(*) from di_credit_assignment")" ]
check "v_gate_decisions lists every evaluation" [ "$(q a.db "select count(*) from v_gate_decisions")" = "$(q a.db "select count(*) from evaluations")" ]
check "v_learning_curve has one row per update and agent" [ "$(q a.db "select count(*) from v_learning_curve")" = "$(q a.db "select count(*) from optimizer_steps")" ]
check "observations read as JSON arrays" [ "$(q a.db "select min(json_array_length(obs)) || ',' || max(json_array_length(obs)) from agent_observations")" = "8,10" ]
check "policy_updated only where the parameters changed" [ "$(q a.db "select count(*) from di_credit_assignment c join optimizer_steps o on o.update_id=c.update_id and o.agent=c.agent where c.policy_updated=1 and o.params_sha256_before=o.params_sha256_after")" = 0 ]
check "some samples did update the policy" [ "$(q a.db "select count(*) from di_credit_assignment where policy_updated=1")" -gt 0 ]

# --- telemetry levels ------------------------------------------------------
expect_exit "run sampled" 0 "$M" run "$CFG" $SMALL --set telemetry.level=sampled --set telemetry.sample_every=4 --out s.db
expect_exit "run aggregate" 0 "$M" run "$CFG" $SMALL --set telemetry.level=aggregate --set telemetry.sample_every=8 --out g.db
steps=$((8192 / 16))
check "full: one environment_states row per env-step" [ "$(q a.db "select count(*) from environment_states")" = 8192 ]
check "sampled: every 4th step" [ "$(q s.db "select count(*) from environment_states")" = $((8192 / 4)) -a "$(q s.db "select count(distinct step) from joint_actions")" = $((steps / 4)) ]
check "sampled: credit every 4th step, 3 agents" [ "$(q s.db "select count(*) from di_credit_assignment")" = $((8192 / 4 * 3)) ]
check "aggregate: no per-step behavioural rows" [ "$(q g.db "select (select count(*) from environment_states)+(select count(*) from agent_observations)+(select count(*) from joint_actions)+(select count(*) from di_credit_assignment)")" = 0 ]
check "aggregate: windows cover every sample" [ "$(q g.db "select sum(samples) from behaviour_aggregates")" = $((8192 * 3)) ]
check "aggregate: the views over empty tables say so in one row (v_outcomes, v_rule_hits, v_credit_by_class, v_learning_curve)" [ "$(q g.db "select ((select count(*) from v_outcomes where class like '(empty: telemetry level = aggregate%')
  + (select count(*) from v_rule_hits where rule like '(empty:%') + (select count(*) from v_credit_by_class where agent like '(empty:%')
  + (select count(*) from v_learning_curve where agent like '(empty:%')) || ' ' || (select count(*) from v_outcomes)")" = "4 1" ]
check "full level: no such row" [ "$(q a.db "select count(*) from v_outcomes where class like '(empty%'")" = 0 ]
check "operational rows are complete at every level" [ "$(q a.db "select count(*) from optimizer_steps")" = "$(q s.db "select count(*) from optimizer_steps")" -a "$(q a.db "select count(*) from optimizer_steps")" = "$(q g.db "select count(*) from optimizer_steps")" ]
for f in s.db g.db; do expect_exit "verify $f" 0 "$M" verify $f; done

expect_exit "aggregate with one mailbox" 0 "$M" run "$CFG" --set sim.envs=1 --set telemetry.level=aggregate --set run.env_steps=512 --set train.minibatch=16 --quiet --out one.db
expect_exit "key rotation needing more generations than the keyring holds is refused" 2 "$M" run "$CFG" $SMALL --set sim.episode_len=16 --set keys.rotate_every_episodes=1 --out rot.db
check "the refusal says how many more generations" grep -q 'run `marlsim keys rotate` 32 more times' "$T/out"
check "the refused run wrote nothing" [ ! -e rot.db ]
i=0; while [ $i -lt 32 ]; do "$M" keys rotate >/dev/null || break; i=$((i + 1)); done
expect_exit "key rotation every episode" 0 "$M" run "$CFG" $SMALL --set sim.episode_len=16 --set keys.rotate_every_episodes=1 --out rot.db
check "rotation: the run used generations k0..k32 in order" [ "$(q rot.db "select key_ids from runs")" = "[$(seq 0 32 | sed 's/.*/"k&"/' | paste -sd,)]" ]
check "rotation: one pseudonym and one broadcast key row per generation" [ "$(q rot.db "select count(*) from hmac_keys where purpose='pseudonym'")" = $((8192 / 16 / 16)) -a "$(q rot.db "select count(distinct json_extract(broadcast, '$.kid')) from environment_states")" = $((8192 / 16 / 16)) ]
check "rotation: runs.key_ids lists every key (and the one of the final update's bootstrap observation)" [ "$(q rot.db "select json_array_length(key_ids) from runs")" = $((8192 / 16 / 16 + 1)) ]
expect_exit "verify the rotated lake" 0 "$M" verify rot.db
check "rotation: each key generation ends where the next begins" [ "$(q rot.db "select count(*) from hmac_keys a join hmac_keys b on a.purpose = b.purpose and b.first_step = a.last_step + 1")" = $((2 * (8192 / 16 / 16 - 1))) ]
"$M" run "$CFG" --set sim.episode_len=16 --set keys.rotate_every_episodes=1 --set run.env_steps=2000000 --keyring dev --quiet --out rk9.db >/dev/null 2>&1 &
pid=$!
# kill -9 once a closed key generation is committed (a fixed 1 s was too
# short on a loaded machine or under ASan: nothing committed yet), or after 60 s
for _ in $(seq 120); do
    [ -s rk9.db ] && [ "$(sqlite3 -readonly rk9.db "select count(*) from hmac_keys" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    sleep 0.5
done
kill -9 $pid
wait $pid 2>/dev/null
check "rotation, kill -9: every closed key generation is in hmac_keys" [ "$(q rk9.db "select count(distinct key_id) from hmac_keys")" -ge "$(q rk9.db "select count(distinct json_extract(broadcast, '\$.kid')) - 1 from environment_states")" -a "$(q rk9.db "select count(*) from hmac_keys")" -gt 0 ]
check "rotation, kill -9: runs.key_ids names every key used" [ "$(q rk9.db "select json_array_length(key_ids) from runs")" -ge "$(q rk9.db "select count(distinct json_extract(broadcast, '\$.kid')) from environment_states")" ]
check "rotation, kill -9: broadcasts use the generations in order, each from an episode boundary" [ "$(q rk9.db "select count(*) from environment_states where json_extract(broadcast, '\$.kid') != 'dev' || (step / 16)")" = 0 ]
expect_exit "too many key generations are refused" 2 "$M" run "$CFG" --set sim.envs=1 --set sim.episode_len=1 --set keys.rotate_every_episodes=1 --set run.env_steps=4800 --set train.minibatch=16 --keyring dev --out many.db
check "the refused run wrote nothing" [ ! -e many.db ]

# --- tampering and hostile files --------------------------------------------
cp a.db t.db
q t.db "drop trigger joint_actions_no_update; update joint_actions set reward = reward + 1 where rowid = 77;" 2>/dev/null || true
expect_exit "verify catches a row edit (schema changed): exit 1" 1 "$M" verify t.db
cp a.db t2.db
trig=$(q t2.db "select sql from sqlite_schema where name='joint_actions_no_update'")
q t2.db "drop trigger joint_actions_no_update; update joint_actions set a_bin = 1 - a_bin where rowid = 77; $trig;"
expect_exit "verify catches a row edit with the trigger restored: exit 1" 1 "$M" verify t2.db
check "the report names the table" grep -q joint_actions "$T/out"
expect_exit "reproduce of the edited lake: exit 1" 1 "$M" reproduce t2.db --out rt.db
check "reproduce finds the edited row (table, step, env)" grep -Eq '^DIVERGENT at ledger entry [0-9]+: table joint_actions, step [0-9]+, env [0-9]+' "$T/out"
check "reproduce names the edited column" grep -q 'column a_bin differs' "$T/out"
printf 'not a database\n' > junk.db
expect_exit "verify a text file: exit 2" 2 "$M" verify junk.db
expect_exit "verify a missing file: exit 2" 2 "$M" verify missing.db
head -c 20000 a.db > cut.db
expect_exit "verify a truncated lake: exit 2" 2 "$M" verify cut.db

# --- the lake's thread (writer_threads) --------------------------------------------
expect_exit "writer_threads = 0 (the lake written on the run's thread)" 0 "$M" run "$CFG" $SMALL --set telemetry.writer_threads=0 --out wt0.db
expect_exit "writer_threads = 1 (on its own thread)" 0 "$M" run "$CFG" $SMALL --set telemetry.writer_threads=1 --out wt1.db
# The files are the same bytes but for the wall-clock columns (started_at,
# finished_at: outside the chain): blank those out in copies and compare.
for k in 0 1; do
    python3 -c "import re,sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(re.sub(rb'20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z', b'T'*20, b))" wt$k.db wt$k.cmp
done
check "with and without the lake's thread: the same file, byte for byte (wall-clock columns aside)" cmp -s wt0.cmp wt1.cmp
check "... and the same head" [ "$(q wt0.db "select head_hash from runs")" = "$(q wt1.db "select head_hash from runs")" ]
check "writer_threads is not part of the hashed config" sh -c "! grep -q writer_threads <<EOF
\$(sqlite3 wt1.db 'select config_text from runs')
EOF"
expect_exit "writer_threads = 2: refused, exit 2" 2 "$M" run "$CFG" $SMALL --set telemetry.writer_threads=2 --out wt2.db

# --- the OpenBLAS core (blas_core) ----------------------------------------------
core() { q "$1" "select json_extract(build_facts, '$.openblas_core') from runs"; }
expect_exit "blas_core = Haswell: exit 0" 0 "$M" run "$CFG" $SMALL --set train.blas_core=Haswell --out core-h.db
check "... OpenBLAS ran Haswell (the build facts say so)" [ "$(core core-h.db)" = Haswell ]
expect_exit "reproduce of the Haswell lake from a process on another core: identical" 0 "$M" reproduce core-h.db --out core-h2.db
check "... the reproduction ran Haswell too (pinned to the recorded core)" [ "$(core core-h2.db)" = Haswell ]
"$M" run "$CFG" $SMALL --out core-a.db >"$T/out" 2>&1
OPENBLAS_CORETYPE=Prescott "$M" run "$CFG" $SMALL --out core-env.db >"$T/out" 2>&1
check "blas_core = auto is not overridden by OPENBLAS_CORETYPE in the environment" sh -c "[ -n \"$(core core-a.db)\" ] && [ \"$(core core-env.db)\" = \"$(core core-a.db)\" ]"
check "... and gives the same head as without it" [ "$(q core-env.db "select head_hash from runs")" = "$(q core-a.db "select head_hash from runs")" ]
expect_exit "blas_core = Prescott: exit 0" 0 "$M" run "$CFG" $SMALL --set train.blas_core=Prescott --out core-p.db
check "... OpenBLAS ran Prescott" [ "$(core core-p.db)" = Prescott ]
expect_exit "blas_core = an unknown name: exit 2" 2 "$M" run "$CFG" $SMALL --set train.blas_core=Pentium --out core-x.db
check "... naming the allowed cores" grep -q 'allowed: one of: auto, Cooperlake' "$T/out"
check "... writing nothing" [ ! -e core-x.db ]

# --- SIGINT -----------------------------------------------------------------
"$M" run "$CFG" --set run.env_steps=4000000 --quiet --out i.db >"$T/iout" 2>&1 &
pid=$!
sleep 2
kill -INT $pid
wait $pid; rc=$?
check "SIGINT: run exits 130" [ "$rc" = 130 ]
check "SIGINT: status interrupted" [ "$(q i.db "select status from runs")" = interrupted ]
expect_exit "SIGINT: verify without --allow-incomplete: exit 1" 1 "$M" verify i.db
check "SIGINT: verify reports an incomplete prefix" grep -q '^INCOMPLETE' "$T/out"
expect_exit "SIGINT: the lake verifies with --allow-incomplete" 0 "$M" verify i.db --allow-incomplete
check "SIGINT: its newest checkpoint is signed and states the interruption" sh -c "grep -q 'status interrupted' '$T/out' && grep -q '^status: interrupted\$' i.db.checkpoint"
check "SIGINT: no chain entry after the last rollout (no seal; the last entries are the rollout's credit)" [ "$(q i.db "select tbl from ledger order by seq desc limit 1")" = di_credit_assignment ]
check "SIGINT: the lake ends at a rollout boundary: the last recorded step was consumed by an update" [ "$(q i.db "select (select max(step) from di_credit_assignment where update_id is not null) = (select max(step) from joint_actions) and count(*) = 3 * (select count(*) from joint_actions) from di_credit_assignment")" = 1 ]
check "SIGINT: the samples no update consumed are exactly those the defence flagged" [ "$(q i.db "select count(*) - count(update_id) = 3 * (select count(*) from anomalies where agent is null) from di_credit_assignment")" = 1 ]
check "SIGINT: env_steps is the last update's" [ "$(q i.db "select env_steps from runs")" = "$(q i.db "select max(env_steps) from optimizer_steps")" ]
expect_exit "SIGINT: reproduce replays the interruption: exit 0" 0 "$M" reproduce i.db --out ri.db
check "SIGINT: the reproduction is identical, interruption included" sh -c "grep -q '^identical' '$T/out' && [ \"\$(sqlite3 ri.db 'select status, env_steps, head_hash from runs')\" = \"\$(sqlite3 i.db 'select status, env_steps, head_hash from runs')\" ]"

# --- kill -9 at random moments ------------------------------------------------
i=0 intact=0
while [ $i -lt "$CRASHES" ]; do
    i=$((i + 1))
    rm -f k.db k.db-wal k.db-shm
    "$M" run "$CFG" --set run.env_steps=2000000 --quiet --out k.db >/dev/null 2>&1 &
    pid=$!
    # Past lake creation (waited for: on a loaded machine it can take more
    # than 0.15 s; killing before it is the next loop's test), then 0.15 ..
    # 1.6 s: anywhere in the run.
    n=0; while [ ! -e k.db ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n + 1)); done
    sleep "$(awk -v s="$i$$" 'BEGIN { srand(s); printf "%.2f", 0.15 + rand() * 1.45 }')"
    kill -9 $pid
    wait $pid 2>/dev/null
    # Signed up to its newest checkpoint (INCOMPLETE; the entries after it
    # are an UNSIGNED TAIL), or killed before the first one (UNSIGNED:
    # intact, but nothing for the key to vouch for).
    "$M" verify k.db --allow-incomplete >"$T/kout" 2>&1; rc=$?
    if { [ $rc = 0 ] && grep -q '^INCOMPLETE' "$T/kout" && grep -q '^signed: ' "$T/kout"; } ||
       { [ $rc = 1 ] && grep -q '^UNSIGNED' "$T/kout" && grep -q 'before its first signed checkpoint' "$T/kout"; }; then
        intact=$((intact + 1)); else cat "$T/kout"; fi
done
check "kill -9 x $CRASHES: every lake verifies as an intact prefix ($intact/$CRASHES)" [ "$intact" = "$CRASHES" ]
expect_exit "kill -9: reproduce the last killed lake: exit 0" 0 "$M" reproduce k.db --out rk.db
check "kill -9: it is an identical prefix of its reproduction" grep -q '^identical prefix' "$T/out"

# kill -9 during lake creation: there is no lake, or one that verifies
i=0 intact=0
while [ $i -lt 20 ]; do
    i=$((i + 1))
    rm -f e.db e.db-wal e.db-shm e.db.creating-*
    "$M" run "$CFG" $SMALL --out e.db >/dev/null 2>&1 &
    pid=$!
    sleep "0.00$i"
    kill -9 $pid
    wait $pid 2>/dev/null
    if [ ! -e e.db ] || { "$M" verify e.db --allow-incomplete >"$T/kout" 2>&1; [ $? -le 1 ] && ! grep -Eq '^(TAMPERED|FOREIGN)' "$T/kout"; }; then intact=$((intact + 1)); else cat "$T/kout"; fi
done
check "kill -9 during creation x 20: no lake or an intact one ($intact/20)" [ "$intact" = 20 ]

echo "lake: $pass passed, $fail failed"
[ "$fail" = 0 ]
