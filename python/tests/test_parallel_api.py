"""The one-mailbox environment follows PettingZoo's parallel API shape:
checks in the spirit of PettingZoo's parallel_api_test, written here (the
package does not depend on PettingZoo)."""
import numpy as np
import pytest

import marlsim
from conftest import DEFAULT_INI, SMALL


@pytest.fixture
def env():
    e = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL)
    yield e
    e.close()


def sample_actions(env):
    return {a: env.action_space(a).sample() for a in env.agents}


def test_agents_and_spaces(env):
    assert env.possible_agents == ["GET", "OPEN", "BIN"]
    assert env.agents == []  # before the first reset
    assert env.max_num_agents == 3
    dims = {"GET": 9, "OPEN": 8, "BIN": 10}
    for a in env.possible_agents:
        assert env.observation_space(a) is env.observation_space(a)  # the same object every time
        assert env.action_space(a) is env.action_space(a)
        assert env.observation_space(a).shape == (dims[a],)
        assert env.observation_space(a).dtype == np.float32
        assert env.action_space(a).n == 2
        assert env.action_space(a).contains(env.action_space(a).sample())
        assert env.observation_space(a).contains(env.observation_space(a).sample())
        assert not env.action_space(a).contains(2) and not env.action_space(a).contains(True)
        assert len(env.feature_names(a)) == dims[a]
    assert env.metadata["is_parallelizable"] is True and env.metadata["name"]


def test_reset_returns_observations_and_infos(env):
    obs, infos = env.reset(seed=3)
    assert env.agents == env.possible_agents and env.num_agents == 3
    assert set(obs) == set(env.agents) == set(infos)
    for a in env.agents:
        assert env.observation_space(a).contains(obs[a]), (a, obs[a])
        assert isinstance(infos[a], dict)
    assert env.state().shape == (27,)


def test_step_returns_five_dicts(env):
    env.reset(seed=3)
    for _ in range(5):
        agents = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step(sample_actions(env))
        for d in (obs, rewards, terms, truncs, infos):
            assert set(d) == set(agents)
        for a in agents:
            assert env.observation_space(a).contains(obs[a])
            assert isinstance(rewards[a], float)
            assert isinstance(terms[a], bool) and isinstance(truncs[a], bool)
            assert infos[a]["outcome"] in marlsim.OUTCOMES and infos[a]["class"] in marlsim.CLASSES
            assert set(infos[a]["rules"]) <= set(marlsim.RULES)
            assert infos[a]["effective_action"] in (0, 1)


def test_episode_ends_by_truncation_for_every_agent(env):
    env.reset(seed=4)
    steps = 0
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step(sample_actions(env))
        steps += 1
        assert not any(terms.values())  # episodes end only by the time limit
        assert len(set(truncs.values())) == 1
    assert steps == 16 and all(truncs.values()) and env.agents == [] and env.num_agents == 0
    with pytest.raises(RuntimeError):
        env.step({a: 0 for a in env.possible_agents})
    obs, infos = env.reset()  # the next episode
    assert env.agents == env.possible_agents
    assert obs["GET"][-1] == 0.0  # t / episode_len


def test_bad_actions_are_refused():
    env = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL + ["sim.poison_rate=0"])  # no zeroed observations
    env.reset(seed=5)
    with pytest.raises(ValueError):
        env.step({"GET": 2, "OPEN": 0, "BIN": 0})
    with pytest.raises(ValueError):
        env.step({"GET": 1, "OPEN": 0})
    obs, *_ = env.step({"GET": 1, "OPEN": 0, "BIN": 0})  # nothing was stepped before
    assert obs["GET"][-1] == pytest.approx(1 / 16)


def test_rewards_are_each_agents_credit():
    env = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL + ["train.credit=global"])
    env.reset(seed=6)
    for _ in range(10):
        _, rewards, _, _, infos = env.step(sample_actions(env))
        assert all(rewards[a] == infos[a]["global_reward"] for a in env.possible_agents)
    env = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL)  # difference credit: r - r(a_i = 0)
    env.reset(seed=6)
    _, rewards, _, _, infos = env.step({"GET": 0, "OPEN": 0, "BIN": 0})
    assert rewards == {a: 0.0 for a in env.possible_agents}


def test_observe_all_gives_every_agent_all_features():
    env = marlsim.ParallelEnv(DEFAULT_INI, set=SMALL + ["agents.observe=all"])
    obs, _ = env.reset(seed=1)
    assert all(obs[a].shape == (27,) for a in env.possible_agents)
    assert np.array_equal(obs["GET"], obs["BIN"])
    assert env.feature_names("OPEN")[9] == "link_count"


def test_render_and_close(env):
    env.reset(seed=1)
    assert env.render() is None
    env.close()
