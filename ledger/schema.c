/* schema.c — the lake's tables, triggers and views (contract in schema.h). */
#include "ledger/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lk_class_names[3] = {"operational", "security", "behavioural"};

#define I LK_INT
#define R LK_REAL
#define T LK_TEXT
#define B LK_BLOB

static const lk_column c_env_states[] = {
    {"step", I, 0, "simulation step, 0-based (every mailbox takes one message per step)"},
    {"env", I, 0, "mailbox index 0..envs-1"},
    {"broadcast", T, 0, "the global state S exactly as broadcast: canonical JSON bytes, pseudonymised (format v2: sim/bcast.h)"},
};
static const lk_column c_observations[] = {
    {"step", I, 0, "simulation step"},
    {"env", I, 0, "mailbox index"},
    {"agent", T, 0, "GET | OPEN | BIN"},
    {"schema_version", I, 0, "version of the observation layout"},
    {"obs", T, 0, "the observation the agent actually used, as a JSON array of numbers"},
};
static const lk_column c_actions[] = {
    {"step", I, 0, "simulation step"},
    {"env", I, 0, "mailbox index"},
    {"class", T, 0, "true message class: benign | spam | phishing | malware"},
    {"a_get", I, 0, "chosen action of GET (0 DO_NOTHING, 1 GET)"},
    {"a_open", I, 0, "chosen action of OPEN (0 DO_NOTHING, 1 OPEN_SAFE_PREVIEW)"},
    {"a_bin", I, 0, "chosen action of BIN (0 DO_NOTHING, 1 QUARANTINE)"},
    {"p_get", R, 0, "probability GET's policy gave action 1"},
    {"p_open", R, 0, "probability OPEN's policy gave action 1"},
    {"p_bin", R, 0, "probability BIN's policy gave action 1"},
    {"e_get", I, 0, "effective GET action after the rules engine"},
    {"e_open", I, 0, "effective OPEN action after the rules engine"},
    {"e_bin", I, 0, "effective BIN action after the rules engine"},
    {"rules", T, 0, "JSON array of the names of the rules that fired, in order"},
    {"reward", R, 0, "global reward r, clipped to +-reward_clip"},
    {"reward_raw", R, 1, "global reward before clipping; NULL when the clip did not bind (it equals reward): COALESCE(reward_raw, reward) is the raw reward"},
};
static const lk_column c_credit[] = {
    {"step", I, 0, "simulation step"},
    {"env", I, 0, "mailbox index"},
    {"agent", T, 0, "GET | OPEN | BIN (the message class is joint_actions.class of the same step and env)"},
    {"reward", R, 0, "global reward (clipped)"},
    {"reward_raw", R, 1, "global reward before clipping; NULL when the clip did not bind (it equals reward): COALESCE(reward_raw, reward) is the raw reward"},
    {"credit", R, 1, "credit routed to this agent (NULL when none was computed)"},
    {"method", T, 0, "difference | global | rules"},
    {"valid", I, 0, "1 when the broadcast passed validation and the sample may train"},
    {"update_id", I, 1, "optimizer update that consumed the sample; NULL when none did"},
    {"policy_updated", I, 0, "1 only when that update really changed this agent's parameters with this sample"},
};
static const lk_column c_optimizer[] = {
    {"update_id", I, 0, "optimizer update number (1-based)"},
    {"agent", T, 0, "GET | OPEN | BIN"},
    {"env_steps", I, 0, "env-steps taken when the update ran"},
    {"params_sha256_before", T, 0, "SHA-256 of the parameters before the update (hex)"},
    {"params_sha256_after", T, 0, "SHA-256 of the parameters after the update (hex)"},
    {"policy_loss", R, 1, "PPO clipped policy loss (mean over minibatches)"},
    {"value_loss", R, 1, "value loss"},
    {"entropy", R, 1, "mean policy entropy"},
    {"approx_kl", R, 1, "approximate KL(old || new)"},
    {"clip_frac", R, 1, "fraction of samples whose ratio was clipped"},
    {"grad_norm", R, 1, "gradient norm before clipping"},
    {"samples", I, 0, "samples used"},
    {"steps", I, 0, "optimizer (Adam) steps taken"},
    {"skipped_nonfinite", I, 0, "minibatch steps skipped for non-finite values"},
    {"gate", T, 1, "NULL, or the decision of the gate this update triggered"},
};
static const lk_column c_evaluations[] = {
    {"eval_id", I, 0, "evaluation number (1 = the baseline: the initial policy)"},
    {"update_id", I, 1, "last update included in the candidate (0 for the baseline)"},
    {"env_steps", I, 0, "env-steps taken when evaluated"},
    {"episodes", I, 0, "held-out episodes played"},
    {"candidate_score", R, 0, "greedy mean reward per env-step of the candidate"},
    {"best_score", R, 1, "best promoted score so far; NULL for the baseline"},
    {"tolerance", R, 0, "allowed loss: promoted iff candidate >= best - tolerance"},
    {"decision", T, 0, "baseline | promoted | rolled_back"},
    {"undone_first", I, 1, "first update a rollback undid, else NULL"},
    {"undone_last", I, 1, "last update a rollback undid, else NULL"},
};
static const lk_column c_snapshots[] = {
    {"snapshot_id", I, 0, "snapshot number"},
    {"eval_id", I, 1, "evaluation that promoted it (NULL when none)"},
    {"update_id", I, 1, "last update included (0 for the initial policy, the baseline)"},
    {"agent", T, 0, "GET | OPEN | BIN"},
    {"sha256", T, 0, "SHA-256(params) as 64 lowercase hex digits; re-derived by verify and eval"},
    {"params", B, 0, "the parameters, in nn/'s serialisation"},
};
static const lk_column c_anomalies[] = {
    {"step", I, 0, "simulation step"},
    {"env", I, 0, "mailbox index"},
    {"agent", T, 1, "agent that rejected the broadcast (NULL: a sample of every agent, e.g. a defence flag)"},
    {"detector", T, 0, "broadcast_validator (in transit), reward_contradicts_evidence or link_history (the defence)"},
    {"reason", T, 0, "short machine-readable reason (the validator's rejection reason; excluded_from_training)"},
    {"score", R, 1, "the detector's score (defence: log-likelihood ratio in nats, or flagged samples of the link); NULL for the validator"},
    {"detail", T, 1, "human-readable detail"},
};
static const lk_column c_keys[] = {
    {"key_id", T, 0, "key id as each broadcast names it (its \"kid\": the key of its pseudonyms and MAC)"},
    {"purpose", T, 0, "what the key is for (pseudonym, broadcast_mac, ...)"},
    {"fingerprint", T, 0, "public fingerprint of the key (never the key)"},
    {"first_step", I, 1, "first simulation step the key was used"},
    {"last_step", I, 1, "last simulation step the key was used"},
};
static const lk_column c_poison[] = {
    {"step", I, 0, "simulation step"},
    {"env", I, 0, "mailbox index"},
    {"threat", T, 0, "transit (altered after the MAC) | source (a backdoor campaign's message)"},
    {"kind", T, 0, "transit: bad_mac | replay | truncated | extra_field; source: backdoor (honest feedback) | forged_feedback"},
};
static const lk_column c_surveillance[] = {
    {"eval_id", I, 0, "the gate evaluation that found it"},
    {"update_id", I, 0, "the last update of the candidate"},
    {"agent", T, 0, "GET | OPEN | BIN"},
    {"detector", T, 0, "non_finite | entropy_collapse | action_drift | reward_hacking"},
    {"severity", T, 0, "critical | warning"},
    {"value", R, 1, "what was measured (entropy in nats, action-1 rate change, reward and harm rises)"},
    {"threshold", R, 1, "the limit it crossed"},
    {"action", T, 0, "recorded | suspended (rolled back to the last promoted snapshot and frozen) | frozen (already)"},
    {"detail", T, 1, "human-readable detail"},
};
static const lk_column c_aggregates[] = {
    {"window_start", I, 0, "first simulation step of the window (every mailbox takes one message per step)"},
    {"window_steps", I, 0, "simulation steps in the window"},
    {"agent", T, 0, "GET | OPEN | BIN"},
    {"class", T, 0, "true message class"},
    {"samples", I, 0, "samples aggregated"},
    {"chose_1", I, 0, "samples where the agent chose action 1"},
    {"effective_1", I, 0, "samples where action 1 was effective after the rules"},
    {"reward_sum", R, 0, "sum of the global reward"},
    {"credit_sum", R, 0, "sum of the routed credit"},
};

