"""The local training service: trials as subprocesses on this machine, in their own folders.

A trial runs `trialCommand` in a shell, in its own process group, with `<exp>/trials/<trial_id>/` as
its working folder: the (compiled) code directory's entries are linked into it, so the command finds
its script, and files the trial writes stay its own. stdout and stderr go to files in that folder.
The manager's selector learns of a trial's exit through a pidfd (no polling where Linux has them).
A command that runs a Python script with the manager's interpreter (`python3 trial.py ...`) is
started by a fork server that has already imported `nas` (`_forkserver.py`), which then reports
the trial's exit; any other command is a subprocess (vfork and exec: no preexec_fn).
"""

from __future__ import annotations

import logging
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._forkserver import ForkedProcess, ForkServer, forkable_script
from nasctl.runtime.manager._service import TrainingService
from nasctl.runtime.trial._traceback import trim_traceback

__all__ = ["LocalTrainingService", "TrialProcess", "kill_marked", "kill_orphans", "trial_marks", "visible_gpus"]

log = logging.getLogger("nasctl.manager")


def visible_gpus(environ: Mapping[str, str] | None = None) -> tuple[int, ...]:
    """The GPUs trials may use when the config names none (NNI v1's `gpuNum` without `gpuIndices`):
    those in CUDA_VISIBLE_DEVICES when it is set, else those `nvidia-smi` lists; () on a machine
    without GPUs."""
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return tuple(int(part) for part in listed.split(",") if part.strip().isdigit())
    smi = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if smi is None:
        return ()
    try:
        out = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(int(line) for line in out.split() if line.strip().isdigit())

STDOUT_NAME = "stdout"
STDERR_NAME = "stderr"
_TAIL_BYTES = 4096
_TAIL_LINES = 20


@dataclass
class TrialProcess:
    """A running trial's process and what the service tracks about it."""

    trial_id: str
    process: subprocess.Popen | ForkedProcess
    folder: Path
    gpus: tuple[int, ...]
    deadline: float | None
    pidfd: int | None = None
    kill_at: float | None = None
    timed_out: bool = False
    canceled: bool = False
    marks: tuple[bytes, ...] = ()
    failure: str | None = None  # why it failed, where its exit code cannot say (a Ray trial's lost node)
    started: float = field(default_factory=time.monotonic)


def file_tail(path: Path, limit: int) -> tuple[bytes, int]:
    """(the last `limit` bytes of the file at `path`, its size); (b"", 0) when it cannot be read."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read(), size
    except OSError:
        return b"", 0


def link_code(code_dir: str | Path, folder: Path) -> None:
    """Link the code directory's entries into a trial's folder (what is there already stays)."""
    for entry in os.scandir(code_dir):
        link = folder / entry.name
        if entry.name in (STDOUT_NAME, STDERR_NAME) or link.is_symlink() or link.exists():
            continue
        link.symlink_to(entry.path, target_is_directory=entry.is_dir())


def stderr_tail(folder: Path) -> str:
    """The last lines of a trial's stderr file, nasctl's own traceback frames left out (NAS_DEBUG=1 keeps them)."""
    data, size = file_tail(folder / STDERR_NAME, _TAIL_BYTES)
    lines = data.decode("utf-8", "replace").splitlines()
    if size > _TAIL_BYTES and lines:
        lines = lines[1:]
    lines = trim_traceback("\n".join(lines)).splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


_SHELL_SYNTAX = set("|&;<>()$`*?[]{}~!#\n\\")


def command_argv(command: str) -> list[str]:
    """How to run a trial command: directly when it is a plain command line, else through `sh -c`.

    Run directly, the trial is the process that gets SIGTERM on a timeout (a shell in between would
    die at once and leave it running) and its exit code is its own.
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        return ["/bin/sh", "-c", command]
    plain = argv and not any(set(token) & _SHELL_SYNTAX for token in argv) and "=" not in argv[0]
    return argv if plain else ["/bin/sh", "-c", command]


def _process_group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def trial_marks(experiment_id: str, trial_id: str) -> tuple[bytes, bytes]:
    """The environment entries that every process of a trial inherits, and only its processes."""
    return f"NAS_EXPERIMENT_ID={experiment_id}".encode(), f"NAS_TRIAL_ID={trial_id}".encode()


