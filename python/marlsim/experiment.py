"""Whole experiments: train and record a lake, as `marlsim run` does."""
import ctypes

from . import _lib
from ._lib import lib
from .env import _config


def run(config=None, *, out=None, keyring=None, overwrite=False, progress=None, set=()):
    """Runs the experiment of config (a Config, an INI path or None) into a
    new lake and returns its summary as a dict (run_id, status, path,
    head_hash, env_steps, report_score, ...).

    out: the lake (None: [run] out, else runs/<name>-s<seed>-<config hash, 8 hex>.db); keyring:
    "dev" (the development key of the seed: nothing signed), a keyring path
    or "cmd:COMMAND" (None: [keys] keyring, $MARLSIM_KEYRING, then the
    per-user keyring, which must exist); overwrite: replace an existing
    lake; progress: called with a dict after every rollout. Ctrl-C stops the
    run at the next rollout boundary (status "interrupted"), then raises
    KeyboardInterrupt. The lake is the one `marlsim run` writes for the same
    config and keys, but training in a Python process uses the BLAS numpy
    loaded, so its floating-point results (and head hash) may differ from
    the binary's on another OpenBLAS core.
    """
    cfg = _config(config, set)
    h = ctypes.c_void_p()
    rc = lib.marlsim_experiment_create(ctypes.byref(h), cfg._h)
    if not h:
        raise MemoryError("libmarlsim: out of memory")
    interrupted = []
    try:
        _lib.check(rc, lib.marlsim_experiment_error, h)

        def on_progress(p, _ctx):
            try:
                if progress:
                    q = p.contents
                    progress({"env_steps": q.env_steps, "total_env_steps": q.total_env_steps,
                              "updates": q.updates, "gates": q.gates, "recent_reward": q.recent_reward,
                              "gate_score": q.gate_score, "last_decision": _lib.text(q.last_decision)})
            except KeyboardInterrupt:
                interrupted.append(1)
                lib.marlsim_experiment_stop(h)

        cb = _lib.PROGRESS_CB(on_progress)
        lib.marlsim_experiment_set_progress(h, cb, None)
        res = _lib.RunResult()
        rc = lib.marlsim_experiment_run(h, _lib.enc(None if out is None else str(out)), _lib.enc(keyring),
                                        1 if overwrite else 0, ctypes.byref(res))
        _lib.check(rc, lib.marlsim_experiment_error, h)
    finally:
        lib.marlsim_experiment_free(h)
    if interrupted:
        raise KeyboardInterrupt
    s = lambda b: b.decode()  # noqa: E731
    return {"run_id": s(res.run_id), "config_sha256": s(res.config_sha256), "head_hash": s(res.head_hash),
            "status": s(res.status), "path": s(res.path), "dev_key": bool(res.dev_key), "env_steps": res.env_steps,
            "updates": res.updates, "gates": res.gates, "seconds": res.seconds,
            "report_score": res.report_score if res.has_report else None,
            "checkpoint": {"size": res.checkpoint_size, "root": s(res.checkpoint_root), "signer": s(res.signer)}
            if res.checkpoint_size else None}
