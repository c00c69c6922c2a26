"""The local training service: trials as subprocesses on this machine, in their own folders.

A trial runs `trialCommand` in a shell, in its own process group, with `<exp>/trials/<trial_id>/` as
its working folder: the (compiled) code directory's entries are linked into it, so the command finds
its script, and files the trial writes stay its own. stdout and stderr go to files in that folder.
The manager's selector learns of a trial's exit through a pidfd (no polling where Linux has them).
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
    process: subprocess.Popen
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


def stderr_tail(folder: Path) -> str:
    """The last lines of a trial's stderr file, nasctl's own traceback frames left out (NAS_DEBUG=1 keeps them)."""
    path = folder / STDERR_NAME
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except OSError:
        return ""
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


def kill_marked(marks: tuple[bytes, ...], rounds: int = 5) -> int:
    """SIGKILL every process whose environment holds all of `marks`; returns how many were killed.

    This finds the processes of a trial that left its process group (`setsid`, a daemonised server),
    as long as they kept the environment they were started with. A few rounds catch processes forked
    while the previous round was killing.
    """
    if not marks or not os.path.isdir("/proc"):
        return 0
    own = os.getpid()
    killed = 0
    for _ in range(rounds):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == own:
                continue
            try:
                environ = Path(entry.path, "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(mark in environ for mark in marks):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
                found += 1
        killed += found
        if not found:
            break
    return killed


def kill_orphans(pgid: int, experiment_id: str, trial_id: str) -> bool:
    """SIGKILL the processes of a trial left running by a killed manager; True if any were found.

    Only processes that carry this trial's NAS_EXPERIMENT_ID and NAS_TRIAL_ID are killed (the group
    when one of its members does, and every other process that does), so a reused process id is
    never hit.
    """
    if not os.path.isdir("/proc"):
        return False
    marks = trial_marks(experiment_id, trial_id)
    return _kill_group(pgid, marks) | bool(kill_marked(marks))


def _kill_group(pgid: int, marks: tuple[bytes, bytes]) -> bool:
    for pid in _process_group_members(pgid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(mark in environ for mark in marks):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return False
            return True
    return False


class LocalTrainingService:
    """Starts, watches and stops trial subprocesses; `on_exit(trial)` is called from the selector."""

    def __init__(self, *, experiment_dir: Path, code_dir: Path, command: str, concurrency: int,
                 selector: selectors.BaseSelector, on_exit: Callable[[TrialProcess], None],
                 max_trial_duration: float | None = None, gpu_indices: tuple[int, ...] | None = None,
                 trial_gpu_number: int | None = None, max_trial_number_per_gpu: int = 1,
                 grace_period: float = 5.0) -> None:
        self.experiment_dir = experiment_dir
        self.code_dir = code_dir
        self.command = command
        self.concurrency = concurrency
        self.selector = selector
        self.on_exit = on_exit
        self.max_trial_duration = max_trial_duration
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
        self.grace_period = grace_period
        self._argv = command_argv(command)
        self.running: dict[str, TrialProcess] = {}
        self._gpu_load: dict[int, int] = dict.fromkeys(gpu_indices or (), 0)
        self._use_pidfd = hasattr(os, "pidfd_open")

    def trial_folder(self, trial_id: str) -> Path:
        return self.experiment_dir / "trials" / trial_id

    def free_slots(self) -> int:
        """How many more trials may start now (concurrency and GPUs permitting)."""
        free = self.concurrency - len(self.running)
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
        folder = self.trial_folder(trial_id)
        folder.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(self.code_dir):
            link = folder / entry.name
            if entry.name in (STDOUT_NAME, STDERR_NAME) or link.is_symlink() or link.exists():
                continue
            link.symlink_to(entry.path, target_is_directory=entry.is_dir())
        return folder

    def reserve_gpus(self) -> tuple[int, ...]:
        return self._take_gpus()

    def start(self, trial_id: str, env: Mapping[str, str], gpus: tuple[int, ...]) -> TrialProcess:
        """Start a trial (its folder prepared, GPUs reserved); returns its process record."""
        folder = self.trial_folder(trial_id)
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
        kill_marked(trial.marks)
        self.running.pop(trial.trial_id, None)
        if trial.pidfd is not None:
            self.selector.unregister(trial.pidfd)
            os.close(trial.pidfd)
            trial.pidfd = None
        for index in trial.gpus:
            self._gpu_load[index] -= 1

    def poll(self) -> None:
        """Reap exits without a pidfd, and enforce maxTrialDuration (SIGTERM, then SIGKILL)."""
        now = time.monotonic()
        for trial in list(self.running.values()):
            if trial.pidfd is None and trial.process.poll() is not None:
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
        times = []
        for trial in self.running.values():
            if trial.pidfd is None:
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