static const lk_column c_tombstones[] = {
    {"purge_id", I, 0, "the purge that removed the entry's payload (purges.purge_id); 0: an export removed it (runs.exported_class; no ledger entry covers such a row)"},
    {"seq", I, 0, "the ledger entry whose rows (and salt) were removed"},
    {"tbl", T, 0, "its table"},
    {"step", I, 0, "its step label (ledger.step: the simulation step)"},
    {"first_rowid", I, 0, "first removed rowid of tbl"},
    {"n_rows", I, 0, "rows removed: rowids first_rowid .. first_rowid + n_rows - 1"},
    {"commitment", B, 0, "the entry's commitment (= ledger.commitment, 32 bytes): SHA-256([salt ||] the removed rows' bytes); without the salt it cannot be tested against guesses"},
};
static const lk_column c_purges[] = {
    {"purge_id", I, 0, "1, 2, 3, ... in chain order"},
    {"class", T, 0, "operational | security | behavioural: the class whose payloads it removed"},
    {"before_step", I, 0, "it removed the payloads of that class's entries with step < before_step"},
    {"policy", T, 0, "how it was asked for: --class C --before-step N, or the retention key and config it came from"},
    {"entries", I, 0, "ledger entries whose payloads it removed (its tombstones)"},
    {"rows", I, 0, "rows it removed"},
};

