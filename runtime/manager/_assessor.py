"""The experiment's assessor: built from the config, run off the manager's loop, replayed on resume.

The assessor runs on one worker thread, so the manager acknowledges an intermediate result at
once and the trial goes on while the assessor thinks; calls reach the assessor one at a time, in
the order the manager made them. A `Bad` verdict comes back to the manager's selector loop
through a socket pair, where the manager (and only it) acts on it.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import selectors
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager._config import AssessorSpec
from nasctl.runtime.manager._kinds import FINISHED_STATUSES, TrialStatus
from nasctl.runtime.manager._storage import TrialRecord

__all__ = ["AssessorRunner", "build_assessor"]

log = logging.getLogger("nasctl.manager")


def build_assessor(spec: AssessorSpec, optimize_mode: str = "maximize") -> Any:
    """The assessor `spec` names; it gets the experiment's `optimize_mode` unless classArgs set one.

    A name or class argument the assessor refuses is a `ConfigError` naming the `assessor` key and
    its line in the config file.
    """
    from nasctl.tuners import assessors

    code_dir = str(spec.code_directory) if spec.code_directory is not None else None
    class_args = dict(spec.class_args)
    try:
        if "optimize_mode" not in class_args and assessors.accepts(spec.name, "optimize_mode", code_dir=code_dir):
            class_args["optimize_mode"] = optimize_mode
        return assessors.create(spec.name, code_dir=code_dir, **class_args)
    except assessors.AssessorError as error:
        raise ConfigError(str(error), key="assessor", path=spec.where) from None


def _backend_report(value: Any) -> bool:
    """Whether an intermediate result is the darts backend's own (architecture weights and loss)."""
    return isinstance(value, dict) and "arch_weights" in value


class AssessorRunner:
    """Feeds one assessor the trials' intermediate results on a worker thread.

    `on_bad(trial_id, step)` and `on_error(message)` are called from the selector loop that
    `selector` belongs to, never from the worker.
    """

    def __init__(self, assessor: Any, label: str, selector: selectors.BaseSelector,
                 on_bad: Callable[[str, int], None], on_error: Callable[[str], None]) -> None:
        self.assessor = assessor
        self.label = label
        self.selector = selector
        self.on_bad = on_bad
        self.on_error = on_error
        self._histories: dict[str, list[float]] = {}
        self._verdicts: collections.deque[tuple[str, str, Any]] = collections.deque()
        self._closed = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nasctl-assessor")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        selector.register(self._wake_r, selectors.EVENT_READ, self._deliver)

    # -- called by the manager (its loop thread) ------------------------------------------------------

    def restore(self, records: Iterable[TrialRecord]) -> None:
        """Replay the trials that ended before this session, in the order they ended."""
        from nasctl.tuners.assessors import scalar_history

        ended = sorted((r for r in records if r.status in FINISHED_STATUSES and r.intermediate),
                       key=lambda r: (r.end_time or 0.0, r.sequence))
        for record in ended:
            history = scalar_history([v for v in record.intermediate if not _backend_report(v)])
            if history:
                self._executor.submit(self._restore, record.trial_id, history,
                                      record.status == TrialStatus.SUCCEEDED)

    def report(self, trial_id: str, value: Any) -> None:
        """A trial's intermediate result (committed): queue its assessment and return at once."""
        from nasctl.tuners.assessors import scalar_history

        number = scalar_history([value]) if not _backend_report(value) else []
        if not number:
            return  # no learning-curve point to judge
        history = self._histories.setdefault(trial_id, [])
        history.append(number[0])
        self._executor.submit(self._assess, trial_id, list(history))

    def trial_end(self, trial_id: str, success: bool) -> None:
        """A trial's process ended; the assessor hears of it only if it assessed the trial."""
        if self._histories.pop(trial_id, None) is not None:
            self._executor.submit(self._call, trial_id, "trial_end", trial_id, success)

    def close(self) -> None:
        """Drop queued calls, wait for the one in progress, and leave the selector."""
        self._closed.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self._wake_r)
        self._wake_r.close()
        self._wake_w.close()

    # -- the worker thread --------------------------------------------------------------------------

    def _assess(self, trial_id: str, history: list[float]) -> None:
        result = self._call(trial_id, "assess_trial", trial_id, history)
        # AssessResult.Good/Bad, or the same from an NNI assessor ported with its own enum (values True/False).
        verdict = result.value if isinstance(result, enum.Enum) else result
        if verdict is False:
            self._post(("bad", trial_id, len(history)))
        elif result is not None and verdict is not True:
            self._post(("error", trial_id, f"assessor {self.label}: assess_trial returned {result!r} for trial "
                                           f"{trial_id}; expected AssessResult.Good or AssessResult.Bad"))

    def _restore(self, trial_id: str, history: list[float], success: bool) -> None:
        if callable(getattr(self.assessor, "restore_trial", None)):
            self._call(trial_id, "restore_trial", trial_id, history, success)
        else:  # an NNI assessor ported as it is: the calls it would have had, at once
            self._call(trial_id, "assess_trial", trial_id, history)
            self._call(trial_id, "trial_end", trial_id, success)

    def _call(self, trial_id: str, method: str, *args: Any) -> Any:
        if self._closed.is_set():
            return None
        try:
            return getattr(self.assessor, method)(*args)
        except Exception as error:
            log.exception("assessor %s: %s(%s) failed", self.label, method, trial_id)
            self._post(("error", trial_id, f"assessor {self.label}: {method} failed on trial {trial_id}: "
                                           f"{type(error).__name__}: {error} (traceback in manager.log)"))
            return None

    def _post(self, verdict: tuple[str, str, Any]) -> None:
        self._verdicts.append(verdict)
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    # -- back on the loop thread --------------------------------------------------------------------

    def _deliver(self, _mask: int) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_r.recv(4096):
                pass
        while self._verdicts:
            kind, trial_id, detail = self._verdicts.popleft()
            if kind == "bad":
                self.on_bad(trial_id, detail)
            else:
                self.on_error(detail)
