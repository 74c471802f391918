"""marlsim from Python: ctypes over libmarlsim (api/marlsim.h), numpy arrays.

    import marlsim
    env = marlsim.ParallelEnv("configs/default.ini")      # PettingZoo parallel API shape, one mailbox
    obs, infos = env.reset(seed=1)
    obs, rewards, terminations, truncations, infos = env.step({a: 1 for a in env.agents})

    vec = marlsim.VecEnv("configs/default.ini", stream="report")   # every mailbox at once
    obs, infos = vec.reset()
    obs, rewards, term, trunc, infos = vec.step(vec.reference_actions("heuristic"))

    policy = marlsim.Policy("runs/demo.db")          # verified first, then the last promoted policy
    actions = policy.act(obs)

    summary = marlsim.run("configs/default.ini", keyring="dev", set=["run.env_steps=8192"])

See docs/python.md.
"""
from ._lib import ECHECK, EINPUT, EIO, MarlsimError, lib as _lib_handle
from .env import (ACTIONS, AGENTS, CLASSES, FEATURES, OUTCOMES, POISON_KINDS, REFERENCE_POLICIES, REJECT_REASONS,
                  RULES, STREAMS, Config, ParallelEnv, VecEnv)
from .experiment import run
from .policy import Policy
from .spaces import Box, Discrete

__version__ = _lib_handle.marlsim_version().decode()

__all__ = ["Config", "VecEnv", "ParallelEnv", "Policy", "run", "Box", "Discrete", "MarlsimError", "EINPUT",
           "ECHECK", "EIO", "AGENTS", "ACTIONS", "CLASSES", "OUTCOMES", "RULES", "REJECT_REASONS", "POISON_KINDS",
           "FEATURES", "REFERENCE_POLICIES", "STREAMS", "__version__"]