#undef I
#undef R
#undef T
#undef B

#define COLS(a) (int)(sizeof(a) / sizeof((a)[0])), a

const lk_table lk_tables[LKT_COUNT] = {
    {"environment_states", LK_BEHAVIOURAL,
     "one row per mailbox per step: the broadcast global state S (its SHA-256 is not\n"
     "stored: verify re-hashes the bytes, and the ledger commits to them)", COLS(c_env_states),
     0, 1, -1, -1, -1, 0},
    {"agent_observations", LK_BEHAVIOURAL,
     "one row per agent per mailbox per step: what the agent extracted from S", COLS(c_observations),
     0, 1, 2, -1, -1, 0},
    {"joint_actions", LK_BEHAVIOURAL,
     "one row per mailbox per step: chosen and effective joint action, reward; the\n"
     "outcome follows from the effective actions (SPEC 4), and v_joint_actions adds it",
     COLS(c_actions), 0, 1, -1, -1, -1, 0},
    {"di_credit_assignment", LK_BEHAVIOURAL,
     "one row per agent per mailbox per step: the credit routed to the agent and\n"
     "the update that consumed it (rows are appended once their update is done)",
     COLS(c_credit), 0, 1, 2, -1, -1, 0},
    {"optimizer_steps", LK_OPERATIONAL, "one row per agent per PPO update", COLS(c_optimizer),
     -1, -1, 1, -1, -1, 0},
    {"evaluations", LK_OPERATIONAL,
     "held-out greedy evaluation of the candidate policy and the gate's decision",
     COLS(c_evaluations), -1, -1, -1, -1, -1, 0},
    {"policy_snapshots", LK_OPERATIONAL, "the parameters of every promoted policy",
     COLS(c_snapshots), -1, -1, 3, 4, 5, 1},
    {"anomalies", LK_SECURITY, "broadcasts an agent rejected (one row per rejecting agent) and samples the defence\n"
     "excluded from training (one row per sample, agent NULL), with detector, reason and score",
     COLS(c_anomalies), 0, 1, 2, -1, -1, 0},
    {"hmac_keys", LK_SECURITY, "keys used: ids and fingerprints only, never key material",
     COLS(c_keys), -1, -1, -1, -1, -1, 0},
    {"poison_truth", LK_SECURITY, "ground truth of poisoning: tampering in transit, backdoor messages and forged feedback",
     COLS(c_poison), 0, 1, -1, -1, -1, 0},
    {"surveillance_events", LK_SECURITY, "agent surveillance findings at gates, and what was done about them",
     COLS(c_surveillance), -1, -1, 2, -1, -1, 0},
    {"behaviour_aggregates", LK_BEHAVIOURAL,
     "per-window aggregates of behavioural data (telemetry level = aggregate)",
     COLS(c_aggregates), -1, -1, 2, -1, -1, 0},
    {"tombstones", LK_SECURITY,
     "what purges (and exports) removed: one row per ledger entry whose rows and salt\n"
     "are gone, with the commitment the chain still checks; never purged",
     COLS(c_tombstones), -1, -1, -1, -1, -1, 0},
    {"purges", LK_OPERATIONAL, "one row per purge: class, cut-off step, how it was asked for, what it removed; never purged",
     COLS(c_purges), -1, -1, -1, -1, -1, 0},
};

