"""`TrainingService`: what the manager needs of whatever runs its trials (local processes, Ray tasks).

The manager's loop, in order, for each trial: `free_slots()` says whether one may start,
`prepare_folder(trial_id)` makes its folder, `reserve_gpus()` picks its GPUs (and
`cuda_visible_devices(gpus)` how the trial sees them), `start(trial_id, env, gpus)` runs it. Then
`poll()` and `next_wakeup()` each loop turn (timeouts, and whatever the selector does not report),
`terminate(trial_id)` for one trial (the assessor's verdict), `stop_all()` at the end of a session;
`on_exit(record)` is called on the manager's thread when a trial has ended, and `close()` releases
what the service holds.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["TrainingService"]


class TrainingService:
    """The base of the training services: their common settings, the trials running, their folders."""

    def __init__(self, *, experiment_dir: Path, code_dir: Path, command: str, concurrency: int,
                 selector: selectors.BaseSelector, on_exit: Callable[[Any], None],
                 max_trial_duration: float | None = None, grace_period: float = 5.0) -> None:
        self.experiment_dir = experiment_dir
        self.code_dir = code_dir
        self.command = command
        self.concurrency = concurrency
        self.selector = selector
        self.on_exit = on_exit
        self.max_trial_duration = max_trial_duration
        self.grace_period = grace_period  # seconds between SIGTERM and SIGKILL
        self.running: dict[str, Any] = {}  # trial id -> its record

    def trial_folder(self, trial_id: str) -> Path:
        """The trial's folder on this machine: its output, and what `nasctl trial show` reads."""
        return self.experiment_dir / "trials" / trial_id

    def free_slots(self) -> int:
        """How many more trials may start now."""
        return max(self.concurrency - len(self.running), 0)

    def prepare_folder(self, trial_id: str) -> Path:
        """The trial's folder, made."""
        folder = self.trial_folder(trial_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def reserve_gpus(self) -> tuple[int, ...]:
        """The GPUs the next trial takes (none unless the service assigns them itself)."""
        return ()

    def cuda_visible_devices(self, gpus: tuple[int, ...]) -> str | None:
        """The trial's CUDA_VISIBLE_DEVICES; None leaves it as it is."""
        return None

    def start(self, trial_id: str, env: Mapping[str, str], gpus: tuple[int, ...]) -> Any:
        """Start a trial (its folder prepared, GPUs reserved); returns its record."""
        raise NotImplementedError

    def poll(self) -> None:
        """Handle what the selector does not report: ended trials, time limits."""
        raise NotImplementedError

    def next_wakeup(self) -> float | None:
        """Seconds until `poll` has something to do at the latest (None: nothing pending)."""
        raise NotImplementedError

    def terminate(self, trial_id: str, *, canceled: bool = False) -> None:
        """Stop one trial (SIGTERM, then SIGKILL after the grace period); `on_exit` follows."""
        raise NotImplementedError

    def stop_all(self, timeout: float | None = None) -> list[Any]:
        """Stop every running trial and wait for them; returns their records (marked canceled)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the service holds (a fork server, a connection to Ray)."""
