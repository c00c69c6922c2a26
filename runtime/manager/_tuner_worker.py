"""The tuner's own thread: every call to the tuner runs there, one at a time, in submission order.

The manager's selector loop submits calls and goes on serving trials; a suggestion that takes
64 ms (TPE at 5,000 trials) or a checkpoint being pickled never holds up a metric's
acknowledgement or a trial's start. Because calls run in the order they were submitted, the
tuner sees exactly the sequence of events the manager stores, which is what a resume replays.

>>> worker = TunerWorker(tuner)                               # doctest: +SKIP
>>> future = worker.submit(tuner.generate_parameters, 0)      # doctest: +SKIP
>>> worker.submit(tuner.receive_trial_result, 0, p, 0.9)     # doctest: +SKIP
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["TunerWorker"]


class TunerWorker:
    """One daemon thread that owns the calls to `tuner`; `wake()` runs when a call fails.

    After a call raises, the later ones are not run (the tuner may be half-updated): their futures
    get the same exception, and `error` holds it for the manager to raise.
    """

    def __init__(self, tuner: Any, *, wake: Callable[[], None] | None = None) -> None:
        self.tuner = tuner
        self.error: BaseException | None = None
        self._wake = wake
        self._queue: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="nasctl-tuner", daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        """The thread the tuner's calls run on."""
        return self._thread

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """Queue `function(*args)` behind the calls already submitted; its future holds the outcome."""
        future: Future = Future()
        self._queue.put((future, function, args))
        return future

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` after the calls already submitted, and wait for its result."""
        return self.submit(function, *args).result()

    def close(self, *, wait: bool = True) -> None:
        """Stop the thread after the calls already submitted (`wait`: until they are done)."""
        self._queue.put(None)
        if wait:
            self._thread.join()

    def _run(self) -> None:
        # A torch tuner (the ENAS controller) gets one intra-op thread: its small updates run
        # several times faster that way, and the trials keep the cores.
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, function, args = item
            if not future.set_running_or_notify_cancel():
                continue
            if self.error is not None:
                future.set_exception(self.error)
                continue
            try:
                result = function(*args)
            except BaseException as error:  # noqa: BLE001 - handed to the manager's loop
                self.error = error
                future.set_exception(error)
                self._notify()
                continue
            future.set_result(result)

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake()
