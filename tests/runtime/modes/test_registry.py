"""The (framework, mode) registry: backends plug in as entries, resolved once per layer."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes import LayerBackend, backend_class, detect_framework, has_mode, register_backend
from nasctl.runtime.modes._registry import _BACKENDS

import nas


class Recording(LayerBackend):
    """A backend that runs every candidate and sums the results, recording the hook calls."""

    events: list[str] = []

    def resolve(self, layer):
        Recording.events.append(f"resolve {layer.where} {layer.framework}")

        def call(candidates, fixed, optional):
            return sum(callee([fixed, list(optional.values())], *args, **kwargs)
                       for callee, args, kwargs in candidates.values())
        return call

    def training_update(self, **kwargs):
        Recording.events.append(f"update {sorted(kwargs)}")

    def derived_architecture(self):
        return {"m/b": {"h": {"chosen_layer": "one()", "chosen_inputs": []}}}


def one(inputs):
    return 1


def two(inputs, k=2):
    return k


@pytest.fixture
def recording_mode():
    register_backend(None, "recording_mode", Recording)
    Recording.events = []
    yield
    _BACKENDS.pop((None, "recording"), None)


def test_a_registered_backend_serves_its_mode(standalone, recording_mode, capsys):
    standalone({})
    assert has_mode("recording")
    for _ in range(3):
        out = nas.mutable_layer("m/b", "h", {"one()": (one, (), {}), "two()": (two, (), {})}, [], {}, 0, "recording")
        assert out == 3
    assert Recording.events == ["resolve m/b/h None"]  # resolved once
    nas.training_update(loss=1.0)
    assert Recording.events[-1] == "update ['loss']"
    nas.report_final_result(0.5)
    assert capsys.readouterr().out.splitlines() == [
        'derived architecture: {"m/b": {"h": {"chosen_layer": "one()", "chosen_inputs": []}}}',
        "final result: 0.5"]


def test_string_entries_are_imported_on_first_use(recording_mode):
    register_backend("torch", "recording", "nasctl.runtime.modes._classic:ClassicBackend")
    try:
        from nasctl.runtime.modes._classic import ClassicBackend

        assert backend_class("torch", "recording") is ClassicBackend
        assert backend_class("tensorflow", "recording") is Recording  # falls back to (None, mode)
    finally:
        _BACKENDS.pop(("torch", "recording"), None)


def test_unknown_frameworks_are_refused():
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        register_backend("jax", "classic", Recording)


def test_a_missing_backend_names_mode_and_framework():
    with pytest.raises(TrialError, match="nas mode 'quantum' is not available for torch"):
        backend_class("torch", "quantum_mode")


def test_every_mode_has_a_backend_for_torch_and_tensorflow():
    for framework in ("torch", "tensorflow"):
        if framework == "tensorflow":
            pytest.importorskip("tensorflow")  # the optional [tf] extra: its backends import it
        for mode in ("classic", "enas", "oneshot", "darts"):
            assert issubclass(backend_class(framework, mode), LayerBackend)


def test_framework_detection_needs_no_import():
    assert detect_framework(None, [one], [1, 2.0]) is None
    torch = pytest.importorskip("torch")
    assert detect_framework(None, [one], [torch.zeros(1)]) == "torch"
    assert detect_framework(torch.nn.Linear(1, 1), [one], []) == "torch"
    assert detect_framework(None, [torch.nn.ReLU], []) == "torch"
