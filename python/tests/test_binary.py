"""The same trajectories through Python as through the binary: reference
policies on the report stream against `marlsim eval --json`, a lake's policy
against `marlsim eval --policy RUN.db --json`, an experiment run from Python
checked by `marlsim verify`, and the snapshot blob format of docs/lake.md."""
import hashlib
import sqlite3
import struct

import numpy as np
import pytest

import marlsim
from conftest import DEFAULT_INI, SMALL, TINY

HELD = "held"


def play(env, act):
    """Plays the report episodes as `marlsim eval` does; tallies them."""
    steps = 2 * env.episode_len
    reward = raw = 0.0
    n = 0
    outcomes = {c: {o: 0 for o in list(marlsim.OUTCOMES) + [HELD]} for c in marlsim.CLASSES}
    rules = {r: 0 for r in marlsim.RULES}
    rejected = 0
    obs, _ = env.reset()
    for _ in range(steps):
        obs, _, _, _, info = env.step(act(env, obs))
        for i in range(env.num_envs):
            n += 1
            reward += info["reward"][i]
            raw += info["reward_raw"][i]
            cls = marlsim.CLASSES[info["class"][i]]
            col = HELD if info["rejected"][i] else marlsim.OUTCOMES[info["outcome"][i]]
            outcomes[cls][col] += 1
            rejected += info["rejected"][i] != 0
            for k, r in enumerate(marlsim.RULES):
                rules[r] += int(info["rules"][i]) >> k & 1
    return {"env_steps": n, "mean": reward / n, "mean_raw": raw / n, "outcomes": outcomes, "rule_hits": rules,
            "rejected": rejected}


def same(py, c):
    assert py["env_steps"] == c["env_steps"]
    assert f"{py['mean']:.6f}" == f"{c['mean_reward_per_step']:.6f}"
    assert f"{py['mean_raw']:.6f}" == f"{c['mean_raw_reward_per_step']:.6f}"
    assert py["outcomes"] == c["outcomes"]
    assert py["rule_hits"] == c["rule_hits"]
    assert py["rejected"] == c["rejected_broadcasts"]


@pytest.mark.parametrize("policy", ["random", "heuristic", "oracle"])
def test_reference_policies_match_eval(policy, eval_json):
    env = marlsim.VecEnv(DEFAULT_INI, stream="report", set=SMALL)
    py = play(env, lambda e, o: e.reference_actions(policy))
    assert py["rejected"] > 0 and py["mean"] != 0
    same(py, eval_json(policy, SMALL))


def test_lake_policy_matches_eval(tiny_lake, eval_json):
    policy = marlsim.Policy(tiny_lake)
    assert policy.info["complete"] and not policy.info["authenticated"]
    assert policy.obs_dims == {"GET": 9, "OPEN": 8, "BIN": 10}
    env = marlsim.VecEnv(DEFAULT_INI, stream="report", set=TINY)
    py = play(env, lambda e, o: policy.act(o))
    same(py, eval_json(str(tiny_lake), [], config=None))
    # One mailbox: a dict of actions.
    p = marlsim.ParallelEnv(DEFAULT_INI, set=TINY)
    obs, _ = p.reset(seed=1)
    a = policy.act(obs)
    assert set(a) == set(p.agents) and all(v in (0, 1) for v in a.values())


def test_a_tampered_lake_is_refused(tiny_lake, tmp_path):
    bad = tmp_path / "tampered.db"
    src = sqlite3.connect(tiny_lake)
    dst = sqlite3.connect(bad)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("DROP TRIGGER joint_actions_no_update")
    dst.execute("UPDATE joint_actions SET reward = reward + 1 WHERE rowid = 7")
    dst.commit()
    dst.close()
    with pytest.raises(marlsim.MarlsimError) as e:
        marlsim.Policy(bad)
    assert e.value.status == marlsim.ECHECK


def test_missing_lake(tmp_path):
    with pytest.raises(marlsim.MarlsimError) as e:
        marlsim.Policy(tmp_path / "none.db")
    assert e.value.status == marlsim.EINPUT and "none.db" in str(e.value)


def test_experiment_from_python_verifies(tmp_path, run_binary):
    seen = []
    out = marlsim.run(DEFAULT_INI, set=TINY, out=tmp_path / "py.db", keyring="dev", progress=seen.append)
    assert out["status"] == "completed" and out["dev_key"] and out["env_steps"] == 2048
    assert seen and seen[-1]["env_steps"] == 2048 and out["report_score"] is not None
    rc, stdout, err = run_binary("verify", out["path"])
    assert rc == 0 and "UNAUTHENTICATED" in stdout, stdout + err
    with pytest.raises(marlsim.MarlsimError) as e:  # never overwritten without overwrite=True
        marlsim.run(DEFAULT_INI, set=TINY, out=tmp_path / "py.db", keyring="dev")
    assert e.value.status == marlsim.EINPUT
    with pytest.raises(marlsim.MarlsimError) as e:
        marlsim.Config(DEFAULT_INI, set=["sim.envs=0"])
    assert "envs" in str(e.value)


def test_snapshot_blob_format_is_the_documented_one(tiny_lake):
    """docs/lake.md: magic, u32 activation, n_hidden, in, hidden[4], out,
    u64 n_params, float32 parameters, SHA-256 of all preceding bytes."""
    db = sqlite3.connect(f"file:{tiny_lake}?mode=ro", uri=True)
    rows = db.execute("SELECT agent, sha256, params FROM policy_snapshots").fetchall()
    assert rows
    for agent, sha, blob in rows:
        assert hashlib.sha256(blob).hexdigest() == sha
        assert blob[:8] == b"MSMLP\0v1"
        act, n_hidden, n_in = struct.unpack_from("<3I", blob, 8)
        hidden = struct.unpack_from("<4I", blob, 20)
        n_out, = struct.unpack_from("<I", blob, 36)
        n_params, = struct.unpack_from("<Q", blob, 40)
        assert act in (1, 2) and n_hidden == 2 and hidden == (64, 64, 0, 0) and n_out == 3
        assert n_in == {"GET": 9, "OPEN": 8, "BIN": 10}[agent]
        sizes = [n_in, *hidden[:n_hidden], n_out]
        assert n_params == sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
        assert len(blob) == 48 + 4 * n_params + 32
        assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]
        assert np.all(np.isfinite(np.frombuffer(blob, "<f4", n_params, 48)))
