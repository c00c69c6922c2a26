"""Rebuilding the tuner on resume: its checkpoint plus the stored calls after it, replayed in order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager._storage import Storage
from nasctl.runtime.manager._tuner import checkpoint_tuner, is_no_more_trials, restore_tuner

SPACE = {"x": {"_type": "choice", "_value": list(range(100))}}


class Recorder:
    """A seeded tuner whose whole state is its call log and its generator."""

    def __init__(self, seed: int = 0, checkpoints: bool = True) -> None:
        self.rng = random.Random(seed)
        self.calls: list[tuple[Any, ...]] = []
        if not checkpoints:
            self.save_checkpoint = None  # type: ignore[assignment]

    def update_search_space(self, space: dict[str, Any]) -> None:
        self.space = space

    def generate_parameters(self, parameter_id: int, **kw: Any) -> dict[str, Any]:
        self.calls.append(("generate", parameter_id))
        return {"x": self.rng.choice(self.space["x"]["_value"])}

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any, **kw: Any) -> None:
        self.calls.append(("result", parameter_id, parameters["x"], value))

    def trial_end(self, parameter_id: int, success: bool, **kw: Any) -> None:
        self.calls.append(("end", parameter_id, success))

    def save_checkpoint(self, path: str) -> None:
        import pickle

        Path(path).write_bytes(pickle.dumps((self.rng.getstate(), self.calls)))

    def load_checkpoint(self, path: str) -> None:
        import pickle

        state, self.calls = pickle.loads(Path(path).read_bytes())
        self.rng.setstate(state)


def _drive(tuner: Recorder, storage: Storage, first: int, count: int) -> None:
    """What the manager does for `count` trials: generate, store, result, end."""
    for sequence in range(first, first + count):
        parameters = tuner.generate_parameters(sequence)
        storage.add_trial(f"t{sequence}", sequence, sequence, parameters)
        storage.add_metric(f"t{sequence}", sequence, "final", None, sequence / 10, parameters=parameters)
        tuner.receive_trial_result(sequence, parameters, sequence / 10)
        storage.finish_trial(f"t{sequence}", "SUCCEEDED", exit_code=0, stderr_tail=None)
        tuner.trial_end(sequence, True)


@pytest.mark.parametrize("checkpoints", [True, False])
def test_restored_tuner_continues_exactly(tmp_path: Path, checkpoints: bool) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    original = Recorder(seed=5, checkpoints=checkpoints)
    original.update_search_space(SPACE)
    _drive(original, storage, 0, 3)
    assert checkpoint_tuner(original, storage, tmp_path) is checkpoints
    _drive(original, storage, 3, 2)  # after the checkpoint: must be replayed

    restored = Recorder(seed=5, checkpoints=checkpoints)
    restored.update_search_space(SPACE)
    replayed = restore_tuner(restored, storage, tmp_path)
    assert replayed == (6 if checkpoints else 15)
    assert restored.calls == original.calls
    assert restored.generate_parameters(5) == original.generate_parameters(5)
    assert list(tmp_path.glob(".tuner-*")) == []
    storage.close()


def test_no_more_trials_is_recognised_by_class_nasctls_or_nnis(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from nasctl import tuners

    class NoMoreTrialError(Exception):  # a look-alike: only the name is the same
        pass

    assert is_no_more_trials(tuners.NoMoreTrialError("done"))
    assert not is_no_more_trials(tuners.TunerError("broken"))
    assert not is_no_more_trials(NoMoreTrialError())
    nni = types.ModuleType("nni")  # NNI's own class, where a tuner written for NNI imported it
    nni.NoMoreTrialError = type("NoMoreTrialError", (Exception,), {})
    monkeypatch.setitem(sys.modules, "nni", nni)
    assert is_no_more_trials(nni.NoMoreTrialError("Search space fully explored"))
    assert not is_no_more_trials(NoMoreTrialError())


def test_an_unusable_checkpoint_is_reported_for_a_full_replay(tmp_path: Path) -> None:
    from nasctl.runtime.manager._tuner import CheckpointUnusable

    storage = Storage(tmp_path / "e.db", create=True)
    original = Recorder(seed=5)
    original.update_search_space(SPACE)
    _drive(original, storage, 0, 2)
    storage.save_checkpoint(storage.last_event_id(), b"not a pickle")
    with pytest.raises(CheckpointUnusable, match="UnpicklingError"):
        restore_tuner(Recorder(seed=5), storage, tmp_path)
    fresh = Recorder(seed=5)
    fresh.update_search_space(SPACE)
    assert restore_tuner(fresh, storage, tmp_path, use_checkpoint=False) == 6
    assert fresh.calls == original.calls
    storage.close()


def test_trial_end_is_optional_as_in_nni() -> None:
    from nasctl.runtime.manager._tuner import tell_trial_end

    class Minimal:  # the three methods NNI requires, no trial_end
        pass

    class Ending:
        def __init__(self) -> None:
            self.ended: list[tuple[int, bool]] = []

        def trial_end(self, parameter_id: int, success: bool) -> None:
            self.ended.append((parameter_id, success))

    tell_trial_end(Minimal(), 3, True)
    ending = Ending()
    tell_trial_end(ending, 3, False)
    assert ending.ended == [(3, False)]


def test_nni_shim_gives_nascls_no_more_trial_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """`from nni import NoMoreTrialError` works where NNI is absent, and the manager knows the class."""
    import sys

    import nasctl
    from nasctl import tuners

    monkeypatch.delitem(sys.modules, "nni", raising=False)
    monkeypatch.syspath_prepend(str(Path(nasctl.__file__).parent / "_nni"))
    from nni import NoMoreTrialError

    assert NoMoreTrialError is tuners.NoMoreTrialError
    assert is_no_more_trials(NoMoreTrialError("Search space fully explored"))
    monkeypatch.delitem(sys.modules, "nni")
