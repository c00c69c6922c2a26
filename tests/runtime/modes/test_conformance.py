"""The backend kit (`nasctl.runtime.modes.testing`): every one-shot mode solves the synthetic task on
torch and on TensorFlow, and the kit names what a broken backend gets wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest
from nasctl.runtime.modes import testing


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", testing.MODES)
def test_torch_backends_solve_the_task(mode, seed):
    assert testing.check_backend("torch", mode, seed=seed) == f"torch {mode}"


@pytest.mark.parametrize(("mode", "seed"), [("darts", 0), ("darts", 1), ("enas", 0), ("oneshot_dropout", 0),
                                            ("oneshot_single_path", 0)])
def test_tensorflow_backends_solve_the_task(mode, seed):
    pytest.importorskip("tensorflow")
    assert testing.check_backend("tensorflow", mode, seed=seed) == f"tensorflow {mode}"


def test_every_registered_backend_implements_the_contract():
    assert testing.check_contract("torch") == ["torch classic", "torch darts", "torch enas", "torch oneshot"]
    assert testing.check_contract(None) == ["any framework classic"]
    pytest.importorskip("tensorflow")
    assert testing.check_contract("tensorflow") == [
        "tensorflow classic", "tensorflow darts", "tensorflow enas", "tensorflow oneshot"]


# -- the kit catches what it promises (negative controls) ----------------------------------------


def test_a_backend_that_breaks_the_contract_is_named():
    from nasctl.runtime.modes import LayerBackend, register_backend
    from nasctl.runtime.modes._registry import _BACKENDS
    from nasctl.runtime.modes.torch import OneShotBackend

    class NoResolve(LayerBackend):
        framework, mode = "torch", "halfway"

        def set_architecture(self):  # takes no architecture
            pass

    class Eager(OneShotBackend):
        mode = "eager"

        def derived_architecture(self):
            return {}

    register_backend("torch", "halfway", NoResolve)
    register_backend("torch", "eager", Eager)
    try:
        with pytest.raises(testing.BackendConformanceError, match="2 backend\\(s\\) break the contract") as error:
            testing.check_contract("torch")
    finally:
        _BACKENDS.pop(("torch", "halfway"))
        _BACKENDS.pop(("torch", "eager"))
    assert "torch eager: derived_architecture() before any layer ran is {}, not None" in str(error.value)
    assert ("torch halfway: set_architecture() cannot be called as the trial calls it (too many positional "
            "arguments); it does not implement resolve()") in str(error.value)



def test_darts_that_never_moves_its_weights_is_named():
    from nasctl.runtime.modes.torch import DartsBackend

    class Frozen(DartsBackend):
        def training_update(self, **kwargs):
            pass

    with pytest.raises(testing.BackendConformanceError,
                       match=r"^torch darts: the weight of the right candidate Conv\(3\) is 0.333, not above 0.5; "
                             r"the input weights are s1 0.500, s2 0.500"):
        testing.check_backend("torch", "darts", factory=Frozen)


def test_a_derived_architecture_in_the_wrong_format_and_rebuilt_candidates_are_named():
    from nasctl.runtime.modes.torch import OneShotBackend

    class Loose(OneShotBackend):
        def derived_architecture(self):
            best = super().derived_architecture()
            return {key: {layer: choice["chosen_layer"] for layer, choice in layers.items()}
                    for key, layers in best.items()}

    with pytest.raises(testing.BackendConformanceError,
                       match="^torch oneshot_single_path: derive\\(\\) returned .* but derived_architecture\\(\\) is "
                             ".*; the derived architecture is not an architecture of the task: derived_architecture"
                             "\\(\\): key 'task/Net.forward/h': layer 'h': 'Conv\\(3\\)' is not \\{'chosen_layer'"):
        testing.check_backend("torch", "oneshot_single_path", factory=Loose)

    task = testing.task_module("torch")
    run = task.search("oneshot_dropout", 0)
    run.candidates_after = {key: task.Conv(1) for key in run.candidates_after}
    with pytest.raises(testing.BackendConformanceError, match="were built again during the search"):
        testing._run.verify("torch", "oneshot_dropout", run, task.TARGET, task.SEARCH_SPACE, list(task.LABELS))


def test_unknown_names_and_a_missing_framework_are_clear_errors():
    with pytest.raises(testing.BackendConformanceError, match="unknown mode 'classic'; the kit searches with darts"):
        testing.check_backend("torch", "classic")
    with pytest.raises(testing.BackendConformanceError, match="unknown framework 'jax'; the kit has torch, tensorflow"):
        testing.task_module("jax")
    code = ("import sys; sys.modules['tensorflow'] = None\nfrom nasctl.runtime.modes import testing\n"
            "try:\n    testing.task_module('tensorflow')\nexcept ImportError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("the tensorflow backend kit needs tensorflow (pip install nasctl[tf])"), result.stderr
