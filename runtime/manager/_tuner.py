"""The experiment's tuner: creation from the config, checkpoints, and rebuilding its state on resume."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from nasctl.runtime._numbers import number_problem
from nasctl.runtime.manager._channel import printable
from nasctl.runtime.manager._config import _TUNERLESS_MODES, TunerSpec
from nasctl.runtime.manager._kinds import TunerEvent
from nasctl.runtime.manager._retrain import PartialSpaceTuner, TunerlessProposer
from nasctl.runtime.manager._storage import Storage

__all__ = ["CheckpointUnusable", "TunerlessProposer", "checkpoint_data", "checkpoint_tuner", "create_tuner",
           "is_no_more_trials", "restore_tuner", "tell_trial_end"]

log = logging.getLogger("nasctl.manager")


def is_no_more_trials(error: BaseException) -> bool:
    """Whether a tuner's exception says it has nothing left to propose: `nasctl.tuners.NoMoreTrialError`,
    or NNI's `nni.NoMoreTrialError` from a tuner written for NNI (NNI is never imported here: a tuner
    that raises NNI's class has imported it)."""
    from nasctl.tuners import NoMoreTrialError

    if isinstance(error, NoMoreTrialError):
        return True
    nni_class = getattr(sys.modules.get("nni"), "NoMoreTrialError", None)
    return isinstance(nni_class, type) and isinstance(error, nni_class)


def create_tuner(spec: TunerSpec | None, seed: int, *, mode: str = "classic",
                 fixed: dict[str, Any] | list[dict[str, Any]] | None = None) -> Any:
    """A new tuner for `spec`; built-ins get the experiment `seed` unless classArgs set one.

    With `fixed` (a retrain's architecture) the tuner searches only the keys it leaves open, `Random`
    (seeded with `seed`) when `spec` is None. In oneshot/darts without a tuner, `Random` draws the
    keys that are not `mutable_layer` blocks (variables, function choices); the supernet decides the
    blocks. See `nasctl.runtime.manager._retrain`.
    """
    if fixed is not None:
        return PartialSpaceTuner(lambda: _create(spec or TunerSpec("Random"), seed), fixed)
    if spec is None:
        if mode in _TUNERLESS_MODES:
            return PartialSpaceTuner(lambda: _create(TunerSpec("Random"), seed), layers_fixed=True)
        return TunerlessProposer()
    return _create(spec, seed)


def _create(spec: TunerSpec, seed: int) -> Any:
    from nasctl import tuners

    class_args = dict(spec.class_args)
    if not spec.is_custom:
        class_args.setdefault("seed", seed)
        return tuners.create(spec.name, **class_args)
    return tuners.create(spec.name, code_dir=str(spec.code_directory) if spec.code_directory else None,
                         **class_args)


def _supports_checkpoints(tuner: Any) -> bool:
    return callable(getattr(tuner, "save_checkpoint", None)) and callable(getattr(tuner, "load_checkpoint", None))


def checkpoint_tuner(tuner: Any, storage: Storage, folder: Path) -> bool:
    """Store the tuner's checkpoint with the id of the last event it has seen; False if unsupported."""
    event_id = storage.last_event_id()
    data = checkpoint_data(tuner, folder)
    if data is None:
        return False
    storage.save_checkpoint(event_id, data)
    return True


def checkpoint_data(tuner: Any, folder: Path) -> bytes | None:
    """The tuner's checkpoint (written through a temporary file in `folder`); None if unsupported.

    Touches no storage, so the tuner's own thread can run it while the manager serves trials.
    """
    if not _supports_checkpoints(tuner):
        return None
    fd, name = tempfile.mkstemp(prefix=".tuner-", suffix=".ckpt", dir=folder)
    os.close(fd)
    try:
        tuner.save_checkpoint(name)
        return Path(name).read_bytes()
    finally:
        Path(name).unlink(missing_ok=True)


class CheckpointUnusable(Exception):
    """The stored tuner checkpoint could not be loaded; replay every event into a fresh tuner instead."""


def restore_tuner(tuner: Any, storage: Storage, folder: Path, *, use_checkpoint: bool = True) -> int:
    """Bring a fresh tuner (search space already set) to where the stored experiment left it.

    Loads the latest checkpoint, then replays the tuner calls recorded after it, in order. Returns
    the number of replayed events. Parameters generated during replay are discarded: the stored
    ones are what the trials ran.
    """
    start = 0
    checkpoint = storage.latest_checkpoint() if use_checkpoint and _supports_checkpoints(tuner) else None
    if checkpoint is not None:
        start, data = checkpoint
        fd, name = tempfile.mkstemp(prefix=".tuner-", suffix=".ckpt", dir=folder)
        try:
            os.write(fd, data)
            os.close(fd)
            tuner.load_checkpoint(name)
        except Exception as error:
            raise CheckpointUnusable(f"{type(error).__name__}: {error}") from error
        finally:
            Path(name).unlink(missing_ok=True)
    events = storage.events_after(start)
    for event_id, kind, parameter_id, payload in events:
        try:
            _replay(tuner, kind, parameter_id, payload)
        except Exception as error:
            # A bad stored value or a tuner's bug must not make the experiment impossible to resume:
            # the event leaves the replay (kept in quarantined_events) and is reported this once.
            reason = error.args[0] if isinstance(error, _Unusable) else f"{type(error).__name__}: {error}"
            storage.quarantine_event(event_id, reason)
            log.warning("tuner replay: the %s event of parameter %s was skipped and quarantined (%s)",
                        kind, parameter_id, printable(reason, 500))
    return len(events)


class _Unusable(Exception):
    """A stored event no tuner should see."""


def _replay(tuner: Any, kind: TunerEvent, parameter_id: int, payload: Any) -> None:
    if kind == TunerEvent.GENERATE:
        try:
            again = tuner.generate_parameters(parameter_id)
        except Exception as error:  # a tuner may refuse during replay; the stored parameters stand
            if not is_no_more_trials(error):
                raise
            return
        if again != payload:
            log.warning("tuner replay: parameter %s differs from the stored one; the stored one is kept",
                        parameter_id)
    elif kind == TunerEvent.RESULT:
        problem = number_problem(payload.get("value")) if isinstance(payload, dict) else "not a stored result"
        if problem is not None:
            raise _Unusable(f"its value is refused: {problem}")
        tuner.receive_trial_result(parameter_id, payload["parameters"], payload["value"])
    elif kind == TunerEvent.END:
        tell_trial_end(tuner, parameter_id, bool(payload))


def tell_trial_end(tuner: Any, parameter_id: int, success: bool) -> None:
    """`tuner.trial_end(parameter_id, success)`, where the tuner has one (it is optional, as in NNI)."""
    hook = getattr(tuner, "trial_end", None)
    if callable(hook):
        hook(parameter_id, success)
