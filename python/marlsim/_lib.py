"""ctypes declarations of libmarlsim's public C API (api/marlsim.h).

The library is found, in order, at $MARLSIM_LIB (a path), where `make install`
put it (_installed.py), in the repository's build/ folder next to this
package, or by the dynamic loader's search (libmarlsim.so.0).
"""
import ctypes
import os

API_VERSION = 1  # MARLSIM_API_VERSION this package was written for
SONAME = "libmarlsim.so.0"

OK, EINPUT, ECHECK, EIO = 0, -1, -2, -3

NAMES_AGENT, NAMES_ACTION, NAMES_CLASS, NAMES_OUTCOME, NAMES_RULE, NAMES_REJECT, NAMES_POISON, \
    NAMES_FEATURE, NAMES_REFERENCE, NAMES_STREAM = range(10)


class MarlsimError(Exception):
    """A call of libmarlsim failed: status is MARLSIM_E* (EINPUT bad input,
    ECHECK a check failed, e.g. a tampered lake, EIO the system failed), the
    message is the library's sentence."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _candidates():
    env = os.environ.get("MARLSIM_LIB")
    if env:
        return [env]
    out = []
    try:
        from . import _installed  # written by make install
        out.append(_installed.LIBRARY)
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    out.append(os.path.join(here, "..", "..", "build", SONAME))
    out.append(SONAME)
    return out


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("libmarlsim not found (build it with `make lib`, install it with `make install`, "
                      "or set MARLSIM_LIB): " + "; ".join(errors))


lib = _load()

c_int, c_char_p, c_void_p, c_size_t, c_uint64 = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, \
    ctypes.c_uint64
P = ctypes.POINTER


class Batch(ctypes.Structure):
    """struct marlsim_batch: caller-owned arrays (NULL = not wanted)."""
    _fields_ = [("obs", c_void_p * 3), ("obs_rejected", c_void_p), ("reward", c_void_p), ("reward_raw", c_void_p),
                ("credit", c_void_p), ("actions", c_void_p), ("effective", c_void_p), ("outcome", c_void_p),
                ("rules", c_void_p), ("rejected", c_void_p), ("truncated", c_void_p), ("compromise", c_void_p),
                ("cls", c_void_p), ("poisoned", c_void_p), ("backdoor", c_void_p), ("forged", c_void_p)]


class PolicyInfo(ctypes.Structure):
    _fields_ = [("run_id", ctypes.c_char * 64), ("authenticated", c_int), ("complete", c_int),
                ("eval_id", ctypes.c_int64), ("update_id", ctypes.c_int64), ("snapshot_id", ctypes.c_int64 * 3),
                ("sha256", (ctypes.c_char * 65) * 3), ("obs_dim", c_int * 3)]


class Progress(ctypes.Structure):
    _fields_ = [("env_steps", ctypes.c_int64), ("total_env_steps", ctypes.c_int64), ("updates", ctypes.c_int64),
                ("gates", ctypes.c_int64), ("recent_reward", ctypes.c_double), ("gate_score", ctypes.c_double),
                ("last_decision", c_char_p)]


class RunResult(ctypes.Structure):
    _fields_ = [("run_id", ctypes.c_char * 33), ("config_sha256", ctypes.c_char * 65),
                ("head_hash", ctypes.c_char * 65), ("status", ctypes.c_char * 16), ("path", ctypes.c_char * 1100),
                ("dev_key", c_int), ("env_steps", ctypes.c_int64), ("updates", ctypes.c_int64),
                ("gates", ctypes.c_int64), ("seconds", ctypes.c_double), ("has_report", c_int),
                ("report_score", ctypes.c_double), ("checkpoint_size", ctypes.c_int64),
                ("checkpoint_root", ctypes.c_char * 64), ("signer", ctypes.c_char * 200)]


PROGRESS_CB = ctypes.CFUNCTYPE(None, P(Progress), c_void_p)


def _decl(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


for _name, _res, _args in [
    ("marlsim_version", c_char_p, ()),
    ("marlsim_api_version", c_int, ()),
    ("marlsim_status_name", c_char_p, (c_int,)),
    ("marlsim_name", c_char_p, (c_int, c_int)),
    ("marlsim_name_count", c_int, (c_int,)),
    ("marlsim_config_create", c_int, (P(c_void_p), c_char_p, c_char_p, P(c_char_p), c_int)),
    ("marlsim_config_set", c_int, (c_void_p, c_char_p)),
    ("marlsim_config_check", c_int, (c_void_p,)),
    ("marlsim_config_render", c_int, (c_void_p, c_char_p, c_size_t, P(c_size_t))),
    ("marlsim_config_hash", c_int, (c_void_p, c_char_p)),
    ("marlsim_config_error", c_char_p, (c_void_p,)),
    ("marlsim_config_free", None, (c_void_p,)),
    ("marlsim_env_create", c_int, (P(c_void_p), c_void_p, c_int, c_int)),
    ("marlsim_env_num_envs", c_int, (c_void_p,)),
    ("marlsim_env_episode_len", c_int, (c_void_p,)),
    ("marlsim_env_obs_dim", c_int, (c_void_p, c_int)),
    ("marlsim_env_feature_name", c_char_p, (c_void_p, c_int, c_int)),
    ("marlsim_env_seed", c_uint64, (c_void_p,)),
    ("marlsim_env_reset", c_int, (c_void_p, c_uint64, P(Batch))),
    ("marlsim_env_step", c_int, (c_void_p, c_void_p, P(Batch))),
    ("marlsim_env_reference_actions", c_int, (c_void_p, c_int, c_void_p, c_void_p)),
    ("marlsim_env_error", c_char_p, (c_void_p,)),
    ("marlsim_env_free", None, (c_void_p,)),
    ("marlsim_policy_load", c_int, (P(c_void_p), c_char_p, c_char_p)),
    ("marlsim_policy_info_get", c_int, (c_void_p, P(PolicyInfo))),
    ("marlsim_policy_act", c_int, (c_void_p, P(c_void_p), c_int, c_void_p, c_void_p)),
    ("marlsim_policy_error", c_char_p, (c_void_p,)),
    ("marlsim_policy_free", None, (c_void_p,)),
    ("marlsim_experiment_create", c_int, (P(c_void_p), c_void_p)),
    ("marlsim_experiment_set_progress", None, (c_void_p, PROGRESS_CB, c_void_p)),
    ("marlsim_experiment_run", c_int, (c_void_p, c_char_p, c_char_p, c_int, P(RunResult))),
    ("marlsim_experiment_stop", None, (c_void_p,)),
    ("marlsim_experiment_error", c_char_p, (c_void_p,)),
    ("marlsim_experiment_free", None, (c_void_p,)),
]:
    _decl(_name, _res, *_args)

if lib.marlsim_api_version() != API_VERSION:
    raise ImportError(f"libmarlsim speaks API version {lib.marlsim_api_version()}, this package {API_VERSION}")


def text(b):
    return b.decode("utf-8", "replace") if b is not None else None


def enc(s):
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")


def names(kind):
    return tuple(text(lib.marlsim_name(kind, i)) for i in range(lib.marlsim_name_count(kind)))


def check(rc, error_fn, handle):
    """Raises MarlsimError with the handle's message when rc is a failure."""
    if rc != OK:
        raise MarlsimError(rc, text(error_fn(handle)) or text(lib.marlsim_status_name(rc)))
