"""make bench, phase 6: env-steps/s of the environment driven from Python
(python/marlsim: ctypes over libmarlsim.so, numpy arrays). Measured and
printed, never asserted. The library comes from $MARLSIM_LIB.

Three ways, on the default config's 64 mailboxes (training stream):
  VecEnv, copy=False   the batch fast path: one C call per vector step
  VecEnv, copy=True    the default: the step's arrays copied for the caller
  ParallelEnv          one mailbox, dicts per agent (PettingZoo's shape)
Actions are the heuristic reference policy's (computed in C), so the figure
is the environment's cost plus the binding's, comparable with phase 1 of
the C bench (environment only).
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import numpy as np  # noqa: E402

import marlsim  # noqa: E402

INI = os.path.join(HERE, "..", "configs", "default.ini")


def best_of(fn, reps=3):
    return max(fn() for _ in range(reps))


def vec(copy, steps=400):
    env = marlsim.VecEnv(INI)
    env.reset(seed=1)
    act = env.reference_actions("heuristic")
    t0 = time.perf_counter()
    for _ in range(steps):
        act = env.reference_actions("heuristic")
        env.step(act, copy=copy)
    dt = time.perf_counter() - t0
    return steps * env.num_envs / dt


def parallel(steps=4000):
    env = marlsim.ParallelEnv(INI)
    env.reset(seed=1)
    t0 = time.perf_counter()
    for _ in range(steps):
        if not env.agents:
            env.reset()
        env.step(env.reference_actions("heuristic"))
    return steps / (time.perf_counter() - t0)


print("8. the environment from Python (python/marlsim over libmarlsim.so, heuristic actions, numpy %s):"
      % np.__version__)
print("   VecEnv, 64 mailboxes, copy=False (fast path): %.0f env-steps/s" % best_of(lambda: vec(False)))
print("   VecEnv, 64 mailboxes, copy=True (default):    %.0f env-steps/s" % best_of(lambda: vec(True)))
print("   ParallelEnv, 1 mailbox (PettingZoo shape):    %.0f env-steps/s" % best_of(parallel))
