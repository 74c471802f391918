"""Trained policies: the last promoted policy of a lake, acting greedily."""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib
from .env import AGENTS


class Policy:
    """Policy(lake, pubkey=None): verifies the lake (every hash, as `marlsim
    verify` does; with pubkey, a verifier key NAME+ID+KEY as `marlsim keys
    pubkey` prints it, its signed checkpoints too) and loads the policy its
    verified chain records as last promoted. A tampered lake raises
    MarlsimError with status ECHECK; nothing is loaded from it.

    act(observations) takes a dict agent -> float32 array (n, obs_dim) (or
    (obs_dim,) for one mailbox) and returns the greedy joint actions, uint8
    (n, 3) (or a dict agent -> int for one mailbox), as `marlsim eval
    --policy RUN.db` plays them. Bit-reproducible for the same OpenBLAS core
    and thread count; in a Python process numpy's BLAS is loaded first, so
    the core is not pinned (greedy actions rarely, but may, differ in a tie).
    """

    def __init__(self, lake, pubkey=None):
        h = ctypes.c_void_p()
        rc = lib.marlsim_policy_load(ctypes.byref(h), _lib.enc(str(lake)), _lib.enc(pubkey))
        if not h:
            raise MemoryError("libmarlsim: out of memory")
        self._h = h
        _lib.check(rc, lib.marlsim_policy_error, h)
        info = _lib.PolicyInfo()
        _lib.check(lib.marlsim_policy_info_get(h, ctypes.byref(info)), lib.marlsim_policy_error, h)
        self.obs_dims = {a: info.obs_dim[i] for i, a in enumerate(AGENTS)}
        self.info = {"run_id": info.run_id.decode(), "authenticated": bool(info.authenticated),
                     "complete": bool(info.complete), "eval_id": info.eval_id, "update_id": info.update_id,
                     "snapshots": {a: {"snapshot_id": info.snapshot_id[i], "sha256": info.sha256[i].value.decode()}
                                   for i, a in enumerate(AGENTS)}}

    def act(self, observations, return_prob=False):
        single = np.asarray(observations[AGENTS[0]]).ndim == 1
        obs = [np.ascontiguousarray(np.atleast_2d(observations[a]), dtype=np.float32) for a in AGENTS]
        n = obs[0].shape[0]
        for a, o in zip(AGENTS, obs):
            if o.shape != (n, self.obs_dims[a]):
                raise ValueError(f"{a}: observations of shape {o.shape}; the policy takes ({n}, {self.obs_dims[a]})")
        actions = np.zeros((n, 3), np.uint8)
        prob = np.zeros((n, 3), np.float32)
        ptrs = (ctypes.c_void_p * 3)(*[o.ctypes.data for o in obs])
        _lib.check(lib.marlsim_policy_act(self._h, ptrs, n, actions.ctypes.data, prob.ctypes.data),
                   lib.marlsim_policy_error, self._h)
        if single:
            out = {a: int(actions[0, i]) for i, a in enumerate(AGENTS)}
            return (out, {a: float(prob[0, i]) for i, a in enumerate(AGENTS)}) if return_prob else out
        return (actions, prob) if return_prob else actions

    __call__ = act

    def close(self):
        if getattr(self, "_h", None):
            lib.marlsim_policy_free(self._h)
            self._h = None

    def __del__(self):
        self.close()
