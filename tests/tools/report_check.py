#!/usr/bin/env python3
"""report_check.py DB HTML [--verdict V] [--signer NAME+ID] [--empty a,b]

Checks a `marlsim report` file against direct sqlite3 queries on the same
lake (the sqlite3 shell, which may use temporary storage, so the queries
are the lake's views themselves). Prints one line per check, "PASS name"
or "FAIL name: detail", for tests/report.sh to count. Exit 0 always once
both files could be read (the lines carry the verdicts), 2 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_html  # noqa: E402

CHARTS_FULL = {"chart-learning", "chart-outcomes", "chart-rules", "chart-credit"}


def q(db, sql):
    out = subprocess.run(["sqlite3", "-json", db, sql], check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


def f4(x):
    return "n/a" if x is None else "%.4f" % x


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {str(detail)[:500]}")


def num_close(cell, value, tol=0.00006):
    try:
        return abs(float(cell) - value) <= tol
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("html")
    ap.add_argument("--verdict", default="OK")
    ap.add_argument("--signer", default="")
    ap.add_argument("--empty", default="")
    a = ap.parse_args()
    try:
        r = report_html.parse(a.html)
    except (OSError, UnicodeDecodeError) as err:
        print(f"report_check.py: {err}", file=sys.stderr)
        return 2
    db = a.db
    c = Checks()
    T = r["tables"]
    S = r["svgs"]
    runs = q(db, "SELECT * FROM runs")[0]
    level = next(l.split("=")[1].strip() for l in runs["config_text"].splitlines() if l.startswith("level ="))
    aggregate = level == "aggregate"

    # --- structure -----------------------------------------------------------
    c.check("parses as XML-ish HTML (every element closed, in order)", r["well_formed"], r["errors"])
    c.check("no <script>, no JavaScript, nothing loaded from elsewhere",
            "script" not in r["tags"] and not r["external"] and "javascript:" not in open(a.html).read().lower(),
            (r["tags"].get("script"), r["external"]))
    want = CHARTS_FULL if not aggregate else {"chart-learning", "chart-credit"}
    c.check(f"one <svg> per chart: {sorted(want)}", set(S) == want and r["tags"].get("svg") == len(want),
            sorted(S))
    c.check(f"verdict {a.verdict}", r["texts"].get("verdict") == a.verdict, r["texts"].get("verdict"))
    want_empty = sorted(x for x in a.empty.split(",") if x)
    c.check(f"sections said to be empty: {want_empty}", sorted(r["empty"]) == want_empty, r["empty"])

    # --- learning curve --------------------------------------------------------
    ev = q(db, "SELECT * FROM v_gate_decisions")
    pts = [e for e in S.get("chart-learning", []) if e["tag"] == "circle" and "data-eval" in e["attrs"]]
    c.check("learning chart: one point per gate evaluation, in eval_id order",
            [int(p["attrs"]["data-eval"]) for p in pts] == [e["eval_id"] for e in ev] and len(ev) > 0,
            ([p["attrs"]["data-eval"] for p in pts], [e["eval_id"] for e in ev]))
    xs = [float(p["attrs"]["cx"]) for p in pts]
    ys = [float(p["attrs"]["cy"]) for p in pts]
    sc = [e["candidate_score"] for e in ev]
    span = (max(sc) - min(sc)) if sc else 0
    c.check("learning chart: x grows with env-steps, y falls as the score rises",
            all((xs[i] < xs[j]) == (ev[i]["env_steps"] < ev[j]["env_steps"])
                for i in range(len(ev)) for j in range(len(ev)) if ev[i]["env_steps"] != ev[j]["env_steps"])
            and all(ys[i] <= ys[j] + 0.06 and (ys[i] < ys[j] or sc[i] - sc[j] < 0.01 * span)
                    for i in range(len(ev)) for j in range(len(ev)) if sc[i] > sc[j]), (xs, ys))
    cls = [p["attrs"]["class"].split()[1] for p in pts]
    c.check("learning chart: each point's colour class is its decision",
            cls == ["d-" + e["decision"] for e in ev], cls)
    marks = [e for e in S.get("chart-learning", []) if "rollback-mark" in e["attrs"].get("class", "")]
    rolled = [e["eval_id"] for e in ev if e["decision"] == "rolled_back"]
    c.check("learning chart: one rollback mark per rolled_back evaluation",
            [int(m["attrs"]["data-eval"]) for m in marks] == rolled, (len(marks), rolled))
    head = (T.get("table-gates") or [[]])[0]
    c.check("gate table: the view's margin is headed 'score - best' (not score minus threshold)",
            head[4:6] == ["threshold", "score - best"], head)
    rows = T.get("table-gates", [])[1:]
    want_rows = [[str(e["eval_id"]), str(e["update_id"]), str(e["env_steps"]), f4(e["candidate_score"]),
                  f4(None if e["best_score"] is None else e["best_score"] - e["tolerance"]), f4(e["margin"]),
                  e["decision"],
                  "" if e["undone_first"] is None else f'{e["undone_first"]}–{e["undone_last"]}'] for e in ev]
    c.check("gate table = v_gate_decisions (score, threshold, margin, decision, undone)",
            len(rows) == len(want_rows) and all(
                x[:3] == y[:3] and x[6:] == y[6:] and all(
                    (u == v) or (u != "n/a" and v != "n/a" and num_close(u, float(v))) for u, v in zip(x[3:6], y[3:6]))
                for x, y in zip(rows, want_rows)), (rows[:2], want_rows[:2]))
    fig = runs["eval_reward_per_step"]
    c.check("final report figure = runs.eval_reward_per_step",
            (fig is None and r["texts"].get("final-figure") == "none") or
            (fig is not None and num_close(r["texts"].get("final-figure", "x"), fig)), (r["texts"].get("final-figure"), fig))

    # --- outcomes ------------------------------------------------------------------
    if not aggregate:
        vo = q(db, "SELECT * FROM v_outcomes")
        bars = [e for e in S["chart-outcomes"] if e["tag"] == "rect" and "bar" in e["attrs"].get("class", "")]
        c.check("outcomes chart: one bar per v_outcomes row, each with its count",
                sorted(int(b["attrs"]["data-n"]) for b in bars) == sorted(o["n"] for o in vo) and len(vo) > 0,
                (len(bars), len(vo)))
        tot = {}
        for o in vo:
            tot[o["class"]] = tot.get(o["class"], 0) + o["n"]
        widths = sorted(float(b["attrs"]["width"]) for b in bars)
        want_w = sorted(720.0 * o["n"] / tot[o["class"]] for o in vo)
        c.check("outcomes chart: each bar's length is its share of the class (720 px = 100%)",
                all(abs(x - y) < 0.02 for x, y in zip(widths, want_w)), (widths[:4], want_w[:4]))
        t = T["table-outcomes"]
        head = t[0]
        got = {(row[0], head[i]): row[i] for row in t[1:] for i in range(1, len(head) - 1)}
        c.check("outcomes table = v_outcomes (every class x outcome count, totals)",
                all(got.get((o["class"], o["outcome"])) == str(o["n"]) for o in vo) and
                all(row[-1] == str(tot[row[0]]) for row in t[1:]) and len(t) - 1 == len(tot), t[:3])

        vr = q(db, "SELECT * FROM v_rule_hits")
        bars = [e for e in S["chart-rules"] if e["tag"] == "rect"]
        mx = max(x["hits"] for x in vr)
        c.check("rules chart: one bar per v_rule_hits row, lengths proportional (600 px = most hits)",
                [int(b["attrs"]["data-n"]) for b in bars] == [x["hits"] for x in vr] and
                all(abs(float(b["attrs"]["width"]) - 600.0 * x["hits"] / mx) < 0.02 for b, x in zip(bars, vr)),
                (len(bars), vr))
        c.check("rules table = v_rule_hits, in its order",
                T["table-rules"][1:] == [[x["rule"], str(x["hits"])] for x in vr], T["table-rules"][1:])

        vc = q(db, "SELECT * FROM v_credit_by_class")
        want_c = [[x["agent"], x["class"], str(x["samples"]), f4(x["mean_credit"]), f4(x["mean_reward"])] for x in vc]
    else:
        vc = q(db, "SELECT agent, class, sum(samples) AS samples, sum(credit_sum) / sum(samples) AS mean_credit,"
                   " sum(reward_sum) / sum(samples) AS mean_reward, sum(chose_1) AS chose, sum(effective_1) AS eff"
                   " FROM behaviour_aggregates GROUP BY agent, class")
        want_c = [[x["agent"], x["class"], str(x["samples"]), f4(x["mean_credit"]), f4(x["mean_reward"])] for x in vc]
        ta = T.get("table-aggregates", [])[1:]
        want_a = {(x["agent"], x["class"]): [str(x["samples"]), str(x["chose"]), str(x["eff"])] for x in vc}
        c.check("aggregate level: the behaviour_aggregates table = sums per agent and class",
                len(ta) == len(want_a) and all(row[2:5] == want_a.get((row[0], row[1])) for row in ta), ta[:2])
        c.check("aggregate level: joint_actions and di_credit_assignment really are empty",
                q(db, "SELECT (SELECT count(*) FROM joint_actions) + (SELECT count(*) FROM di_credit_assignment) AS n")
                [0]["n"] == 0)
    tc = T.get("table-credit", [])[1:]
    key = {(x[0], x[1]): x for x in want_c}
    c.check("credit table = " + ("behaviour_aggregates' sums" if aggregate else "v_credit_by_class"),
            len(tc) == len(want_c) and all(
                row[:3] == key[(row[0], row[1])][:3] and all(
                    num_close(u, float(v)) for u, v in zip(row[3:], key[(row[0], row[1])][3:]))
                for row in tc if (row[0], row[1]) in key) and all((row[0], row[1]) in key for row in tc),
            (tc[:2], want_c[:2]))
    bars = [e for e in S.get("chart-credit", []) if e["tag"] == "rect" and "bar" in e["attrs"].get("class", "")]
    c.check("credit chart: one bar per agent and class with a mean credit, each with its value",
            sorted(round(float(b["attrs"]["data-credit"]), 4) for b in bars) ==
            sorted(round(float(x[3]), 4) for x in want_c if x[3] != "n/a"), (len(bars), len(want_c)))

    # --- anomalies, poisoning, surveillance ------------------------------------------
    va = q(db, "SELECT * FROM v_anomalies_by_reason")
    c.check("anomalies table = v_anomalies_by_reason",
            T.get("table-anomalies", [[]])[1:] == [[x["detector"], x["reason"], str(x["n"])] for x in va],
            T.get("table-anomalies"))
    p = q(db, "SELECT (SELECT count(*) FROM poison_truth WHERE threat = 'transit') AS ti,"
              " (SELECT count(*) FROM (SELECT DISTINCT step, env FROM anomalies WHERE detector = 'broadcast_validator')) AS td,"
              " (SELECT count(*) FROM (SELECT DISTINCT a.step, a.env FROM anomalies a JOIN poison_truth t"
              "  USING (step, env) WHERE a.detector = 'broadcast_validator' AND t.threat = 'transit')) AS tc,"
              " (SELECT count(*) FROM poison_truth WHERE kind = 'forged_feedback') AS si,"
              " (SELECT count(*) FROM anomalies WHERE agent IS NULL) AS sd,"
              " (SELECT count(*) FROM anomalies a WHERE agent IS NULL AND EXISTS (SELECT 1 FROM poison_truth t"
              "  WHERE t.step = a.step AND t.env = a.env AND t.kind = 'forged_feedback')) AS sc")[0]
    tp = T["table-poisoning"]
    c.check("poisoning table = the ground truth and the detections",
            tp[1][1:4] == [str(p["ti"]), str(p["td"]), str(p["tc"])] and tp[2][1:4] == [str(p["si"]), str(p["sd"]),
                                                                                     str(p["sc"])], tp)
    ns = q(db, "SELECT count(*) AS n FROM surveillance_events")[0]["n"]
    c.check("surveillance table: one row per surveillance_events row",
            len(T.get("table-surveillance", [[]])) - 1 == ns, (ns, len(T.get("table-surveillance", [[]]))))
    sv = q(db, "SELECT eval_id, agent, detector, severity, action FROM surveillance_events ORDER BY rowid")
    c.check("surveillance rows = surveillance_events (evaluation, agent, detector, severity, action)",
            [[row[0], row[2], row[3], row[4], row[7]] for row in T.get("table-surveillance", [[]])[1:]] ==
            [[str(x["eval_id"]), x["agent"], x["detector"], x["severity"], x["action"]] for x in sv])

    # --- keys, checkpoints, run facts ---------------------------------------------
    hk = q(db, "SELECT * FROM hmac_keys ORDER BY rowid")
    c.check("keys table = hmac_keys (none when it holds no row)",
            (not hk and "table-keys" not in T) or
            (T.get("table-keys", [[]])[1:] == [[k["key_id"], k["purpose"], k["fingerprint"], str(k["first_step"]),
                                                 str(k["last_step"])] for k in hk] and len(hk) > 0), T.get("table-keys"))
    c.check("key ids = runs.key_ids", r["texts"].get("key-ids") == runs["key_ids"])
    cp = q(db, "SELECT cp_id, tree_size, coalesce(status, 'periodic') AS status FROM checkpoints ORDER BY cp_id")
    tk = T.get("table-checkpoints", [[]])[1:]
    c.check("checkpoints table = checkpoints (id, tree size, status)",
            [[row[0], row[1], row[3]] for row in tk] == [[str(x["cp_id"]), str(x["tree_size"]), x["status"]]
                                                          for x in cp], (tk[:2], cp[:2]))
    if a.signer:
        c.check(f"every checkpoint names its signer {a.signer}", tk and all(row[4] == a.signer for row in tk),
                [row[4] for row in tk][:3])
    facts = {row[0]: row[1] for row in T["table-run"]}
    c.check("run facts = the runs row (run id, config hash, seed, env-steps, status)",
            [facts.get("run id"), facts.get("config SHA-256"), facts.get("seed"), facts.get("env-steps"),
             facts.get("status")] == [runs["run_id"], runs["config_sha256"], str(runs["seed"]), str(runs["env_steps"]),
                                      runs["status"]], facts)
    counts = json.loads(runs["row_counts"])
    c.check("rows per table = runs.row_counts",
            {row[0]: int(row[2]) for row in T["table-rows"][1:]} == counts, T["table-rows"][1:3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
