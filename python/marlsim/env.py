"""The mailbox environment from Python: a configuration, the batch
environment over all mailboxes (numpy arrays: the fast path) and a
one-mailbox environment in the shape of PettingZoo's parallel API.

Agents: GET (fetch), OPEN (sandboxed preview), BIN (quarantine); each acts 0
(DO_NOTHING) or 1 (its action) on every step. Rewards per agent are the
credit [train] credit routes to it (the signal marlsim's learners train on);
the global reward and everything else about the step are in the infos. The
message's true class, tampering and backdoor flags in the infos are ground
truth, for evaluation only: an agent given them is no longer the agent of
the experiment.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import MarlsimError, lib
from .spaces import Box, Discrete

AGENTS = _lib.names(_lib.NAMES_AGENT)
ACTIONS = _lib.names(_lib.NAMES_ACTION)
CLASSES = _lib.names(_lib.NAMES_CLASS)
OUTCOMES = _lib.names(_lib.NAMES_OUTCOME)
RULES = _lib.names(_lib.NAMES_RULE)
REJECT_REASONS = _lib.names(_lib.NAMES_REJECT)
POISON_KINDS = _lib.names(_lib.NAMES_POISON)
FEATURES = _lib.names(_lib.NAMES_FEATURE)
REFERENCE_POLICIES = _lib.names(_lib.NAMES_REFERENCE)
STREAMS = _lib.names(_lib.NAMES_STREAM)


class Config:
    """A configuration: the defaults, then an INI file (path) or INI text,
    then "section.key=value" overrides (as `marlsim run --set`). Errors raise
    MarlsimError naming file:line, the key and what is allowed."""

    def __init__(self, path=None, *, text=None, set=()):
        sets = [_lib.enc(s) for s in set]
        arr = (ctypes.c_char_p * max(len(sets), 1))(*sets)
        h = ctypes.c_void_p()
        rc = lib.marlsim_config_create(ctypes.byref(h), _lib.enc(path), _lib.enc(text), arr, len(sets))
        if not h:
            raise MemoryError("libmarlsim: out of memory")
        self._h = h
        _lib.check(rc, lib.marlsim_config_error, h)

    def set(self, assignment):
        """Applies one "section.key=value" override."""
        _lib.check(lib.marlsim_config_set(self._h, _lib.enc(assignment)), lib.marlsim_config_error, self._h)
        return self

    def check(self):
        """The cross-key checks `marlsim run` applies (e.g. minibatch <= envs x rollout)."""
        _lib.check(lib.marlsim_config_check(self._h), lib.marlsim_config_error, self._h)
        return self

    @property
    def text(self):
        """The canonical text (every hashed key, in canonical order)."""
        n = ctypes.c_size_t()
        lib.marlsim_config_render(self._h, None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(n.value + 1)
        _lib.check(lib.marlsim_config_render(self._h, buf, len(buf), None), lib.marlsim_config_error, self._h)
        return buf.value.decode()

    @property
    def sha256(self):
        """The config hash a lake records: SHA-256 of the canonical text."""
        buf = ctypes.create_string_buffer(65)
        _lib.check(lib.marlsim_config_hash(self._h, buf), lib.marlsim_config_error, self._h)
        return buf.value.decode()

    def __del__(self):
        if getattr(self, "_h", None):
            lib.marlsim_config_free(self._h)
            self._h = None


def _config(config, set):
    if isinstance(config, Config):
        for s in set:
            raise ValueError("set= applies to a config path or text, not to a Config (use Config.set)")
        return config
    return Config(config, set=set)


def _stream_index(stream):
    if stream not in STREAMS:
        raise ValueError(f"stream {stream!r}; allowed: {', '.join(STREAMS)}")
    return STREAMS.index(stream)


def _ptr(a):
    return a.ctypes.data if a is not None else None


class VecEnv:
    """All mailboxes stepped at once with numpy arrays (the fast path).

    VecEnv(config=None, *, stream="train", envs=0, set=()): config is a
    Config, an INI path or None (defaults); envs = 0 keeps [sim] envs.
    Streams: "train" (seeded by [run] seed), "gate" (the trainer's gate
    episodes), "report" (what `marlsim eval` plays, seeded by [gate]
    eval_seed). The environment starts at the first step of its stream.

    Arrays (n = num_envs):
      observations  dict agent -> float32 (n, obs_dim(agent))
      actions       uint8 (n, 3), columns GET, OPEN, BIN, each 0 or 1
      rewards       float64 (n, 3): each agent's credit
      terminations  bool (n,): always False (episodes end only by time)
      truncations   bool (n,): the time limit ended the episode; the
                    observations returned are then the next episode's first
      infos         dict of arrays: reward (global, clipped), reward_raw,
                    actions (as applied), effective (n, 3), outcome,
                    rules (bit mask over RULES), rejected (why the message's
                    broadcast was rejected: 0 = accepted), obs_rejected (the
                    same for the observations returned), compromise, and
                    the ground truth: class, poisoned, backdoor, forged.
    With copy=False (the default is True) step and reset return the
    environment's own buffers, overwritten by the next call.
    """

    _U8 = ("obs_rejected", "actions", "effective", "outcome", "rejected", "truncated", "compromise", "cls",
           "poisoned", "backdoor", "forged")

    def __init__(self, config=None, *, stream="train", envs=0, set=()):
        self.config = _config(config, set)
        self.stream = stream
        h = ctypes.c_void_p()
        rc = lib.marlsim_env_create(ctypes.byref(h), self.config._h, _stream_index(stream), int(envs))
        if not h:
            raise MemoryError("libmarlsim: out of memory")
        self._h = h
        _lib.check(rc, lib.marlsim_env_error, h)
        self.agents = list(AGENTS)
        self.num_envs = lib.marlsim_env_num_envs(h)
        self.episode_len = lib.marlsim_env_episode_len(h)
        self.obs_dims = {a: lib.marlsim_env_obs_dim(h, i) for i, a in enumerate(AGENTS)}
        n = self.num_envs
        self._obs = [np.zeros((n, self.obs_dims[a]), np.float32) for a in AGENTS]
        self._buf = {k: np.zeros((n, 3) if k in ("actions", "effective") else (n,), np.uint8) for k in self._U8}
        self._buf["reward"] = np.zeros(n, np.float64)
        self._buf["reward_raw"] = np.zeros(n, np.float64)
        self._buf["credit"] = np.zeros((n, 3), np.float64)
        self._buf["rules"] = np.zeros(n, np.uint32)
        self._batch = _lib.Batch()
        for i, o in enumerate(self._obs):
            self._batch.obs[i] = _ptr(o)
        for k, v in self._buf.items():
            setattr(self._batch, k, _ptr(v))
        self._batch_ref = ctypes.byref(self._batch)
        self._act = np.zeros((n, 3), np.uint8)
        self._t = 0  # steps into the current episode
        self._started = False

    # -- description --
    def feature_names(self, agent):
        """Names of the elements of agent's observation, in order."""
        i = AGENTS.index(agent)
        return [_lib.text(lib.marlsim_env_feature_name(self._h, i, k)) for k in range(self.obs_dims[agent])]

    @property
    def seed(self):
        """The seed of the stream's last (re)start."""
        return lib.marlsim_env_seed(self._h)

    # -- stepping --
    def _observations(self, copy):
        return {a: (o.copy() if copy else o) for a, o in zip(AGENTS, self._obs)}

    def reset(self, seed=None, copy=True):
        """Restarts the stream with seed (an int). Without a seed: on the
        first call, the stream as created; later, the stream's next
        episode (the rest of an unfinished one is skipped). Returns
        (observations, infos) with infos = {"obs_rejected": array}."""
        if seed is not None:
            seed = int(seed)
            if not 0 <= seed < 2**64:
                raise ValueError(f"seed {seed}; allowed: 0 .. 2**64-1")
            _lib.check(lib.marlsim_env_reset(self._h, seed, self._batch_ref), lib.marlsim_env_error, self._h)
            self._t = 0
        else:
            skip = (self.episode_len - self._t) % self.episode_len
            self._act.fill(0)
            for _ in range(skip):
                self._step_raw(self._act)
            if not self._started:  # the pending observations of the stream's first step
                _lib.check(lib.marlsim_env_reset(self._h, self.seed, self._batch_ref), lib.marlsim_env_error,
                           self._h)
        self._started = True
        infos = {"obs_rejected": self._buf["obs_rejected"].copy() if copy else self._buf["obs_rejected"]}
        return self._observations(copy), infos

    def _step_raw(self, actions):
        _lib.check(lib.marlsim_env_step(self._h, actions.ctypes.data, self._batch_ref), lib.marlsim_env_error,
                   self._h)
        self._t = (self._t + 1) % self.episode_len

    def step(self, actions, copy=True):
        """Steps every mailbox with actions (n, 3) (0/1; or a dict agent ->
        (n,) array). Returns (observations, rewards, terminations,
        truncations, infos) as described in the class."""
        if isinstance(actions, dict):
            a = self._act
            for i, ag in enumerate(AGENTS):
                a[:, i] = actions[ag]
        else:
            a = np.ascontiguousarray(actions, dtype=np.uint8)
            if a.shape != (self.num_envs, 3):
                raise ValueError(f"actions of shape {a.shape}; allowed: ({self.num_envs}, 3)")
        self._started = True
        self._step_raw(a)
        b = self._buf
        c = (lambda x: x.copy()) if copy else (lambda x: x)
        infos = {"reward": c(b["reward"]), "reward_raw": c(b["reward_raw"]), "actions": c(b["actions"]),
                 "effective": c(b["effective"]), "outcome": c(b["outcome"]), "rules": c(b["rules"]),
                 "rejected": c(b["rejected"]), "obs_rejected": c(b["obs_rejected"]),
                 "compromise": c(b["compromise"]), "class": c(b["cls"]), "poisoned": c(b["poisoned"]),
                 "backdoor": c(b["backdoor"]), "forged": c(b["forged"])}
        trunc = b["truncated"].astype(bool)
        return self._observations(copy), c(b["credit"]), np.zeros(self.num_envs, bool), trunc, infos

    def reference_actions(self, policy):
        """The actions (n, 3) of a reference policy ("random", "heuristic",
        "oracle") on the pending observations. random draws from its own
        streams keyed by the reset seed; the oracle reads the true class."""
        if policy not in REFERENCE_POLICIES:
            raise ValueError(f"reference policy {policy!r}; allowed: {', '.join(REFERENCE_POLICIES)}")
        out = np.zeros((self.num_envs, 3), np.uint8)
        _lib.check(lib.marlsim_env_reference_actions(self._h, REFERENCE_POLICIES.index(policy), out.ctypes.data,
                                                     None), lib.marlsim_env_error, self._h)
        return out

    def close(self):
        if getattr(self, "_h", None):
            lib.marlsim_env_free(self._h)
            self._h = None

    def __del__(self):
        self.close()