def kill_marked(marks: tuple[bytes, ...], rounds: int = 5, *, stderr_end: str | None = None) -> int:
    """SIGKILL every process whose environment holds all of `marks` (or, with `stderr_end`, whose
    stderr is that trial's file: see `_belongs`); returns how many were killed.

    This finds the processes of a trial that left its process group (`setsid`, a daemonised server),
    as long as they kept the environment they were started with. A few rounds catch processes forked
    while the previous round was killing.
    """
    if (not marks and stderr_end is None) or not os.path.isdir("/proc"):
        return 0
    own = os.getpid()
    killed: set[int] = set()   # a killed process lingers in /proc until it is reaped: count it once
    for _ in range(rounds):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in killed or int(entry.name) == own:
                continue
            if _belongs(entry.path, marks, stderr_end):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
                killed.add(int(entry.name))
                found += 1
        if not found:
            break
    return len(killed)


def kill_orphans(pgid: int, experiment_id: str, trial_id: str) -> bool:
    """SIGKILL the processes of a trial left running by a killed manager; True if any were found.

    Only processes that carry this trial's NAS_EXPERIMENT_ID and NAS_TRIAL_ID are killed (the group
    when one of its members does, and every other process that does), so a reused process id is
    never hit.
    """
    if not os.path.isdir("/proc"):
        return False
    marks = trial_marks(experiment_id, trial_id)
    stderr_end = f"/{experiment_id}/trials/{trial_id}/{STDERR_NAME}"
    return _kill_group(pgid, marks, stderr_end) | bool(kill_marked(marks, stderr_end=stderr_end))