const lk_column lk_runs_columns[LKR_NCOLS] = {
    {"run_id", LK_TEXT, 0, "run identifier"},
    {"name", LK_TEXT, 0, "[run] name"},
    {"seed", LK_INT, 0, "[run] seed (a u64 stored as its two's-complement int64)"},
    {"config_text", LK_TEXT, 0, "canonical configuration text (every key, defaults included)"},
    {"config_sha256", LK_TEXT, 0, "SHA-256(config_text), hex: the config hash"},
    {"version", LK_TEXT, 0, "marlsim version that wrote the lake"},
    {"build_facts", LK_TEXT, 0, "JSON: compiler, SQLite and OpenBLAS versions, cores, threads"},
    {"key_ids", LK_TEXT, 0, "JSON: ids of the keys used"},
    {"dev_key", LK_INT, 0, "1 when the development key derived from the seed was used"},
    {"origin", LK_TEXT, 0, "checkpoint origin: marlsim/<run_id>, or marlsim/<run_id>/reproduce for a reproduction"},
    {"status", LK_TEXT, 0, "running | completed | interrupted | failed (completed is sealed in the chain; the others are stated by the last signed checkpoint)"},
    {"genesis", LK_TEXT, 0, "genesis hash (hex) of the ledger chain"},
    {"head_hash", LK_TEXT, 0, "hash (hex) of the last committed ledger entry"},
    {"ledger_rows", LK_INT, 0, "ledger entries committed"},
    {"row_counts", LK_TEXT, 0, "JSON object: event table -> rows committed"},
    {"env_steps", LK_INT, 0, "env-steps taken"},
    {"eval_reward_per_step", LK_REAL, 1, "the run's final figure: mean reward per env-step on the report episodes (a completed run: sealed in the chain; otherwise the incumbent's gate score, never hashed)"},
    {"started_at", LK_TEXT, 1, "wall clock, UTC (never hashed)"},
    {"finished_at", LK_TEXT, 1, "wall clock, UTC (never hashed)"},
    {"exported_class", LK_TEXT, 1, "NULL, or the class an export (`marlsim export`) kept: the other classes' payloads are replaced by tombstones (purge_id 0) (never hashed)"},
};

static const int identity_cols[] = {LKR_RUN_ID, LKR_NAME, LKR_SEED, LKR_CONFIG_SHA256, LKR_VERSION, LKR_KEY_IDS,
                                    LKR_DEV_KEY};
static const int build_cols[] = {LKR_BUILD_FACTS};
static const int seal_cols[] = {LKR_STATUS, LKR_ENV_STEPS, LKR_EVAL_REWARD};
const lk_runs_entry lk_runs_entries[LK_RUNS_NENTRY] = {
    {"runs.identity", (int)(sizeof identity_cols / sizeof identity_cols[0]), identity_cols},
    {"runs.build", 1, build_cols},
    {"runs.seal", (int)(sizeof seal_cols / sizeof seal_cols[0]), seal_cols},
};

