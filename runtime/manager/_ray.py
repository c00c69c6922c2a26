"""The Ray training service: each trial is a Ray task, placed by Ray on whichever node has its resources.

Ray is the engine: it places trials by their resources (`resourcesPerTrial`, `trialGpuNumber`), ships
the code directory to the nodes with its runtime environment (`working_dir`), and runs the tasks.
The task (`run_on_node`) runs `trialCommand` as the local service does: its own process group, its
own working folder on the node (`<node's temp dir>/nasctl-trials/<experiment>/<trial>/`, the code's
entries linked in), stdout and stderr to files there, maxTrialDuration enforced (SIGTERM, SIGKILL
after the grace period). It tells the manager where it runs (node, pid, GPUs) as soon as the trial
has started, and at the end hands back the exit code and the output, which the manager writes into
`<exp>/trials/<trial_id>/` like a local trial's. The trial talks to the manager over the TCP form of
the channel.

A watcher thread per trial waits on Ray and wakes the manager's selector through a socket pair; the
manager's state is only ever touched on its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._config import TrialResources
from nasctl.runtime.manager._local import (
    STDERR_NAME,
    STDOUT_NAME,
    command_argv,
    file_tail,
    kill_marked,
    link_code,
    trial_marks,
)
from nasctl.runtime.manager._service import TrainingService
from nasctl.runtime.manager._trial_env import NAS_OUTPUT_DIR, TRIAL_VARIABLES

__all__ = ["RayTrainingService", "RayTrial", "RemoteProcess", "run_on_node", "run_to_end", "NODE_FOLDER"]

log = logging.getLogger("nasctl.manager")

# Under the node's temporary directory: <NODE_FOLDER>/<experiment id>/<trial id>/.
NODE_FOLDER = "nasctl-trials"
# The most of each of stdout and stderr brought back from a node (the start is cut; the file stays there).
_OUTPUT_LIMIT = 8 * 1024 * 1024
# How long after its deadline (or a graceful cancel) a task that has not ended is cancelled by force.
_FORCE_MARGIN = 10.0
# How often the task looks for a cancel while its trial runs (Ray interrupts it between two looks).
_WAIT_STEP = 0.25
_PR_SET_PDEATHSIG = 1


@dataclass
class RemoteProcess:
    """What the manager reads of a trial's process on its node: its pid there and its exit code."""

    pid: int | None = None
    returncode: int | None = None


@dataclass
class RayTrial:
    """A trial submitted to Ray and what the service tracks about it (the local TrialProcess's fields)."""

    trial_id: str
    folder: Path
    process: RemoteProcess
    ref: Any
    gpus: tuple[str, ...] = ()
    node: str | None = None
    node_id: str | None = None
    node_folder: str | None = None
    deadline: float | None = None
    kill_at: float | None = None
    timed_out: bool = False
    canceled: bool = False
    failure: str | None = None
    done: bool = False
    started: float = field(default_factory=time.monotonic)


# -- on the node -----------------------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that makes the trial get SIGKILL when its Ray worker dies (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(137)

    return preexec


