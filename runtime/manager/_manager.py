"""The manager: one selector loop that runs the channel server and the trial processes.

The loop's thread owns storage, the channel and the trials; the tuner runs on its own thread
(`TunerWorker`), one call at a time in the order the loop submits them, so a slow suggestion or a
checkpoint never delays a reply. A free slot's parameters are prepared while the other trials run
(with prepare-ahead, also those of the slots the running trials will free); a metric is stored and
acknowledged, then given to the tuner. The loop:

1. starts trials while slots are free (restarted ones first, then new ones from the prepared
   parameters), and asks the tuner for the parameters of a free slot (or of a slot to come),
2. waits on the channel's sockets, the trials' pidfds and the signal pipe, with a timeout set by
   the next deadline (maxTrialDuration, maxExperimentDuration, the heartbeat),
3. stops when every trial has ended and no more may start (maxTrialNumber, the tuner is done),
   when the experiment's time is up, or when asked to (SIGINT, SIGTERM).

State changes are committed to storage before they are acted on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import math
import os
import secrets
import selectors
import signal
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._assessor import AssessorRunner, build_assessor
from nasctl.runtime.manager._channel import ChannelServer, Refused, printable
from nasctl.runtime.manager._config import ExperimentConfig, parse_duration
from nasctl.runtime.manager._kinds import (
    FAILED_STATUSES,
    FINISHED_STATUSES,
    ExperimentStatus,
    MetricKind,
    Reply,
    Request,
    TrialStatus,
)
from nasctl.runtime.manager._local import LocalTrainingService, TrialProcess, kill_orphans, stderr_tail
from nasctl.runtime.manager._outcome import error_line, error_signature
from nasctl.runtime.manager._ray import RayTrainingService, RayTrial
from nasctl.runtime.manager._service import TrainingService
from nasctl.runtime.manager._storage import Storage
from nasctl.runtime.manager._trial_env import derive_trial_seed, trial_environment
from nasctl.runtime.manager._tuner import (
    CheckpointUnusable,
    checkpoint_data,
    create_tuner,
    is_no_more_trials,
    restore_tuner,
    tell_trial_end,
)
from nasctl.runtime.manager._tuner_worker import TunerWorker

__all__ = ["Manager", "Progress", "LOCK_NAME", "SOCKET_NAME", "manager_pid"]

log = logging.getLogger("nasctl.manager")

LOCK_NAME = "manager.lock"
SOCKET_NAME = "channel.sock"
LOG_NAME = "manager.log"
_TRIAL_ID_ALPHABET = string.ascii_letters + string.digits
_HEARTBEAT = 1.0
_CHECKPOINT_EVERY = 5.0
# The run stops when this many trials of a session fail first, all in the same way (their errors
# compared without trial-specific parts), or when twice as many fail first in any ways at all.
EARLY_FAILURES = 3
EARLY_FAILURES_ANY = 6


def manager_pid(experiment_dir: Path) -> int | None:
    """The pid of the manager running this experiment, or None if none holds its lock."""
    lock = experiment_dir / LOCK_NAME
    if not lock.exists():
        return None
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


@dataclass
class Progress:
    """What the progress bar shows."""

    done: int
    running: int
    failed: int
    total: int | None
    best: float | None
    elapsed: float


@dataclass
class _Live:
    """A running trial as the dispatcher sees it: the parameters it has been served."""

    trial_id: str
    sequence: int
    phases: list[tuple[int, dict[str, Any]]]
    token: str
    served: int = 0
    current: int | None = None
    finals: set[int] = field(default_factory=set)
    given: dict[int, dict[str, Any]] = field(default_factory=dict)  # parameter_id -> parameters served


class Manager:
    """Runs (or resumes) the experiment stored in `experiment_dir` until it is done or stopped."""

    def __init__(self, experiment_dir: Path, storage: Storage, config: ExperimentConfig, *,
                 on_progress: Callable[[Progress], None] | None = None, grace_period: float = 5.0) -> None:
        self.dir = experiment_dir
        self.storage = storage
        self.config = config
        self.id = storage.meta("id")
        self.on_progress = on_progress
        self.grace_period = grace_period
        self.seed = int(storage.meta("seed"))
        self.optimize_mode = storage.meta("optimize_mode", "maximize")
        self.code_dir = Path(storage.meta("code_dir"))
        self.selector = selectors.DefaultSelector()
        self.live: dict[str, _Live] = {}
        self.exhausted = False
        self.stop_signal: int | None = None
        self.session_failures: list[tuple[int | None, str]] = []
        self.early_check_done = False
        self.failure: str | None = None
        self.tuner: Any = None
        self.worker: TunerWorker | None = None
        self._best: float | None = None
        self._last_checkpoint_event = 0
        # Parameters the tuner generated (stored as `generate` events) that no trial runs yet.
        self._prepared: deque[tuple[int, dict[str, Any]]] = deque()
        self._generating: tuple[int, Future] | None = None
        self._checkpointing: tuple[int, Future] | None = None
        self._checkpoint_due = False
        self.prepare_ahead = False  # set once the tuner exists: `prepareAhead`, else its `prepares_ahead`
        self._wake: Callable[[], None] = lambda: None
        self.assessor: AssessorRunner | None = None
        self._early_stops: dict[str, int] = {}  # trial id -> the step its assessor stopped it at
        # Set when the run starts (`_run_locked`):
        self.session: int | None = None
        self.deadline: float | None = None  # monotonic time at which maxExperimentDuration is reached
        self._elapsed_before = 0.0  # seconds the experiment ran in earlier sessions
        self._session_start = time.monotonic()
        self.search_space: dict[str, Any] = {}
        self.channel: ChannelServer | None = None
        self.channel_address = ""
        self.service: TrainingService | None = None

    # -- the run ------------------------------------------------------------------------------------

    def run(self) -> ExperimentStatus:
        """Run to the end; returns the experiment's final status (DONE, STOPPED or FAILED)."""
        with self._lock(), self._logging():
            return self._run_locked()

    @contextlib.contextmanager
    def _lock(self):
        handle = open(self.dir / LOCK_NAME, "a+")
        # `manager_pid` probes the lock by taking it for an instant; a running manager holds it for good.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise ExperimentError(f"experiment {self.id} is already running "
                                          f"(see nasctl stop {self.id})") from None
                time.sleep(0.01)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()

    @contextlib.contextmanager
    def _logging(self):
        handler = logging.FileHandler(self.dir / LOG_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        level = self.config.document.get("logLevel", "info")
        previous = log.level
        log.setLevel({"trace": logging.DEBUG, "fatal": logging.CRITICAL}.get(level, level.upper()))
        try:
            yield
        finally:
            log.setLevel(previous)
            log.removeHandler(handler)
            handler.close()

    def _run_locked(self) -> ExperimentStatus:
        storage = self.storage
        storage.track_counts()  # this manager holds the lock: it is the only writer
        self.session = storage.start_session(os.getpid())
        self._elapsed_before = storage.elapsed()
        self._session_start = time.monotonic()
        if self.config.max_experiment_duration is not None:
            self.deadline = self._session_start + self.config.max_experiment_duration - self._elapsed_before
        storage.set_meta(status=ExperimentStatus.RUNNING, message=None, pid=os.getpid())
        log.info("experiment %s: session %s started (pid %s)", self.id, self.session, os.getpid())
        self._recover_interrupted()
        self.search_space = storage.meta("search_space")
        self.tuner = self._create_tuner()
        self.tuner.update_search_space(self.search_space)
        try:
            replayed = restore_tuner(self.tuner, storage, self.dir)
        except CheckpointUnusable as error:
            log.warning("tuner checkpoint unusable (%s); replaying every stored event instead", error)
            self.tuner = self._create_tuner()
            self.tuner.update_search_space(self.search_space)
            replayed = restore_tuner(self.tuner, storage, self.dir, use_checkpoint=False)
        if replayed:
            log.info("tuner: replayed %d stored events", replayed)
        self.prepare_ahead = self._prepares_ahead()
        self._last_checkpoint_event = storage.last_event_id()
        self._best = self._best_value()
        self._prepared.extend(storage.unassigned_parameters())
        self._start_assessor()

        self.channel = ChannelServer(self.dir / SOCKET_NAME, self.selector, self._handle, self._token_of)
        self.channel_address = self.channel.address
        self.service = self._training_service()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self.selector.register(wake_r, selectors.EVENT_READ, lambda _mask: self._drain_wakeup(wake_r))
        self._wake = lambda: _poke(wake_w)
        self.worker = TunerWorker(self.tuner, wake=self._wake)
        restore_signals = self._install_signals(wake_w)
        status = ExperimentStatus.FAILED
        message: str | None = None
        finished = False
        try:
            self.channel.start()
            if isinstance(self.service, RayTrainingService):
                self.service.connect()
                # ray.init installs a SIGTERM handler that exits at once; the manager's must be the one.
                self._install_signals(wake_w)
                self.channel_address = self.channel.listen_tcp(*self.service.channel_host(self.config.channel_host))
                log.info("Ray at %s; trials reach the manager at %s", self.service.address, self.channel_address)
            status, message = self._loop()
            # Not after an exception: the tuner may have failed half-way through a call.
            self._final_checkpoint()
            finished = True
        except BaseException as error:
            message = f"{type(error).__name__}: {error}"
            self._interrupt_running()
            raise
        finally:
            self.worker.close(wait=finished)
            if isinstance(self.service, LocalTrainingService):
                self.service.close()  # its fork server
            restore_signals()
            with contextlib.suppress(Exception):
                self.channel.close()
            if isinstance(self.service, RayTrainingService):
                self.service.close()
            if self.assessor is not None:
                self.assessor.close()
            self.selector.unregister(wake_r)
            wake_r.close()
            wake_w.close()
            try:
                storage.heartbeat(self.session)
                storage.set_meta(status=status, message=message, pid=None)
            except Exception as error:  # a full disk: the error that stopped the run is the one to report
                log.error("experiment %s: could not record its status %s: %s", self.id, status, error)
            log.info("experiment %s: %s%s", self.id, status, f" ({message})" if message else "")
            self.selector.close()
        return status

    def _training_service(self) -> TrainingService:
        config = self.config
        if config.platform == "ray":
            return RayTrainingService(
                experiment_id=self.id, experiment_dir=self.dir, code_dir=self.code_dir, command=config.trial_command,
                concurrency=config.trial_concurrency, selector=self.selector, on_exit=self._trial_exited,
                on_placed=self._trial_placed, address=config.ray_address or "local", resources=config.resources,
                max_trial_duration=config.max_trial_duration, grace_period=self.grace_period)
        return LocalTrainingService(
            experiment_dir=self.dir, code_dir=self.code_dir, command=config.trial_command,
            concurrency=config.trial_concurrency, selector=self.selector, on_exit=self._trial_exited,
            max_trial_duration=config.max_trial_duration, gpu_indices=config.gpu_indices,
            trial_gpu_number=config.trial_gpu_number,
            max_trial_number_per_gpu=config.max_trial_number_per_gpu, grace_period=self.grace_period)

    def _install_signals(self, wake_w: socket.socket) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, _frame: Any) -> None:
            self.stop_signal = signum

        previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
        previous_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)

        def restore() -> None:
            signal.set_wakeup_fd(previous_fd)
            for signum, old in previous.items():
                signal.signal(signum, old)

        return restore

    @staticmethod
    def _drain_wakeup(sock: socket.socket) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while sock.recv(4096):
                pass

    def _loop(self) -> tuple[ExperimentStatus, str | None]:
        storage = self.storage
        next_heartbeat = time.monotonic() + _HEARTBEAT
        next_checkpoint = time.monotonic() + _CHECKPOINT_EVERY
        self._report_progress()
        while True:
            if self.worker.error is not None:
                raise self.worker.error
            self._collect_checkpoint()
            if self.stop_signal is not None:
                name = signal.Signals(self.stop_signal).name
                self._interrupt_running()
                return ExperimentStatus.STOPPED, f"stopped by {name}; resume with: nasctl resume {self.id}"
            if self.failure is not None:
                self._interrupt_running()
                return ExperimentStatus.FAILED, self.failure
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self._cancel_running()
                return ExperimentStatus.DONE, "maxExperimentDuration reached"
            self._fill_slots()
            if not self.service.running and self.failure is None:
                if not storage.trial_ids_with_status(TrialStatus.WAITING) and not self._may_create():
                    reason = "the tuner has no more trials" if self.exhausted else "maxTrialNumber reached"
                    return ExperimentStatus.DONE, reason
            now = time.monotonic()
            waits = [next_heartbeat - now]
            if self.deadline is not None:
                waits.append(self.deadline - now)
            service_wait = self.service.next_wakeup()
            if service_wait is not None:
                waits.append(service_wait)
            for key, mask in self.selector.select(max(min(waits), 0.0)):
                key.data(mask)
            self.service.poll()
            now = time.monotonic()
            if now >= next_heartbeat:
                self.channel.poll()
                storage.heartbeat(self.session)
                self._refresh_limits()
                next_heartbeat = now + _HEARTBEAT
            if now >= next_checkpoint:
                self._maybe_checkpoint()
                next_checkpoint = now + _CHECKPOINT_EVERY

    def _refresh_limits(self) -> None:
        """Take up a change of maxTrialNumber / maxExperimentDuration (`nasctl experiment update`)."""
        document = self.storage.meta("config")
        trials = document.get("maxTrialNumber", self.config.max_trial_number)
        duration = document.get("maxExperimentDuration")
        duration = self.config.max_experiment_duration if duration is None else parse_duration(duration)
        if (trials, duration) == (self.config.max_trial_number, self.config.max_experiment_duration):
            return
        self.config = dataclasses.replace(self.config, document=document, max_trial_number=trials,
                                          max_experiment_duration=duration)
        if duration is not None:
            self.deadline = self._session_start + duration - self._elapsed_before
        log.info("experiment %s: updated: maxTrialNumber %s, maxExperimentDuration %s", self.id, trials, duration)
        self._report_progress()

    def _create_tuner(self) -> Any:
        """The configured tuner; in a retrain, over the keys its stored architecture leaves open."""
        return create_tuner(self.config.tuner, self.seed, mode=self.config.nas_mode,
                            fixed=self.storage.meta("architecture"))

    def _prepares_ahead(self) -> bool:
        spec = self.config.tuner
        if spec is not None and spec.prepare_ahead is not None:
            return spec.prepare_ahead
        return bool(getattr(self.tuner, "prepares_ahead", False))

    def _maybe_checkpoint(self) -> None:
        """Checkpoint the tuner (on its thread) if it has seen new events; a failure only costs a longer replay."""
        self._checkpoint_due = True
        self._submit_checkpoint()

    def _submit_checkpoint(self) -> None:
        # Only while no suggestion is in flight: then the tuner has seen exactly the stored events.
        if not self._checkpoint_due or self._generating is not None or self._checkpointing is not None:
            return
        self._checkpoint_due = False
        last = self.storage.last_event_id()
        if last == self._last_checkpoint_event:
            return
        future = self.worker.submit(_checkpoint_or_error, self.tuner, self.dir)
        future.add_done_callback(lambda _future: self._wake())
        self._checkpointing = (last, future)

    def _collect_checkpoint(self, *, wait: bool = False) -> None:
        if self._checkpointing is None or not (wait or self._checkpointing[1].done()):
            return
        last, future = self._checkpointing
        self._checkpointing = None
        data, error = future.result()
        if error is not None:
            log.warning("tuner checkpoint failed (a resume replays more events instead): %s: %s",
                        type(error).__name__, error)
        elif data is not None:
            self.storage.save_checkpoint(last, data)
            self._last_checkpoint_event = last

    def _final_checkpoint(self) -> None:
        """At the end of a session: store what the tuner is still preparing, then checkpoint it."""
        self._collect_generated(wait=True)
        self._collect_checkpoint(wait=True)
        self._maybe_checkpoint()
        self._collect_checkpoint(wait=True)

    # -- trials -------------------------------------------------------------------------------------

    def _recover_interrupted(self) -> None:
        """Trials a killed manager left RUNNING: their processes are killed; a trial whose every
        parameter has its final result stored is SUCCEEDED with it, the others wait to run again."""
        storage = self.storage
        for trial_id in storage.trial_ids_with_status(TrialStatus.RUNNING):
            pgid = storage.trial_pgid(trial_id)
            if pgid and kill_orphans(pgid, self.id, trial_id):
                log.info("trial %s: killed the process group %s left by the previous manager", trial_id, pgid)
            phases = [parameter_id for parameter_id, _, _ in storage.trial_parameters(trial_id)]
            if phases and set(phases) <= storage.final_parameter_ids(trial_id):
                storage.finish_trial(
                    trial_id, TrialStatus.SUCCEEDED, exit_code=None,
                    stderr_tail=stderr_tail(self.dir / "trials" / trial_id) or None,
                    message="its final result was stored before the manager stopped; its process was ended")
                log.info("trial %s: had reported its final result when the manager stopped; SUCCEEDED", trial_id)
                continue
            storage.reset_trial(trial_id)
            log.info("trial %s: was running when the manager stopped; it will run again", trial_id)

    def _may_create(self) -> bool:
        if self.exhausted and not self._prepared:
            return False
        limit = self.config.max_trial_number
        return limit is None or self.storage.next_sequence() < limit

    def _new_trial(self) -> str | None:
        """Record a WAITING trial with the next prepared parameters; None while none are ready."""
        self._collect_generated()
        if not self._prepared:
            return None
        storage = self.storage
        parameter_id, parameters = self._prepared.popleft()
        while True:
            trial_id = "".join(secrets.choice(_TRIAL_ID_ALPHABET) for _ in range(5))
            if not (self.dir / "trials" / trial_id).exists() and trial_id not in self.live:
                break
        storage.add_trial(trial_id, storage.next_sequence(), parameter_id, parameters, tuner_event=False)
        return trial_id

    def _prepare_next(self) -> None:
        """Have the tuner prepare parameters, on its thread, while the trials run; one call at a time.

        Without prepare-ahead, only for a free slot, as NNI asks: the tuner sees a trial's result
        before it is asked for the parameters of the trial that follows. With it, one set per slot
        to come (the free ones and each running trial's), less the restarted trials that will take
        slots first: a slot that frees starts its next trial without waiting for the tuner. Never
        more sets than maxTrialNumber still allows.
        """
        if self._generating is not None or self.exhausted:
            return
        if self.stop_signal is not None or self.failure is not None:
            return
        slots = self.service.free_slots()
        if self.prepare_ahead:
            slots += len(self.service.running) - self.storage.counts()[TrialStatus.WAITING]
        wanted = min(slots, self._trials_left())
        if len(self._prepared) < wanted:
            self._submit_generate()

    def _trials_left(self) -> int | float:
        """How many more trials maxTrialNumber allows (not counting the prepared parameters' trials)."""
        limit = self.config.max_trial_number
        return math.inf if limit is None else limit - self.storage.next_sequence()

    def _submit_generate(self) -> None:
        self._submit_checkpoint()  # a due checkpoint goes first, while no suggestion is in flight
        parameter_id = self.storage.next_parameter_id()
        future = self.worker.submit(self._generate, parameter_id)
        future.add_done_callback(lambda _future: self._wake())
        self._generating = (parameter_id, future)

    def _generate(self, parameter_id: int) -> dict[str, Any] | None:
        """On the tuner's thread: checked parameters, or None when the tuner has no more."""
        try:
            parameters = self.tuner.generate_parameters(parameter_id)
        except Exception as error:
            if is_no_more_trials(error):
                log.info("tuner: no more trials (%s)", error)
                return None
            raise
        return self._checked(parameters, parameter_id)

    def _collect_generated(self, *, wait: bool = False) -> None:
        """Store the tuner's suggestion once it is ready (a tuner error is raised here, on the loop)."""
        if self._generating is None or not (wait or self._generating[1].done()):
            return
        parameter_id, future = self._generating
        self._generating = None
        parameters = future.result()
        if parameters is None:
            self.exhausted = True
            return
        self.storage.add_generated(parameter_id, parameters)
        self._prepared.append((parameter_id, parameters))

    def _checked(self, parameters: Any, parameter_id: int) -> dict[str, Any]:
        """The tuner's parameters as stored and sent; a tuner bug (not JSON, not in the space) stops here."""
        from nasctl.runtime.trial import validate_architecture

        plain = _plain(parameters, parameter_id)
        # One-shot trials without a tuner get only the keys that are not mutable_layer blocks.
        partial = self.config.tuner is None and self.config.nas_mode != "classic"
        validate_architecture(plain, self.search_space, partial=partial, source=f"tuner parameters {parameter_id}")
        return plain

    def _fill_slots(self) -> None:
        while self.service.free_slots() > 0 and self.stop_signal is None and self.failure is None:
            waiting = self.storage.trial_ids_with_status(TrialStatus.WAITING)
            trial_id = waiting[0] if waiting else (self._new_trial() if self._may_create() else None)
            if trial_id is None:
                break
            self._start(trial_id)
        self._prepare_next()

    def _start(self, trial_id: str) -> None:
        storage = self.storage
        sequence = storage.trial_sequence(trial_id)
        folder = self.service.prepare_folder(trial_id)
        gpus = self.service.reserve_gpus()
        storage.set_running(trial_id, ",".join(map(str, gpus)) if gpus else None)
        # Each attempt of each trial gets its own token: no trial can speak for another.
        token = secrets.token_hex(16)
        env = trial_environment(
            platform=self.config.platform, experiment_id=self.id, trial_id=trial_id, channel=self.channel_address,
            token=token, seed=derive_trial_seed(self.seed, sequence), sequence=sequence, mode=self.config.nas_mode,
            mode_config=self.config.mode_config, output_dir=str(folder),
            cuda_visible_devices=self.service.cuda_visible_devices(gpus))
        phases = [(pid, params) for pid, _, params in storage.trial_parameters(trial_id)]
        self.live[trial_id] = _Live(trial_id, sequence, phases, token)
        process = self.service.start(trial_id, env, gpus)
        storage.set_pgid(trial_id, process.process.pid)
        if process.process.pid is None:
            log.info("trial %s (#%d): submitted to Ray", trial_id, sequence)
        else:
            log.info("trial %s (#%d): started, pid %d", trial_id, sequence, process.process.pid)
        self._report_progress()

    def _trial_placed(self, trial: RayTrial) -> None:
        """A Ray trial has started on a node: where, with which GPUs, is stored."""
        gpus = ",".join(trial.gpus) or None
        self.storage.set_placement(trial.trial_id, gpus, trial.process.pid)
        log.info("trial %s: running on node %s (id %s), pid %s, folder %s, GPUs %s", trial.trial_id, trial.node,
                 trial.node_id, trial.process.pid, trial.node_folder, gpus or "none")

    def _trial_exited(self, trial: TrialProcess | RayTrial) -> None:
        self.channel.drain(trial.trial_id)
        self.channel.close_trial(trial.trial_id)
        live = self.live.pop(trial.trial_id, None)
        code = trial.process.returncode
        tail = stderr_tail(trial.folder)
        if trial.canceled:
            return  # _interrupt_running / _cancel_running record these
        early_step = self._early_stops.pop(trial.trial_id, None)
        if early_step is not None and live is not None and not live.finals:
            self._record_early_stop(trial, early_step, code, tail)
            return
        if trial.timed_out:
            status, message = TrialStatus.TIMEOUT, f"killed after maxTrialDuration ({self.config.max_trial_duration:g}s)"
        elif code == 0 or early_step is not None:  # stopped early only after its final result
            status, message = TrialStatus.SUCCEEDED, None
        else:
            status = TrialStatus.FAILED
            if trial.failure is not None:
                message = trial.failure
            else:
                message = f"exit code {code}" if code >= 0 else f"killed by {_signal_name(-code)}"
        self.storage.finish_trial(trial.trial_id, status, exit_code=code, stderr_tail=tail or None, message=message)
        log.info("trial %s: %s (exit code %s)", trial.trial_id, status, code)
        self._tell_trial_end(trial.trial_id, status == TrialStatus.SUCCEEDED)
        if self.assessor is not None:
            self.assessor.trial_end(trial.trial_id, status == TrialStatus.SUCCEEDED)
        self._check_early_failures(trial, status, code, tail)
        self._report_progress()

    # -- early stopping -----------------------------------------------------------------------------

    def _start_assessor(self) -> None:
        """The configured assessor on its worker thread, told of the trials that ended before."""
        spec = self.config.assessor
        if spec is None:
            return
        self.assessor = AssessorRunner(build_assessor(spec, self.optimize_mode), spec.name, self.selector,
                                       on_bad=self._stop_early, on_error=self._assessor_failed)
        self.assessor.restore(self.storage.trials())

    def _stop_early(self, trial_id: str, step: int) -> None:
        """The assessor's verdict is Bad: kill the trial; `_trial_exited` records it EARLY_STOPPED."""
        live = self.live.get(trial_id)
        if live is None or live.finals or trial_id in self._early_stops:
            return  # it ended, or reported its final result, while the assessor thought
        self._early_stops[trial_id] = step
        log.info("trial %s: stopped early by the assessor after %d intermediate results", trial_id, step)
        self.service.terminate(trial_id)

    def _assessor_failed(self, message: str) -> None:
        if self.failure is None:
            self.failure = message

    def _record_early_stop(self, trial: TrialProcess, step: int, code: int | None, tail: str) -> None:
        """EARLY_STOPPED with its last intermediate result, which the tuner receives as NNI's does."""
        label = self.assessor.label if self.assessor is not None else "?"
        message = f"stopped early by assessor {label} after {step} intermediate results"
        told = self.storage.early_stop_trial(trial.trial_id, exit_code=code, stderr_tail=tail or None,
                                             message=message)
        log.info("trial %s: EARLY_STOPPED (%s)", trial.trial_id, message)
        if told is not None:
            self.worker.submit(self.tuner.receive_trial_result, *told)
        self._tell_trial_end(trial.trial_id, False)
        if self.assessor is not None:
            self.assessor.trial_end(trial.trial_id, False)
        self._check_early_failures(trial, TrialStatus.EARLY_STOPPED, code, tail)
        self._report_progress()

    def _check_early_failures(self, trial: TrialProcess, status: TrialStatus, code: int | None, tail: str) -> None:
        if self.early_check_done:
            return
        if status != TrialStatus.FAILED:
            self.early_check_done = True  # one trial did not fail: never stop early
            return
        line = error_line(tail, f"exit code {code}")
        signature = error_signature(line, trial.folder, trial.trial_id)
        self.session_failures.append((code, signature))
        if self.storage.counts()[TrialStatus.SUCCEEDED]:
            self.early_check_done = True
            return
        count = len(self.session_failures)
        alike = len(set(self.session_failures)) == 1
        if count == EARLY_FAILURES and alike:
            self.failure = (f"the first {EARLY_FAILURES} trials all failed with exit code {code}; "
                            f"stopping instead of spending the budget. Last trial's stderr:\n{tail}")
        elif count == EARLY_FAILURES_ANY:
            self.failure = (f"the first {EARLY_FAILURES_ANY} trials all failed and none succeeded; stopping "
                            f"instead of spending the budget. Last trial's error: {line}")
        if count >= EARLY_FAILURES_ANY:
            self.early_check_done = True

    def _interrupt_running(self) -> None:
        """Stop running trials for a later resume: they go back to WAITING."""
        for trial in self.service.stop_all():
            self.live.pop(trial.trial_id, None)
            try:
                self.storage.reset_trial(trial.trial_id)
            except Exception as error:  # a RUNNING trial is reset by the next resume anyway
                log.error("trial %s: could not record its interruption: %s", trial.trial_id, error)
                continue
            log.info("trial %s: interrupted; it will run again on resume", trial.trial_id)

    def _cancel_running(self) -> None:
        """Stop running trials for good (the experiment's time is up): USER_CANCELED."""
        for trial in self.service.stop_all():
            self.live.pop(trial.trial_id, None)
            self.storage.finish_trial(trial.trial_id, TrialStatus.USER_CANCELED, exit_code=trial.process.returncode,
                                      stderr_tail=stderr_tail(trial.folder) or None,
                                      message="canceled: maxExperimentDuration reached")
            self._tell_trial_end(trial.trial_id, False)

    def _tell_trial_end(self, trial_id: str, success: bool) -> None:
        """The tuner's `trial_end` for each parameter the trial ran, queued on its thread."""
        for parameter_id, _, _ in self.storage.trial_parameters(trial_id):
            self.worker.submit(tell_trial_end, self.tuner, parameter_id, success)

    # -- channel requests ---------------------------------------------------------------------------

    def _token_of(self, trial_id: str) -> str | None:
        live = self.live.get(trial_id)
        return live.token if live is not None else None

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        live = self.live[request["trial_id"]]
        kind = Request(request["type"])
        if kind == Request.GET_PARAMETER:
            return self._get_parameter(live)
        if kind == Request.METRIC:
            warning = self._metric(live, request)
            if warning is not None:
                return {"type": Reply.ACK, "warning": warning}
        elif kind == Request.ARCHITECTURE:
            self._architecture(live, request)
        else:
            level = getattr(logging, request["level"].upper())
            log.log(level, "trial %s: %s", live.trial_id, printable(request["message"], 10000))
        return {"type": Reply.ACK}

    def _get_parameter(self, live: _Live) -> dict[str, Any]:
        if live.served < len(live.phases):
            parameter_id, parameters = live.phases[live.served]
        else:
            prepared = self._next_prepared()
            if prepared is None:
                return {"type": Reply.NO_MORE_PARAMETERS}
            parameter_id, parameters = prepared
            self.storage.add_parameter(live.trial_id, parameter_id, live.served, parameters, tuner_event=False)
            live.phases.append((parameter_id, parameters))
        live.served += 1
        live.current = parameter_id
        live.given[parameter_id] = parameters
        return {"type": Reply.PARAMETER, "parameter_id": parameter_id, "parameters": parameters}

    def _next_prepared(self) -> tuple[int, dict[str, Any]] | None:
        """Parameters for another phase of a running trial; waits for the tuner if none are prepared."""
        self._collect_generated()
        if not self._prepared and self._generating is None and not self.exhausted:
            self._submit_generate()
        if not self._prepared:
            self._collect_generated(wait=True)
        return self._prepared.popleft() if self._prepared else None

    def _resolve_parameter(self, live: _Live, parameter_id: int | None) -> tuple[int, dict[str, Any]]:
        if parameter_id is None:
            parameter_id = live.current if live.current is not None else live.phases[0][0]
        if parameter_id in live.given:
            return parameter_id, live.given[parameter_id]
        first_id, first = live.phases[0]
        if parameter_id == first_id:  # reported without asking: the parameters it was started with
            return first_id, first
        raise Refused(f"parameter_id {parameter_id} was not given to trial {live.trial_id}")

    def _metric(self, live: _Live, request: dict[str, Any]) -> str | None:
        """Store a metric (a final one goes to the tuner); returns a warning for the trial, if any."""
        parameter_id, parameters = self._resolve_parameter(live, request.get("parameter_id"))
        value = request["value"]
        kind = MetricKind(request["kind"])
        if kind == MetricKind.FINAL:
            if parameter_id in live.finals:
                warning = (f"a second final result for parameter {parameter_id} was ignored; "
                           "the first one stands")
                log.warning("trial %s: %s", live.trial_id, warning)
                return warning
            live.finals.add(parameter_id)
            if self.storage.add_metric(live.trial_id, parameter_id, kind, None, value, parameters=parameters):
                # Stored first, so the trial's acknowledgement does not wait on the tuner.
                self.worker.submit(self.tuner.receive_trial_result, parameter_id, parameters, value)
            else:
                log.info("trial %s: the tuner already has the result of parameter %s from an interrupted "
                         "attempt; this one is stored only", live.trial_id, parameter_id)
            number = value["default"] if isinstance(value, dict) else value
            if self._better(number):
                self._best = float(number)
        else:
            self.storage.add_metric(live.trial_id, parameter_id, kind, request.get("sequence"), value)
            # darts' architecture weights are stored for the view, never assessed
            if kind == MetricKind.INTERMEDIATE and self.assessor is not None and live.trial_id not in self._early_stops:
                self.assessor.report(live.trial_id, value)
        return None

    def _architecture(self, live: _Live, request: dict[str, Any]) -> None:
        from nasctl import schemas

        try:
            schemas.validate("architecture", request["architecture"])
        except schemas.SchemaError as error:
            raise Refused(f"invalid derived architecture: {error}") from None
        self.storage.set_architecture(live.trial_id, request["architecture"])

    # -- progress -----------------------------------------------------------------------------------

    def _better(self, value: float) -> bool:
        if self._best is None:
            return True
        return value < self._best if self.optimize_mode == "minimize" else value > self._best

    def _best_value(self) -> float | None:
        values = [t.default_value for t in self.storage.trials()
                  if t.default_value is not None and t.status != TrialStatus.EARLY_STOPPED]
        if not values:
            return None
        return min(values) if self.optimize_mode == "minimize" else max(values)

    def _report_progress(self) -> None:
        if self.on_progress is None:
            return
        counts = self.storage.counts()
        self.on_progress(Progress(
            done=sum(counts[status] for status in FINISHED_STATUSES),
            running=len(self.service.running) if self.service is not None else 0,
            failed=sum(counts[status] for status in FAILED_STATUSES), total=self.config.max_trial_number,
            best=self._best, elapsed=self._elapsed_before + time.monotonic() - self._session_start))


def _plain(parameters: Any, parameter_id: int) -> dict[str, Any]:
    """Parameters as stored and sent: a JSON object (a tuner bug otherwise)."""
    import json

    if not isinstance(parameters, dict):
        raise ExperimentError(f"tuner returned {type(parameters).__name__} for parameter {parameter_id}, "
                              "expected a dict (an architecture)")
    try:
        return json.loads(json.dumps(parameters))
    except (TypeError, ValueError) as error:
        raise ExperimentError(f"tuner's parameters for parameter {parameter_id} are not JSON: {error}") from None


def _poke(sock: socket.socket) -> None:
    """Wake the selector loop (from the tuner's thread)."""
    with contextlib.suppress(OSError):
        sock.send(b"\0")


def _checkpoint_or_error(tuner: Any, folder: Path) -> tuple[bytes | None, Exception | None]:
    """On the tuner's thread: the checkpoint, or the exception that stopped it (never raised there)."""
    try:
        return checkpoint_data(tuner, folder), None
    except Exception as error:
        return None, error


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
