"""Fixtures of the Python package's tests (make pytest).

The package is imported from python/ (this folder's parent) and finds the
library through $MARLSIM_LIB (make pytest sets it to the build's
libmarlsim.so); $MARLSIM_BIN names the marlsim binary the trajectories are
compared with (default: the repository's ./marlsim).
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

DEFAULT_INI = os.path.join(ROOT, "configs", "default.ini")
# A small environment: 8 mailboxes, short episodes, 2 report episodes,
# frequent campaigns and some tampering in transit (held messages too).
SMALL = ["sim.envs=8", "sim.episode_len=16", "gate.report_episodes=2", "sim.campaign_rate=0.2",
         "sim.poison_rate=0.05"]
# A tiny experiment (about a second).
TINY = ["sim.envs=8", "sim.episode_len=16", "run.env_steps=2048", "train.minibatch=64", "gate.every=2",
        "gate.report_episodes=2", "gate.eval_episodes=1"]


@pytest.fixture(scope="session")
def binary():
    path = os.environ.get("MARLSIM_BIN", os.path.join(ROOT, "marlsim"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"no marlsim binary at {path} (make, or set MARLSIM_BIN)")
    return path


@pytest.fixture
def run_binary(binary, tmp_path):
    """Runs the binary with HOME in a temporary folder (no user keyring is
    ever read or made) and returns (exit code, stdout, stderr)."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
    env.pop("MARLSIM_KEYRING", None)

    def run(*args):
        p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, env=env, cwd=tmp_path)
        return p.returncode, p.stdout, p.stderr

    return run


@pytest.fixture
def eval_json(run_binary):
    def ev(policy, sets, config=DEFAULT_INI):
        args = ["eval"] + ([config] if config else []) + ["--policy", policy, "--json"]
        for s in sets:
            args += ["--set", s]
        rc, out, err = run_binary(*args)
        assert rc == 0, err
        return json.loads(out)

    return ev


@pytest.fixture(scope="session")
def tiny_lake(tmp_path_factory, binary):
    """A tiny run's lake, written by the binary with the development key."""
    d = tmp_path_factory.mktemp("lake")
    path = d / "tiny.db"
    args = [binary, "run", DEFAULT_INI, "--keyring", "dev", "--quiet", "--out", str(path)]
    for s in TINY:
        args += ["--set", s]
    env = dict(os.environ, HOME=str(d))
    env.pop("MARLSIM_KEYRING", None)
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=d)
    assert p.returncode == 0, p.stderr
    return path