class ParallelEnv:
    """One mailbox, in the shape of PettingZoo's parallel API (without
    depending on PettingZoo).

    reset(seed=None, options=None) -> (observations, infos)
    step(actions) -> (observations, rewards, terminations, truncations, infos)
    agents, possible_agents, num_agents, max_num_agents,
    observation_space(agent) (Box in [0, 1], float32, (obs_dim,)),
    action_space(agent) (Discrete(2)), state(), render(), close().

    An episode lasts [sim] episode_len steps and ends by truncation for
    every agent at once; then `agents` is empty until the next reset.
    reset(seed=s) restarts the stream with seed s (and seeds the action
    spaces from it); reset() goes on to the stream's next episode.
    rewards[agent] is the agent's credit; infos[agent] holds the global
    reward, outcome, rules fired, the agent's effective action and the
    ground truth (class, ...: evaluation only). The mailbox's messages are
    mailbox 0 of a VecEnv with the same config, stream and seed.
    """

    metadata = {"name": "marlsim_mailbox_v1", "render_modes": [], "is_parallelizable": True}
    render_mode = None

    def __init__(self, config=None, *, stream="train", set=()):
        self._vec = VecEnv(config, stream=stream, envs=1, set=set)
        self.possible_agents = list(AGENTS)
        self.agents = []
        self._obs_spaces = {a: Box(0.0, 1.0, (self._vec.obs_dims[a],), np.float32) for a in AGENTS}
        self._act_spaces = {a: Discrete(2) for a in AGENTS}
        self._last_obs = None

    @property
    def num_agents(self):
        return len(self.agents)

    @property
    def max_num_agents(self):
        return len(self.possible_agents)

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def feature_names(self, agent):
        return self._vec.feature_names(agent)

    def reset(self, seed=None, options=None):
        obs, info = self._vec.reset(seed=seed, copy=False)
        if seed is not None:
            for i, a in enumerate(AGENTS):
                self._obs_spaces[a].seed(int(seed) * 7 + i)
                self._act_spaces[a].seed(int(seed) * 7 + 3 + i)
        self.agents = list(AGENTS)
        self._last_obs = {a: obs[a][0].copy() for a in AGENTS}
        rej = int(info["obs_rejected"][0])
        infos = {a: {"obs_rejected": REJECT_REASONS[rej] if rej else None} for a in AGENTS}
        return dict(self._last_obs), infos

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("step() after the episode ended: call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {', '.join(missing)}")
        act = np.zeros((1, 3), np.uint8)
        for i, a in enumerate(AGENTS):
            v = actions[a]
            if not self._act_spaces[a].contains(v if not isinstance(v, np.ndarray) else v.reshape(())):
                raise ValueError(f"{a}: action {v!r}; allowed: 0 or 1")
            act[0, i] = int(v)
        obs, credit, term, trunc, inf = self._vec.step(act, copy=False)
        self._last_obs = {a: obs[a][0].copy() for a in AGENTS}
        rules = int(inf["rules"][0])
        rej, pois, obs_rej = int(inf["rejected"][0]), int(inf["poisoned"][0]), int(inf["obs_rejected"][0])
        common = {"global_reward": float(inf["reward"][0]), "reward_raw": float(inf["reward_raw"][0]),
                  "outcome": OUTCOMES[int(inf["outcome"][0])],
                  "rules": [r for k, r in enumerate(RULES) if rules >> k & 1],
                  "rejected": REJECT_REASONS[rej] if rej else None,
                  "obs_rejected": REJECT_REASONS[obs_rej] if obs_rej else None,
                  "compromise": bool(inf["compromise"][0]),
                  "class": CLASSES[int(inf["class"][0])],
                  "poisoned": POISON_KINDS[pois - 1] if pois else None,
                  "backdoor": bool(inf["backdoor"][0]), "forged": bool(inf["forged"][0])}
        rewards, terms, truncs, infos = {}, {}, {}, {}
        for i, a in enumerate(AGENTS):
            rewards[a] = float(credit[0, i])
            terms[a] = False
            truncs[a] = bool(trunc[0])
            infos[a] = dict(common, action=int(inf["actions"][0, i]), effective_action=int(inf["effective"][0, i]))
        if trunc[0]:
            self.agents = []
        return dict(self._last_obs), rewards, terms, truncs, infos

    def reference_actions(self, policy):
        """A reference policy's actions on the pending observations, as a dict."""
        a = self._vec.reference_actions(policy)[0]
        return {ag: int(a[i]) for i, ag in enumerate(AGENTS)}

    def state(self):
        """The three observations concatenated (GET, OPEN, BIN)."""
        if self._last_obs is None:
            raise RuntimeError("state() before reset()")
        return np.concatenate([self._last_obs[a] for a in AGENTS])

    def render(self):
        return None

    def close(self):
        self._vec.close()


__all__ = ["Config", "VecEnv", "ParallelEnv", "MarlsimError", "AGENTS", "ACTIONS", "CLASSES", "OUTCOMES", "RULES",
           "REJECT_REASONS", "POISON_KINDS", "FEATURES", "REFERENCE_POLICIES", "STREAMS"]