int lk_runs_entry_find(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int k = 0; k < LK_RUNS_NENTRY; k++)
        if (strlen(lk_runs_entries[k].tbl) == len && memcmp(lk_runs_entries[k].tbl, name, len) == 0)
            return k;
    return -1;
}

size_t lk_row_counts_json(const int64_t rows[LKT_COUNT], char *out, size_t n)
{
    size_t k = 0;
#define ROOM (k < n ? n - k : 0)
    k += (size_t)snprintf(out + k, ROOM, "{");
    for (int t = 0; t < LKT_COUNT; t++)
        k += (size_t)snprintf(out + k, ROOM, "%s\"%s\":%lld", t ? "," : "", lk_tables[t].name,
                              (long long)rows[t]);
    k += (size_t)snprintf(out + k, ROOM, "}");
#undef ROOM
    return k;
}

int lk_class_find(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int k = 0; k < 3; k++)
        if (strlen(lk_class_names[k]) == len && memcmp(lk_class_names[k], name, len) == 0)
            return k;
    return -1;
}

int lk_table_find(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int t = 0; t < LKT_COUNT; t++)
        if (strlen(lk_tables[t].name) == len && memcmp(lk_tables[t].name, name, len) == 0)
            return t;
    return -1;
}

/* ---- script generation ---------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* b->p is NULL before the first growth: NULL + 0 is undefined
         * behaviour (clang's UBSan stops the fuzz build's lake setup on it). */
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* Adds doc (lines separated by '\n') as "  -- line" comment lines. */
static void sb_doc(sbuf *b, const char *indent, const char *doc)
{
    while (*doc) {
        const char *nl = strchr(doc, '\n');
        int n = nl ? (int)(nl - doc) : (int)strlen(doc);
        sb_add(b, "%s--%s%.*s\n", indent, n ? " " : "", n, doc);
        doc += n + (nl ? 1 : 0);
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case LK_INT: return "INTEGER";
    case LK_REAL: return "REAL";
    case LK_TEXT: return "TEXT";
    default: return "BLOB";
    }
}

static void sb_columns(sbuf *b, const lk_column *cols, int n, const char *const *extra)
{
    for (int c = 0; c < n; c++) {
        const char *x = extra && extra[c] ? extra[c] : "";
        sb_add(b, "  %s %s%s%s%s -- %s\n", cols[c].name, type_name(cols[c].type),
               cols[c].nullable ? "" : " NOT NULL", x, c + 1 < n ? "," : "", cols[c].doc);
    }
}

