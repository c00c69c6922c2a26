"""Issue 2's end-to-end test: the annotated digits CNN compiles and trains standalone with two architectures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "mnist-nas" / "mnist.py"

SMALL = {
    "mnist/Net.forward/conv1": {"conv1": {"chosen_layer": "Pool(size=3, kind=\"max\")", "chosen_inputs": []},
                                "conv2": {"chosen_layer": "identity()", "chosen_inputs": ["stem"]}},
    "mnist/Net.forward/conv3": {"conv3": {"chosen_layer": "SepConv(size=3, channels=c)", "chosen_inputs": []},
                                "conv4": {"chosen_layer": "Conv(size=1, channels=c)", "chosen_inputs": []}},
    "mnist/learning_rate/choice": 0.01,
}
LARGE = {
    "mnist/Net.forward/conv1": {"conv1": {"chosen_layer": "Conv(size=5, channels=c)", "chosen_inputs": []},
                                "conv2": {"chosen_layer": "Conv(size=3, channels=c, dilation=2)", "chosen_inputs": []}},
    "mnist/Net.forward/conv3": {"conv3": {"chosen_layer": "Conv(size=3, channels=c)", "chosen_inputs": []},
                                "conv4": {"chosen_layer": "Conv(size=3, channels=c)", "chosen_inputs": ["down"]}},
    "mnist/learning_rate/choice": 0.01,
}


def test_the_example_search_space_is_what_the_architectures_name():
    from nasctl.runtime.trial import validate_architecture

    from nasctl import annotator

    space = annotator.generate_search_space(SCRIPT.parent)
    validate_architecture(SMALL, space)
    validate_architecture(LARGE, space)


def _start(tmp_path: Path, name: str, architecture: dict) -> tuple[subprocess.Popen, Path]:
    arch = tmp_path / f"{name}.json"
    arch.write_text(json.dumps(architecture))
    weights = tmp_path / f"{name}.pt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "nasctl.runtime.cli", "trial", "run", str(SCRIPT), "--arch", str(arch), "--seed", "0",
         "--", "--epochs", "3", "--channels", "16", "--save", str(weights)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    return process, weights


def _finish(process: subprocess.Popen, weights: Path) -> tuple[float, dict]:
    stdout, stderr = process.communicate(timeout=500)
    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[-1].startswith("final result: ")
    assert sum(line.startswith("intermediate result: ") for line in lines) == 3
    import torch

    return json.loads(lines[-1].removeprefix("final result: ")), torch.load(weights)


@pytest.mark.timeout(600)
def test_two_architectures_give_different_models_and_real_accuracies(tmp_path):
    runs = [_start(tmp_path, "small", SMALL), _start(tmp_path, "large", LARGE)]  # side by side: 2 cores
    (small_accuracy, small), (large_accuracy, large) = [_finish(*run) for run in runs]
    assert small_accuracy > 0.6 and large_accuracy > 0.6  # chance is 0.1
    candidates = lambda state: {k.split(".")[1] for k in state if k.startswith("nas_candidates.")}  # noqa: E731
    # parameterless choices (a pooling, the identity function) leave nothing in the state dict
    assert candidates(small) == {"mnist_Net_forward_conv3__conv3__1", "mnist_Net_forward_conv3__conv4__0"}
    assert candidates(large) == {"mnist_Net_forward_conv1__conv1__1", "mnist_Net_forward_conv1__conv2__1",
                                 "mnist_Net_forward_conv3__conv3__0", "mnist_Net_forward_conv3__conv4__1"}
    shapes = lambda state: sorted(tuple(v.shape) for v in state.values())  # noqa: E731
    assert shapes(small) != shapes(large)
