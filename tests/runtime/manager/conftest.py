"""Fixtures for the experiment manager's tests: a tiny seeded tuner, tiny trial scripts, configs.

The trial scripts speak the channel protocol with a few lines of socket code (no torch, no nasctl
import), so every test trial costs about one interpreter start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]

TUNER = '''
import json
import random

from nasctl.tuners import NoMoreTrialError


class ListTuner:
    """Seeded random choices from a space of `choice` entries; stops after `limit` proposals."""

    def __init__(self, seed=0, limit=None, optimize_mode="maximize"):
        self.rng = random.Random(seed)
        self.limit = limit
        self.generated = 0
        self.results = {}
        self.ended = {}
        self.log = []

    def update_search_space(self, search_space):
        self.space = search_space

    def generate_parameters(self, parameter_id, **kw):
        if self.limit is not None and self.generated >= self.limit:
            raise NoMoreTrialError("done")
        self.generated += 1
        self.log.append(("generate", parameter_id))
        return {key: self.rng.choice(spec["_value"]) for key, spec in sorted(self.space.items())}

    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        if parameter_id in self.results:
            raise RuntimeError(f"result for parameter {parameter_id} received twice")
        self.results[parameter_id] = value
        self.log.append(("result", parameter_id))

    def trial_end(self, parameter_id, success, **kw):
        self.ended[parameter_id] = success
        self.log.append(("end", parameter_id))

    def import_data(self, data):
        pass

    def save_checkpoint(self, path):
        state = {"rng": self.rng.getstate(), "generated": self.generated,
                 "results": {str(k): v for k, v in self.results.items()}, "ended": {str(k): v for k, v in self.ended.items()}}
        with open(path, "w") as handle:
            json.dump(state, handle)

    def load_checkpoint(self, path):
        with open(path) as handle:
            state = json.load(handle)
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.generated = state["generated"]
        self.results = {int(k): v for k, v in state["results"].items()}
        self.ended = {int(k): v for k, v in state["ended"].items()}
'''

# A trial that speaks the channel protocol by hand. `value` is computed from the parameters and
# the trial seed, so a rerun with the same seed gives the same value.
CLIENT = '''
import json, os, socket, sys, time

_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
_sock.connect(os.environ["NAS_CHANNEL"][len("unix:"):])
_file = _sock.makefile("rwb")
_seq = 0


def request(type_, token=None, trial_id=None, **fields):
    global _seq
    message = {"token": token or os.environ["NAS_TOKEN"], "trial_id": trial_id or os.environ["NAS_TRIAL_ID"],
               "type": type_, "seq": _seq, **fields}
    _seq += 1
    _file.write(json.dumps(message).encode() + b"\\n")
    _file.flush()
    return json.loads(_file.readline())


def raw(line):
    _file.write(line + b"\\n")
    _file.flush()
    return json.loads(_file.readline())
'''

TRIAL = CLIENT + '''
reply = request("get_parameter")
params, pid = reply["parameters"], reply["parameter_id"]
seed = int(os.environ["NAS_TRIAL_SEED"])
time.sleep(float(os.environ.get("TEST_TRIAL_SLEEP", "0")))
value = params["x"] * 10 + params["y"] + (seed % 7) / 100
for step in range(2):
    request("metric", kind="intermediate", value=value * (step + 1) / 3, parameter_id=pid, sequence=step)
request("metric", kind="final", value=value, parameter_id=pid)
'''

SPACE = {"x": {"_type": "choice", "_value": [1, 2, 3, 4, 5]}, "y": {"_type": "choice", "_value": [0, 1]}}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def nas_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("NAS_HOME", str(home))
    return home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A trial code directory with `trial.py`, a custom tuner and a search space file."""
    root = tmp_path / "project"
    write(root / "trial.py", TRIAL)
    write(root / "tuner" / "listtuner.py", TUNER)
    (root / "space.json").write_text(json.dumps(SPACE))
    return root


def base_config(project: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "experimentName": "test",
        "trialCommand": "python3 trial.py",
        "trialCodeDirectory": ".",
        "searchSpaceFile": "space.json",
        "trialConcurrency": 2,
        "maxTrialNumber": 4,
        "seed": 7,
        "tuner": {"codeDirectory": "tuner", "className": "listtuner:ListTuner", "classArgs": {"seed": 3}},
        "trainingService": {"platform": "local"},
    }
    config.update(overrides)
    return config


def write_config(project: Path, config: dict[str, Any], name: str = "config.yml") -> Path:
    path = project / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def nasctl(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `nasctl` (as `python -m nasctl.runtime.cli`) and capture its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=REPO)


@pytest.fixture
def helpers() -> Any:
    """The module-level helpers, for test files (which cannot import each other)."""

    class Helpers:
        base_config = staticmethod(base_config)
        write_config = staticmethod(write_config)
        write = staticmethod(write)
        nasctl = staticmethod(nasctl)
        CLIENT = globals()["CLIENT"]
        TRIAL = globals()["TRIAL"]
        SPACE = globals()["SPACE"]
        TUNER = globals()["TUNER"]

    return Helpers