static const char lake_overview[] =
    "marlsim telemetry lake, schema v4 (PRAGMA user_version = 4,\n"
    "application_id = 0x4D41524C 'MARL'). One SQLite file per run, WAL mode.\n"
    "\n"
    "runs is the one mutable table (a single row: the run's identity, status and\n"
    "ledger head). Every event table is STRICT and append-only (triggers refuse\n"
    "UPDATE and DELETE; only `marlsim purge` removes payloads, leaving\n"
    "tombstones); each of its rows enters one SHA-256 hash chain, the ledger\n"
    "table, as part of the entry that appended it:\n"
    "  hash(entry) = SHA-256(hash(previous entry) || entry header || body),\n"
    "  body = the commitment SHA-256([salt ||] rows' canonical bytes) kept in\n"
    "  ledger.commitment, salted for every table but tombstones and purges (the\n"
    "  salt, in table salts, goes with the payload when it is purged),\n"
    "starting from a genesis hash bound to run_id, config_text and seed. The\n"
    "first entry binds this row's identity, the second the build facts, and a\n"
    "completed run ends with a seal entry (status, env_steps, final reward).\n"
    "checkpoints holds signed RFC 6962 tree heads over the ledger entries (C2SP\n"
    "signed notes): statements about the chain, not entries in it.\n"
    "A purge removes the rows (and salt) of whole ledger entries of one class,\n"
    "leaves one tombstones row per entry (its commitment, which the chain still\n"
    "checks), and appends itself as two chained entries (tombstones, purges) and\n"
    "a new signed checkpoint. An export (exported_class set) is a copy holding\n"
    "one class's payloads, tombstones (purge_id 0) for the rest.\n"
    "`marlsim verify RUN.db` re-derives every hash; byte layout: ledger/canon.h.\n"
    "\n"
    "Tables and their telemetry class: SELECT * FROM v_table_classes.\n"
    "Views: v_learning_curve, v_rule_hits, v_credit_by_class, v_joint_actions,\n"
    "  v_outcomes, v_gate_decisions, v_anomalies_by_reason, v_update_survival,\n"
    "  v_table_classes.\n"
    "\n"
    "Schema v3 against v2, fewer bytes per env-step (each a deviation from the\n"
    "column lists of SPEC 5 or the pseudonym form of SPEC 1; see ledger/schema.h):\n"
    "broadcasts are format v2 (pseudonyms: 22 base64url symbols without a\n"
    "'<key_id>:' prefix, the MAC: 43 base64url symbols; sim/bcast.h);\n"
    "environment_states has no sha256 column (verify re-hashes the bytes);\n"
    "joint_actions has no outcome column (v_joint_actions derives it from the\n"
    "effective actions); di_credit_assignment has no class column (join\n"
    "joint_actions on step and env); reward_raw is NULL where it equals reward.\n"
    "\n"
    "This row:";

/* Under [telemetry] level = aggregate the behavioural tables stay empty;
 * the views over them then say so in one row instead of returning nothing. */
#define AGGREGATE_NOTE(tbl)                                                                                      \
    "'(empty: telemetry level = aggregate keeps no " tbl " rows; see behaviour_aggregates)'"
#define WHEN_AGGREGATE(tbl)                                                                                      \
    " WHERE NOT EXISTS (SELECT 1 FROM " tbl ")\n"                                                                \
    "    AND (SELECT config_text FROM runs) LIKE '%' || char(10) || 'level = aggregate' || char(10) || '%'\n"