def _killpg(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _wait(process: subprocess.Popen, timeout: float | None) -> int | None:
    """The exit code, or None if the process is still running after `timeout` seconds."""
    end = None if timeout is None else time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(process.pid) if hasattr(os, "pidfd_open") else None
    except OSError:
        pidfd = None
    try:
        while True:
            step = _WAIT_STEP if end is None else min(_WAIT_STEP, max(end - time.monotonic(), 0.0))
            if pidfd is not None:
                if select.select([pidfd], [], [], step)[0]:
                    return process.wait()
            else:
                try:
                    return process.wait(timeout=step)
                except subprocess.TimeoutExpired:
                    pass
            if process.poll() is not None:
                return process.returncode
            if end is not None and time.monotonic() >= end:
                return None
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _stop(process: subprocess.Popen, grace: float) -> int:
    _killpg(process.pid, signal.SIGTERM)
    code = _wait(process, grace)
    if code is None:
        _killpg(process.pid, signal.SIGKILL)
        code = process.wait()
    return code


def _read_output(path: Path, node: str) -> bytes:
    data, size = file_tail(path, _OUTPUT_LIMIT)
    if size > _OUTPUT_LIMIT:
        note = f"[nasctl: the first {size - _OUTPUT_LIMIT} bytes are cut; the whole file is {path} on node {node}]\n"
        data = note.encode() + data
    return data


def run_on_node(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Ray task of one trial: runs its command on this node.

    Yields where the trial runs (`node`, `node_id`, `pid`, `gpus`, `folder`) once it has started, then how it
    ended (`code`, `timed_out`, `stdout`, `stderr`). A Ray cancel SIGTERMs the trial's process group
    and SIGKILLs it after the grace period.
    """
    import ray

    code_dir = os.getcwd()  # Ray's copy of the code directory on this node (runtime_env working_dir)
    node = ray.util.get_node_ip_address()
    folder = Path(tempfile.gettempdir(), NODE_FOLDER, spec["experiment_id"], spec["trial_id"])
    folder.mkdir(parents=True, exist_ok=True)
    link_code(code_dir, folder)
    gpus = [str(gpu) for gpu in ray.get_gpu_ids()]
    env = {name: value for name, value in os.environ.items() if name not in TRIAL_VARIABLES}
    env.update(spec["env"])
    env[NAS_OUTPUT_DIR] = str(folder)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bin_dir, env["PATH"]]) if env.get("PATH") else bin_dir
    command = spec["command"]
    options: dict[str, Any] = dict(cwd=folder, env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                                   close_fds=True, preexec_fn=_die_with_parent())
    with open(folder / STDOUT_NAME, "wb") as out, open(folder / STDERR_NAME, "wb") as err:
        try:
            process = subprocess.Popen(command_argv(command), stdout=out, stderr=err, **options)
        except OSError:
            # Not found or not executable: the shell reports it on stderr with exit code 126/127.
            process = subprocess.Popen(["/bin/sh", "-c", command], stdout=out, stderr=err, **options)
    timed_out = False
    try:
        yield {"node": node, "node_id": ray.get_runtime_context().get_node_id(), "pid": process.pid, "gpus": gpus,
               "folder": str(folder)}
        code = _wait(process, spec["max_duration"])
        if code is None:
            timed_out = True
            code = _stop(process, spec["grace"])
    except BaseException:
        # A Ray cancel arrives as KeyboardInterrupt: the trial goes too.
        _stop(process, spec["grace"])
        raise
    finally:
        # A trial ends with its command; whatever it left in its process group, or started elsewhere with
        # its environment, goes with it.
        _killpg(process.pid, signal.SIGKILL)
        kill_marked(trial_marks(spec["experiment_id"], spec["trial_id"]))
    yield {"code": code, "timed_out": timed_out, "stdout": _read_output(folder / STDOUT_NAME, node),
           "stderr": _read_output(folder / STDERR_NAME, node)}


def run_to_end(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """`run_on_node` as one plain task, both records at its end: Ray Client (`ray://`) has no streaming tasks."""
    return list(run_on_node(spec))


# -- on the manager --------------------------------------------------------------------------------------


def _probe(address: str) -> None:
    """Fail at once where nothing listens at a `host:port` or `ray://host:port` address (ray.init retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        raise ExperimentError(f"cannot reach Ray at trainingService.address '{address}': "
                              f"{error.strerror or error} (is `ray start --head` running there?)") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1].strip() if lines else ''}".rstrip(": ")


class RayTrainingService(TrainingService):
    """Runs trials as Ray tasks; `on_placed(trial)` when one has started on a node, `on_exit(trial)` at its end.

    Both callbacks are called on the manager's thread, from its selector. `connect()` joins (or
    starts) Ray; `close()` leaves it.
    """

    def __init__(self, *, experiment_id: str, experiment_dir: Path, code_dir: Path, command: str,
                 concurrency: int, selector: selectors.BaseSelector, on_exit: Callable[[RayTrial], None],
                 on_placed: Callable[[RayTrial], None] | None = None, address: str = "local",
                 resources: TrialResources | None = None, max_trial_duration: float | None = None,
                 grace_period: float = 5.0) -> None:
        super().__init__(experiment_dir=experiment_dir, code_dir=code_dir, command=command, concurrency=concurrency,
                         selector=selector, on_exit=on_exit, max_trial_duration=max_trial_duration,
                         grace_period=grace_period)
        self.experiment_id = experiment_id
        self.on_placed = on_placed
        self.address = address
        self.resources = resources or TrialResources()
        self.running: dict[str, RayTrial] = {}
        self._events: queue.SimpleQueue[tuple[RayTrial, str, Any]] = queue.SimpleQueue()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._remote: Any = None
        self._options: dict[str, Any] = {}
        self._streaming = True
        self._started_ray = False

    # -- Ray ----------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Join the Ray cluster at `address` (`local`: start an embedded one) with the code as working_dir."""
        try:
            import ray
        except ImportError:
            raise ExperimentError("trainingService.platform ray needs Ray: pip install 'nasctl[ray]'") from None
        if ray.is_initialized():
            raise ExperimentError("Ray is already initialized in this process; nasctl connects to Ray itself "
                                  "(trainingService.address), so run the experiment in a process of its own")
        options: dict[str, Any] = dict(runtime_env={"working_dir": str(self.code_dir)}, log_to_driver=False,
                                       logging_level=logging.WARNING)
        if self.address == "local":
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            options.update(address="local", include_dashboard=False)
        else:
            _probe(self.address)
            options.update(address=self.address)
        try:
            ray.init(**options)
        except Exception as error:
            raise ExperimentError(f"cannot connect to Ray at trainingService.address '{self.address}': "
                                  f"{_first_line(error)}") from None
        self._started_ray = True
        self._check_feasible(ray)
        wanted: dict[str, Any] = {"num_cpus": self.resources.cpu if self.resources.cpu is not None else 1,
                                  "num_gpus": self.resources.gpu or 0}
        if self.resources.memory is not None:
            wanted["memory"] = self.resources.memory
        # max_retries=0: a trial is rerun by the manager, never behind its back by Ray.
        self._streaming = not self.address.startswith("ray://")
        if self._streaming:
            self._remote = ray.remote(run_on_node)
            self._options = dict(num_returns="streaming", max_retries=0, **wanted)
        else:
            self._remote = ray.remote(run_to_end)
            self._options = dict(max_retries=0, **wanted)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, lambda _mask: self._drain())

    def _check_feasible(self, ray: Any) -> None:
        need = {"CPU": self.resources.cpu if self.resources.cpu is not None else 1.0,
                "GPU": self.resources.gpu or 0.0, "memory": self.resources.memory or 0}
        nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
        if any(all(have.get(name, 0) >= amount for name, amount in need.items()) for have in nodes):
            return
        asked = ", ".join(f"{name} {amount:g}" for name, amount in need.items() if amount)
        message = f"no node of the Ray cluster has what one trial asks ({asked}; resourcesPerTrial, trialGpuNumber)"
        if self.address == "local":
            raise ExperimentError(message)
        log.warning("%s; trials wait until the cluster grows", message)

    def channel_host(self, configured: str | None) -> tuple[str, str]:
        """(the host the channel listens on, the host trials connect to) for `trainingService.channelHost`."""
        import ray

        if configured in ("0.0.0.0", "::"):
            return configured, ray.util.get_node_ip_address()
        if configured:
            return configured, configured
        host = "127.0.0.1" if self.address == "local" else ray.util.get_node_ip_address()
        return host, host

    def close(self) -> None:
        """Leave Ray (an embedded one stops) and stop watching."""
        if self._wake_r is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self._wake_r)
            self._wake_r.close()
            assert self._wake_w is not None
            self._wake_w.close()
            self._wake_r = self._wake_w = None
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    # -- the local service's interface ------------------------------------------------------------

    # free_slots: Ray queues what is submitted until a node has its resources. prepare_folder: the
    # folder on this machine, where the trial's output is brought back. reserve_gpus and
    # cuda_visible_devices: Ray assigns GPUs on the node; they are known once the trial runs (on_placed).

    def start(self, trial_id: str, env: Mapping[str, str], gpus: tuple[int, ...]) -> RayTrial:
        """Submit a trial; `env` gives its NAS_* variables (the rest comes from the node)."""
        spec = {"experiment_id": self.experiment_id, "trial_id": trial_id, "command": self.command,
                "env": {name: env[name] for name in TRIAL_VARIABLES if name in env},
                "max_duration": self.max_trial_duration, "grace": self.grace_period}
        ref = self._remote.options(name=f"nasctl trial {trial_id}", **self._options).remote(spec)
        trial = RayTrial(trial_id, self.trial_folder(trial_id), RemoteProcess(), ref)
        self.running[trial_id] = trial
        threading.Thread(target=self._watch, args=(trial,), name=f"nasctl-ray-{trial_id}", daemon=True).start()
        return trial

    def _watch(self, trial: RayTrial) -> None:
        import ray

        try:
            if self._streaming:
                self._post(trial, "placed", ray.get(next(trial.ref)))
                self._post(trial, "done", ray.get(next(trial.ref)))
            else:
                placed, done = ray.get(trial.ref)
                self._post(trial, "placed", placed)
                self._post(trial, "done", done)
        except BaseException as error:
            self._post(trial, "error", error)

    def _post(self, trial: RayTrial, kind: str, payload: Any) -> None:
        self._events.put((trial, kind, payload))
        with contextlib.suppress(OSError, AttributeError):
            self._wake_w.send(b"\0")  # type: ignore[union-attr]

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError, AttributeError):
            while self._wake_r.recv(4096):  # type: ignore[union-attr]
                pass
        while True:
            try:
                trial, kind, payload = self._events.get_nowait()
            except queue.Empty:
                return
            if self._apply(trial, kind, payload) and not trial.canceled:
                self.on_exit(trial)

    def _apply(self, trial: RayTrial, kind: str, payload: Any) -> bool:
        """Record an event of a trial; True when it has ended (and is released)."""
        if trial.done:
            return False
        if kind == "placed":
            trial.process.pid = payload["pid"]
            trial.node = payload["node"]
            trial.node_id = payload["node_id"]
            trial.node_folder = payload["folder"]
            trial.gpus = tuple(payload["gpus"])
            # Until the output comes back (or if this manager dies first), the files say where it is.
            note = f"[nasctl: running on Ray; its output is in {trial.node_folder} on node {trial.node}]\n".encode()
            self._write_output(trial, note, note)
            if self.max_trial_duration is not None and trial.kill_at is None:
                trial.deadline = time.monotonic() + self.max_trial_duration + self.grace_period + _FORCE_MARGIN
            if self.on_placed is not None and not trial.canceled:
                self.on_placed(trial)
            return False
        if kind == "done":
            trial.process.returncode = payload["code"]
            trial.timed_out = trial.timed_out or payload["timed_out"]
            self._write_output(trial, payload["stdout"], payload["stderr"])
        elif not (trial.canceled or trial.timed_out or trial.kill_at is not None):
            # The task itself failed (its node or worker died, its runtime environment could not be set up).
            trial.failure = f"on Ray: {_first_line(payload)}"
            self._write_output(trial, b"", f"{trial.failure}\n{payload}\n".encode())
        else:
            # Cancelled as asked: Ray hands nothing back from a cancelled task.
            where = f"{trial.node_folder} on node {trial.node}" if trial.node else "nowhere: it had not started"
            self._write_output(trial, b"", f"[nasctl: cancelled on Ray; its output is in {where}]\n".encode())
        self._release(trial)
        return True

    def _write_output(self, trial: RayTrial, stdout: bytes, stderr: bytes) -> None:
        trial.folder.mkdir(parents=True, exist_ok=True)
        (trial.folder / STDOUT_NAME).write_bytes(stdout)
        (trial.folder / STDERR_NAME).write_bytes(stderr)

    def _release(self, trial: RayTrial) -> None:
        trial.done = True
        self.running.pop(trial.trial_id, None)

    def poll(self) -> None:
        """Enforce the deadlines the tasks cannot (a node that stopped answering): cancel by force."""
        now = time.monotonic()
        for trial in list(self.running.values()):
            if trial.deadline is not None and now >= trial.deadline and trial.kill_at is None:
                trial.timed_out = True
                trial.kill_at = float("inf")
                self._cancel(trial, force=True)
            elif trial.kill_at is not None and now >= trial.kill_at:
                trial.kill_at = float("inf")
                self._cancel(trial, force=True)

    def next_wakeup(self) -> float | None:
        """Seconds until `poll` has work to do (None: nothing timed)."""
        times = [when - time.monotonic() for trial in self.running.values()
                 for when in (trial.kill_at, None if trial.kill_at is not None else trial.deadline)
                 if when is not None and when != float("inf")]
        return max(min(times), 0.0) if times else None

    def _cancel(self, trial: RayTrial, *, force: bool) -> None:
        import ray

        try:
            ray.cancel(trial.ref, force=force)
        except Exception as error:  # already finished, or Ray is gone: the watcher reports the end
            log.debug("trial %s: Ray cancel: %s", trial.trial_id, error)

    def terminate(self, trial_id: str, *, canceled: bool = False) -> None:
        """Cancel a trial's task: its node SIGTERMs the trial; a force cancel follows if it has not ended."""
        trial = self.running.get(trial_id)
        if trial is None or trial.kill_at is not None:
            return
        trial.canceled = canceled
        trial.kill_at = time.monotonic() + self.grace_period + _FORCE_MARGIN
        self._cancel(trial, force=False)

    def stop_all(self, timeout: float | None = None) -> list[RayTrial]:
        """Cancel every running trial and wait for their tasks to end (by force after the grace period)."""
        trials = list(self.running.values())
        for trial in trials:
            trial.canceled = True
            self._cancel(trial, force=False)
        grace = timeout if timeout is not None else self.grace_period
        self._await(trials, time.monotonic() + grace + 2.0)
        left = [trial for trial in trials if not trial.done]
        for trial in left:
            self._cancel(trial, force=True)
        self._await(left, time.monotonic() + _FORCE_MARGIN)
        for trial in trials:
            if not trial.done:
                log.warning("trial %s: its Ray task did not end after a forced cancel", trial.trial_id)
                self._release(trial)
        return trials

    def _await(self, trials: list[RayTrial], end: float) -> None:
        while any(not trial.done for trial in trials):
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            try:
                trial, kind, payload = self._events.get(timeout=remaining)
            except queue.Empty:
                return
            if self._apply(trial, kind, payload) and not trial.canceled:
                self.on_exit(trial)