def _belongs(proc: str, marks: tuple[bytes, ...], stderr_end: str | None) -> bool:
    """Whether the process at `proc` (/proc/<pid>) is the trial's: its environment holds all of
    `marks`, or its stderr is the file ending in `stderr_end` (a trial forked by the fork server
    keeps the server's initial environment, so only its stderr file names it)."""
    try:
        environ = Path(proc, "environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if marks and all(mark in environ for mark in marks):
        return True
    if stderr_end is None:
        return False
    try:
        return os.readlink(f"{proc}/fd/2").endswith(stderr_end)
    except OSError:
        return False


def _kill_group(pgid: int, marks: tuple[bytes, bytes], stderr_end: str | None = None) -> bool:
    for pid in _process_group_members(pgid):
        if _belongs(f"/proc/{pid}", marks, stderr_end):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return False
            return True
    return False


class LocalTrainingService(TrainingService):
    """Starts, watches and stops trial subprocesses; `on_exit(trial)` is called from the selector."""

    def __init__(self, *, experiment_dir: Path, code_dir: Path, command: str, concurrency: int,
                 selector: selectors.BaseSelector, on_exit: Callable[[TrialProcess], None],
                 max_trial_duration: float | None = None, gpu_indices: tuple[int, ...] | None = None,
                 trial_gpu_number: int | None = None, max_trial_number_per_gpu: int = 1,
                 grace_period: float = 5.0) -> None:
        super().__init__(experiment_dir=experiment_dir, code_dir=code_dir, command=command, concurrency=concurrency,
                         selector=selector, on_exit=on_exit, max_trial_duration=max_trial_duration,
                         grace_period=grace_period)
        if trial_gpu_number and gpu_indices is None:
            gpu_indices = visible_gpus() or None
            if gpu_indices is None:
                message = f"trialGpuNumber is {trial_gpu_number} but this machine has no visible GPU; trials run on the CPU"
                log.warning(message)
                print(f"warning: {message}", file=sys.stderr)  # the log is a file; say it where the user looks
                trial_gpu_number = None
            elif len(gpu_indices) < trial_gpu_number:
                raise ExperimentError(f"trialGpuNumber is {trial_gpu_number} but only {len(gpu_indices)} GPU(s) are "
                                      f"visible ({', '.join(map(str, gpu_indices))}); lower trialGpuNumber")
        self.gpu_indices = gpu_indices
        self.gpu_number = trial_gpu_number if trial_gpu_number is not None else (1 if gpu_indices else 0)
        self._hide_gpus = trial_gpu_number == 0 or (gpu_indices is not None and self.gpu_number == 0)
        self.per_gpu = max_trial_number_per_gpu
        self._argv = command_argv(command)
        self.running: dict[str, TrialProcess] = {}
        self._gpu_load: dict[int, int] = dict.fromkeys(gpu_indices or (), 0)
        self._use_pidfd = hasattr(os, "pidfd_open")
        self._fork = forkable_script(self._argv)
        self._forkserver: ForkServer | None = None

    def free_slots(self) -> int:
        """How many more trials may start now (concurrency and GPUs permitting)."""
        free = super().free_slots()
        if self.gpu_indices and self.gpu_number:
            gpu_slots = sum(self.per_gpu - load for load in self._gpu_load.values()) // self.gpu_number
            free = min(free, gpu_slots)
        return max(free, 0)

    def _take_gpus(self) -> tuple[int, ...]:
        if not self.gpu_indices or not self.gpu_number:
            return ()
        ranked = sorted((load, index) for index, load in self._gpu_load.items() if load < self.per_gpu)
        chosen = tuple(index for _, index in ranked[:self.gpu_number])
        for index in chosen:
            self._gpu_load[index] += 1
        return chosen

    def cuda_visible_devices(self, gpus: tuple[int, ...]) -> str | None:
        """The trial's CUDA_VISIBLE_DEVICES: its GPUs, empty to hide all, None to leave it as it is."""
        if self.gpu_number == 0:
            return "" if self._hide_gpus else None
        return ",".join(map(str, gpus))

    def prepare_folder(self, trial_id: str) -> Path:
        """The trial's working folder, with the code directory's entries linked in."""
        folder = super().prepare_folder(trial_id)
        link_code(self.code_dir, folder)
        return folder

    def reserve_gpus(self) -> tuple[int, ...]:
        return self._take_gpus()

    def start(self, trial_id: str, env: Mapping[str, str], gpus: tuple[int, ...]) -> TrialProcess:
        """Start a trial (its folder prepared, GPUs reserved); returns its process record."""
        folder = self.trial_folder(trial_id)
        process = self._fork_trial(folder, env)
        if process is not None:
            deadline = time.monotonic() + self.max_trial_duration if self.max_trial_duration else None
            trial = TrialProcess(trial_id, process, folder, gpus, deadline)
            self.running[trial_id] = trial
            return trial
        with open(folder / STDOUT_NAME, "wb") as out, open(folder / STDERR_NAME, "wb") as err:
            try:
                process = subprocess.Popen(self._argv, cwd=folder, env=dict(env), stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=err, start_new_session=True, close_fds=True)
            except OSError:
                # Not found or not executable: the shell reports it on stderr with exit code 126/127.
                process = subprocess.Popen(["/bin/sh", "-c", self.command], cwd=folder, env=dict(env),
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           start_new_session=True, close_fds=True)
        deadline = time.monotonic() + self.max_trial_duration if self.max_trial_duration else None
        trial = TrialProcess(trial_id, process, folder, gpus, deadline)
        if "NAS_EXPERIMENT_ID" in env:
            trial.marks = trial_marks(env["NAS_EXPERIMENT_ID"], trial_id)
        if self._use_pidfd:
            try:
                trial.pidfd = os.pidfd_open(process.pid)
            except OSError:
                self._use_pidfd = False
        if trial.pidfd is not None:
            self.selector.register(trial.pidfd, selectors.EVENT_READ, lambda _mask, t=trial: self._exited(t))
        self.running[trial_id] = trial
        return trial

    def _fork_trial(self, folder: Path, env: Mapping[str, str]) -> ForkedProcess | None:
        """The trial forked by the fork server, or None where it does not apply or is unavailable."""
        if not self._fork:
            return None
        if self._forkserver is None:
            self._forkserver = ForkServer(self._forked_exit)
            self.selector.register(self._forkserver.fileno(), selectors.EVENT_READ, self._forkserver_readable)
        if not self._forkserver.can_run(env):
            return None  # an interpreter started with this environment would differ from the server
        try:
            return self._forkserver.spawn(self._argv, cwd=str(folder), env=env, stdout=str(folder / STDOUT_NAME),
                                          stderr=str(folder / STDERR_NAME))
        except OSError:
            self._fork = False  # from now on, subprocesses
            return None

    def _forkserver_readable(self, _mask: int) -> None:
        server = self._forkserver
        if server is None:
            return
        server.pump(0.0)
        if not server.alive:
            self.selector.unregister(server.fileno())
        server.dispatch()

    def _forked_exit(self, process: ForkedProcess) -> None:
        for trial in list(self.running.values()):
            if trial.process is process:
                self._exited(trial)
                return

    def close(self) -> None:
        """Release what the service holds beyond its trials (the fork server)."""
        server, self._forkserver = self._forkserver, None
        if server is not None:
            if server.alive:
                self.selector.unregister(server.fileno())
            server.close()

    def _exited(self, trial: TrialProcess) -> None:
        if trial.trial_id not in self.running:
            return
        trial.process.wait()
        self._release(trial)
        self.on_exit(trial)

    def _release(self, trial: TrialProcess) -> None:
        # A trial ends with its command; whatever it left in its process group goes with it, and so
        # does whatever left the group but kept the trial's environment.
        self._signal(trial, signal.SIGKILL)
        forked = isinstance(trial.process, ForkedProcess)
        kill_marked(trial.marks, stderr_end=str(trial.folder / STDERR_NAME) if forked else None)
        self.running.pop(trial.trial_id, None)
        if trial.pidfd is not None:
            self.selector.unregister(trial.pidfd)
            os.close(trial.pidfd)
            trial.pidfd = None
        for index in trial.gpus:
            self._gpu_load[index] -= 1

    def poll(self) -> None:
        """Reap exits without a pidfd, and enforce maxTrialDuration (SIGTERM, then SIGKILL)."""
        if self._forkserver is not None:
            self._forkserver.dispatch()  # ends read while starting or waiting for other trials
        now = time.monotonic()
        for trial in list(self.running.values()):
            forked = isinstance(trial.process, ForkedProcess)
            if trial.pidfd is None and not forked and trial.process.poll() is not None:
                self._release(trial)
                self.on_exit(trial)
                continue
            if trial.deadline is not None and now >= trial.deadline and trial.kill_at is None:
                trial.timed_out = True
                self.terminate(trial.trial_id)
            elif trial.kill_at is not None and now >= trial.kill_at:
                self._signal(trial, signal.SIGKILL)
                trial.kill_at = float("inf")

    def next_wakeup(self) -> float | None:
        """Seconds until `poll` has work to do (None: nothing timed)."""
        times = [0.0] if self._forkserver is not None and self._forkserver.pending else []
        for trial in self.running.values():
            if trial.pidfd is None and not isinstance(trial.process, ForkedProcess):
                times.append(0.02)
            if trial.kill_at is not None and trial.kill_at != float("inf"):
                times.append(trial.kill_at - time.monotonic())
            elif trial.deadline is not None and trial.kill_at is None:
                times.append(trial.deadline - time.monotonic())
        return max(min(times), 0.0) if times else None

    def _signal(self, trial: TrialProcess, signum: int) -> None:
        try:
            os.killpg(trial.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self, trial_id: str, *, canceled: bool = False) -> None:
        """SIGTERM a trial's process group; SIGKILL follows after the grace period."""
        trial = self.running.get(trial_id)
        if trial is None or trial.kill_at is not None:
            return
        trial.canceled = canceled
        trial.kill_at = time.monotonic() + self.grace_period
        self._signal(trial, signal.SIGTERM)

    def stop_all(self, timeout: float | None = None) -> list[TrialProcess]:
        """Terminate every running trial and wait for them (SIGKILL after the grace period)."""
        for trial_id in list(self.running):
            self.terminate(trial_id, canceled=True)
        stopped = []
        end = time.monotonic() + (timeout if timeout is not None else self.grace_period)
        for trial in list(self.running.values()):
            remaining = end - time.monotonic()
            try:
                trial.process.wait(timeout=max(remaining, 0.0))
            except subprocess.TimeoutExpired:
                self._signal(trial, signal.SIGKILL)
                trial.process.wait()
            # The group may hold children that outlive the shell; none of them may keep running.
            self._signal(trial, signal.SIGKILL)
            self._release(trial)
            stopped.append(trial)
        return stopped
