"""A small finished experiment for the view's tests: real trials that speak the channel by hand.

Five trials (about one interpreter start each): every one reports three intermediate results and
three darts-style architecture-weight reports; trial #2 fails with a message on stderr.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from nasctl.runtime.manager import Experiment

TRIAL = textwrap.dedent('''
    import json, os, socket, sys

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["NAS_CHANNEL"][len("unix:"):])
    stream = sock.makefile("rwb")
    seq = 0

    def request(type_, **fields):
        global seq
        message = {"token": os.environ["NAS_TOKEN"], "trial_id": os.environ["NAS_TRIAL_ID"], "type": type_,
                   "seq": seq, **fields}
        seq += 1
        stream.write(json.dumps(message).encode() + b"\\n")
        stream.flush()
        return json.loads(stream.readline())

    reply = request("get_parameter")
    params, pid = reply["parameters"], reply["parameter_id"]
    number = int(os.environ["NAS_TRIAL_SEQUENCE_ID"])
    value = params["x"] * 10 + params["y"]
    for step in range(3):
        request("metric", kind="intermediate", value=value * (step + 1) / 3, parameter_id=pid, sequence=step)
        p = 0.5 + 0.1 * step
        request("metric", kind="arch_weights", parameter_id=pid, sequence=5 * (step + 1),
                value={"default": 1.0 - step / 10, "step": 5 * (step + 1), "arch_weights": {
                    "net/Net.forward/h": {"h": {"layer": {"conv": p, "pool": 1 - p}, "inputs": {"x": 0.4}}}}})
    if number == 2:
        print("Traceback: the data loader broke", file=sys.stderr)
        print("RuntimeError: trial two always fails", file=sys.stderr)
        sys.exit(3)
    request("metric", kind="final", value=value, parameter_id=pid)
''')

SPACE = {"x": {"_type": "choice", "_value": [1, 2, 3, 4, 5]}, "y": {"_type": "uniform", "_value": [0, 1]}}


@dataclass
class Finished:
    home: Path
    id: str
    trial_ids: list[str]


def make_experiment(root: Path, *, trials: int = 5, exp_id: str = "viewtest") -> Finished:
    """Run a small experiment to its end under `root/home`."""
    code = root / "code"
    code.mkdir(parents=True)
    (code / "trial.py").write_text(TRIAL, encoding="utf-8")
    (code / "space.json").write_text(json.dumps(SPACE), encoding="utf-8")
    config = {"experimentName": "view test", "trialCommand": "python3 trial.py", "trialCodeDirectory": str(code),
              "searchSpaceFile": str(code / "space.json"), "trialConcurrency": 2, "maxTrialNumber": trials,
              "seed": 5, "tuner": {"name": "Random", "classArgs": {"seed": 1}},
              "trainingService": {"platform": "local"}}
    home = root / "home"
    exp = Experiment(config, id=exp_id, nas_home=home)
    assert exp.run() == "DONE"
    return Finished(home, exp_id, [t.trial_id for t in exp.trials()])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """A finished experiment of five trials (one failed), shared by a test module."""
    return make_experiment(tmp_path_factory.mktemp("view"))