static const char views_sql[] =
    "CREATE VIEW v_learning_curve AS -- per update and agent: samples it consumed, mean reward,\n"
    "  -- mean credit, share of samples that really changed the parameters\n"
    "  SELECT update_id, agent, COUNT(*) AS samples, AVG(reward) AS mean_reward,\n"
    "         AVG(credit) AS mean_credit, AVG(policy_updated) AS share_policy_updated\n"
    "  FROM di_credit_assignment WHERE update_id IS NOT NULL\n"
    "  GROUP BY update_id, agent\n"
    "  UNION ALL SELECT NULL, " AGGREGATE_NOTE("di_credit_assignment") ", NULL, NULL, NULL, NULL\n"
    WHEN_AGGREGATE("di_credit_assignment")
    "  ORDER BY update_id, agent;\n"
    "CREATE VIEW v_rule_hits AS -- how often each safety rule fired\n"
    "  SELECT r.value AS rule, COUNT(*) AS hits\n"
    "  FROM joint_actions AS j, json_each(j.rules) AS r\n"
    "  GROUP BY r.value\n"
    "  UNION ALL SELECT " AGGREGATE_NOTE("joint_actions") ", NULL\n"
    WHEN_AGGREGATE("joint_actions")
    "  ORDER BY hits DESC, rule;\n"
    "CREATE VIEW v_credit_by_class AS -- credit and reward per agent per message class\n"
    "  -- (the class is the joint action's: one joint_actions row per step and env)\n"
    "  SELECT d.agent AS agent, j.class AS class, COUNT(*) AS samples,\n"
    "         AVG(d.credit) AS mean_credit, AVG(d.reward) AS mean_reward\n"
    "  FROM di_credit_assignment AS d JOIN joint_actions AS j ON j.step = d.step AND j.env = d.env\n"
    "  GROUP BY d.agent, j.class\n"
    "  UNION ALL SELECT " AGGREGATE_NOTE("di_credit_assignment") ", NULL, NULL, NULL, NULL\n"
    WHEN_AGGREGATE("di_credit_assignment")
    "  ORDER BY agent, class;\n"
    "CREATE VIEW v_joint_actions AS -- joint_actions with each row's outcome:\n"
    "  -- delivered | previewed | quarantined | ignored, from the effective actions\n"
    "  -- exactly as the rules engine decides it (sim/rules.c)\n"
    "  SELECT *, CASE WHEN e_bin = 1 THEN 'quarantined' WHEN e_get = 1 AND e_open = 1 THEN 'previewed'\n"
    "                 WHEN e_get = 1 THEN 'delivered' ELSE 'ignored' END AS outcome\n"
    "  FROM joint_actions;\n"
    "CREATE VIEW v_outcomes AS -- outcome counts per message class\n"
    "  SELECT class, outcome, COUNT(*) AS n FROM v_joint_actions\n"
    "  GROUP BY class, outcome\n"
    "  UNION ALL SELECT " AGGREGATE_NOTE("joint_actions") ", NULL, NULL\n"
    WHEN_AGGREGATE("joint_actions")
    "  ORDER BY class, outcome;\n"
    "CREATE VIEW v_gate_decisions AS -- every gate evaluation and what it decided\n"
    "  SELECT eval_id, update_id, env_steps, candidate_score, best_score, tolerance,\n"
    "         candidate_score - best_score AS margin, decision, undone_first, undone_last\n"
    "  FROM evaluations ORDER BY eval_id;\n"
    "CREATE VIEW v_anomalies_by_reason AS -- anomaly rows per detector and reason: a rejected broadcast\n"
    "  -- counts once per rejecting agent (3 rows), a defence flag once per sample\n"
    "  SELECT detector, reason, COUNT(*) AS n FROM anomalies GROUP BY detector, reason\n"
    "  ORDER BY n DESC, detector, reason;\n"
    "CREATE VIEW v_update_survival AS -- 0 when a rollback undid the update, else 1\n"
    "  SELECT o.update_id, o.agent,\n"
    "         NOT EXISTS (SELECT 1 FROM evaluations AS e WHERE e.decision = 'rolled_back'\n"
    "                     AND o.update_id BETWEEN e.undone_first AND e.undone_last) AS survived\n"
    "  FROM optimizer_steps AS o ORDER BY o.update_id, o.agent;\n";

static void sb_append_only(sbuf *b, const char *t)
{
    sb_add(b,
           "CREATE TRIGGER %s_no_update BEFORE UPDATE ON %s\n"
           "  BEGIN SELECT RAISE(ABORT, '%s is append-only'); END;\n"
           "CREATE TRIGGER %s_no_delete BEFORE DELETE ON %s\n"
           "  BEGIN SELECT RAISE(ABORT, '%s is append-only'); END;\n",
           t, t, t, t, t, t);
}

