#!/bin/sh
# Learning curves: greedy held-out reward per env-step against env-steps,
# read from each lake's evaluations table (every gate evaluation).
# usage: bench/curves.sh [ENV_STEPS] [SEEDS...]   (default 524288, seeds 1 2 3)
# Runs configs/default.ini with observe = modality (default) and = all.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${1:-524288}
[ $# -gt 0 ] && shift
SEEDS=${*:-1 2 3}
OUT=$(mktemp -d /tmp/marlsim-curves-XXXXXX)
for observe in modality all; do
    for s in $SEEDS; do
        db="$OUT/$observe-s$s.db"
        "$ROOT/marlsim" run "$ROOT/configs/default.ini" --seed "$s" --set run.env_steps="$STEPS" \
            --set telemetry.level=aggregate --set agents.observe="$observe" --out "$db" --quiet >/dev/null 2>&1
        printf '%-8s seed %s: ' "$observe" "$s"
        sqlite3 "$db" "select group_concat((env_steps / 1024) || 'k ' || printf('%.3f', candidate_score), ', ')
                       from evaluations"
        printf '%-8s seed %s: final (promoted) %s\n' "$observe" "$s" \
            "$(sqlite3 "$db" "select printf('%.4f', eval_reward_per_step) from runs")"
    done
done
echo "lakes in $OUT"
