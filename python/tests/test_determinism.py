"""Determinism per seed: environment runs and reference policies."""
import numpy as np

import marlsim
from conftest import DEFAULT_INI, SMALL


def trajectory(env, seed, steps=40):
    obs, _ = env.reset(seed=seed)
    out = [np.concatenate([obs[a] for a in env.possible_agents])]
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        act = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, _, _, infos = env.step(act)
        out.append(np.concatenate([obs[a] for a in env.possible_agents] + [list(rewards.values())]))
    return np.concatenate(out)


def test_the_same_seed_gives_the_same_run():
    a = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL)
    b = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL)
    ta = trajectory(a, 11)
    assert np.array_equal(ta, trajectory(b, 11))
    assert not np.array_equal(ta, trajectory(b, 12))
    assert np.array_equal(ta, trajectory(b, 11))  # a reset with the seed replays it


def test_vec_env_runs_repeat_and_mailbox_zero_is_the_parallel_env():
    v = marlsim.VecEnv(DEFAULT_INI, set=SMALL)
    p = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL)
    runs = []
    for _ in range(2):
        vo, _ = v.reset(seed=21)
        po, _ = p.reset(seed=21)
        rec = []
        for _ in range(16):  # one episode
            assert all(np.array_equal(vo[a][0], po[a]) for a in p.possible_agents)
            act = v.reference_actions("random")
            vo, vr, _, _, vi = v.step(act)
            po, pr, _, _, pi = p.step({a: int(act[0, i]) for i, a in enumerate(p.possible_agents)})
            assert [pr[a] for a in p.possible_agents] == list(vr[0])
            rec.append((vr.copy(), vi["class"].copy()))
        runs.append(rec)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(*runs))


def test_reset_without_seed_goes_to_the_next_episode():
    v = marlsim.VecEnv(DEFAULT_INI, set=SMALL)
    obs, _ = v.reset(seed=2)
    for _ in range(5):
        obs, *_ = v.step(v.reference_actions("heuristic"))
    assert obs["GET"][0, -1] == np.float32(5 / 16)
    obs, _ = v.reset()
    assert np.all(obs["GET"][:, -1] == 0)
    # ... which is the stream's second episode:
    w = marlsim.VecEnv(DEFAULT_INI, set=SMALL)
    w.reset(seed=2)
    for _ in range(16):
        wobs, *_ = w.step(np.zeros((8, 3), np.uint8))
    assert all(np.array_equal(wobs[a], obs[a]) for a in marlsim.AGENTS)


def test_copies_and_buffers():
    v = marlsim.VecEnv(DEFAULT_INI, set=SMALL)
    obs, _ = v.reset(seed=1)
    o1, *_ = v.step(np.ones((8, 3), np.uint8))
    keep = o1["OPEN"].copy()
    v.step(np.ones((8, 3), np.uint8))
    assert np.array_equal(o1["OPEN"], keep)  # copy=True (the default) returns arrays of its own
    o3, *_ = v.step(np.ones((8, 3), np.uint8), copy=False)
    o4, *_ = v.step(np.ones((8, 3), np.uint8), copy=False)
    assert o3["OPEN"] is o4["OPEN"]  # copy=False: the environment's buffers