int lk_schema_script(char **sql, ms_err *e)
{
    sbuf b = {0};
    *sql = NULL;

    /* runs: documentation of the whole lake inside its CREATE text. */
    const char *runs_extra[LKR_NCOLS] = {0};
    runs_extra[LKR_RUN_ID] = " PRIMARY KEY";
    runs_extra[LKR_STATUS] = " CHECK (status IN ('running','completed','interrupted','failed'))";
    runs_extra[LKR_EXPORTED_CLASS] = " CHECK (exported_class IN ('operational','security','behavioural'))";
    sb_add(&b, "CREATE TABLE runs ( -- [operational]\n");
    sb_doc(&b, "  ", lake_overview);
    sb_columns(&b, lk_runs_columns, LKR_NCOLS, runs_extra);
    sb_add(&b, ") STRICT;\n");

    for (int t = 0; t < LKT_COUNT; t++) {
        const lk_table *T = &lk_tables[t];
        sb_add(&b, "CREATE TABLE %s ( -- [%s] append-only, hashed into the ledger\n", T->name,
               lk_class_names[T->tclass]);
        sb_doc(&b, "  ", T->doc);
        sb_columns(&b, T->cols, T->ncols, NULL);
        sb_add(&b, ") STRICT;\n");
        sb_append_only(&b, T->name);
    }

    sb_add(&b,
           "CREATE TABLE ledger ( -- [operational] the hash chain: one entry per append call,\n"
           "  -- covering rows first_rowid .. first_rowid + n_rows - 1 of table tbl\n"
           "  -- (runs.identity / runs.build / runs.seal: columns of the runs row)\n"
           "  seq INTEGER PRIMARY KEY, -- 1, 2, 3, ... with no gaps\n"
           "  tbl TEXT NOT NULL, -- event table (or runs entry) the entry covers\n"
           "  step INTEGER NOT NULL, -- the writer's label: simulation step, or env-steps\n"
           "  first_rowid INTEGER NOT NULL, -- first covered rowid of tbl\n"
           "  n_rows INTEGER NOT NULL, -- rows covered (contiguous rowids)\n"
           "  commitment BLOB, -- event entries: SHA-256([salt ||] rows' bytes), 32 bytes (salted but for\n"
           "  -- tombstones and purges); NULL for the runs.* entries\n"
           "  hash BLOB NOT NULL -- SHA-256(previous hash || header || body), 32 bytes\n"
           ") STRICT;\n");
    sb_append_only(&b, "ledger");
    sb_add(&b,
           "CREATE TABLE salts ( -- [operational] the salt of each event-table ledger entry;\n"
           "  -- purge removes it with the entry's rows, so a purged payload cannot be\n"
           "  -- recovered by trying candidates against its commitment\n"
           "  seq INTEGER PRIMARY KEY, -- the ledger entry\n"
           "  salt BLOB NOT NULL -- 32 bytes, HMAC of the keyring's commitment key (never the key)\n"
           ") STRICT;\n");
    sb_append_only(&b, "salts");
    sb_add(&b,
           "CREATE TABLE checkpoints ( -- [operational] signed tree heads over the ledger, every\n"
           "  -- [telemetry] checkpoint_every entries, at the end and at an interrupt; the\n"
           "  -- newest is also RUN.db.checkpoint. Not chained: statements about the chain.\n"
           "  cp_id INTEGER PRIMARY KEY, -- 1, 2, 3, ...\n"
           "  tree_size INTEGER NOT NULL, -- ledger entries the tree covers (RFC 6962 leaves)\n"
           "  status TEXT, -- final status the last checkpoint states; NULL for periodic ones\n"
           "  note TEXT NOT NULL -- C2SP tlog-checkpoint signed as a C2SP signed note (Ed25519)\n"
           ") STRICT;\n");
    sb_append_only(&b, "checkpoints");
    sb_add(&b, "%s", views_sql);
    /* The class of every table, from the same table descriptions. */
    sb_add(&b, "CREATE VIEW v_table_classes AS -- every table, its telemetry class, whether the ledger chains its rows\n"
               "  SELECT column1 AS name, column2 AS class, column3 AS chained, column4 AS what FROM (VALUES\n");
    sb_add(&b, "    ('runs', 'operational', 1, 'the run: identity, status, ledger head'),\n");
    for (int t = 0; t < LKT_COUNT; t++) {
        const char *d = lk_tables[t].doc;
        int n = (int)strcspn(d, "\n'");
        sb_add(&b, "    ('%s', '%s', 1, '%.*s'),\n", lk_tables[t].name, lk_class_names[lk_tables[t].tclass], n, d);
    }
    sb_add(&b, "    ('ledger', 'operational', 0, 'the hash chain'),\n"
               "    ('salts', 'operational', 0, 'the salt of each entry, removed with its payload'),\n"
               "    ('checkpoints', 'operational', 0, 'signed tree heads'));\n");

    if (b.oom) {
        free(b.p);
        return ms_fail(e, MS_EIO, "lake schema: out of memory");
    }
    *sql = b.p;
    return MS_OK;
}
