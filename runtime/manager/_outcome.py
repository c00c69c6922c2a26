"""What a run's failed trials have in common: their errors with the trial-specific parts removed.

The manager stops a run whose first trials all fail, and `nasctl run` ends with a summary line that
counts the failures and shows the most common error. Two trials fail "the same way" when their last
stderr lines are equal once the trial's folder, its id, addresses and numbers are blanked out, so a
missing script named by each trial's own folder counts as one error, not as one per trial.

>>> error_signature("python3: can't open file '/h/e1/trials/Ab3dE/x.py': [Errno 2]", "/h/e1/trials/Ab3dE", "Ab3dE")
"python3: can't open file '<trial>/x.py': [Errno N]"
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nasctl.runtime.manager._kinds import FAILED_STATUSES, TrialStatus

__all__ = ["error_line", "error_signature", "failure_summary", "FAILED_STATUSES"]

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def error_line(stderr_tail: str | None, message: str | None = None) -> str:
    """The line that says why a trial failed: the last non-empty stderr line, else the manager's message."""
    lines = [line.strip() for line in (stderr_tail or "").splitlines() if line.strip()]
    if lines:
        return lines[-1]
    return message or "failed without a message"


def error_signature(line: str, folder: str | Path | None, trial_id: str | None) -> str:
    """`line` with what differs from trial to trial (its folder, its id, addresses, numbers) blanked out."""
    if folder:
        line = line.replace(str(folder), "<trial>")
    if trial_id:
        line = line.replace(trial_id, "<trial>")
    return _NUMBER.sub("N", _ADDRESS.sub("<address>", line))


def failure_summary(trials: Iterable[Any], experiment_dir: str | Path) -> tuple[int, int, str | None]:
    """(failed, finished, most common error with its count) over stored trial records."""
    finished = failed = 0
    signatures: Counter[str] = Counter()
    example: dict[str, str] = {}
    for trial in trials:
        status = TrialStatus(trial.status)
        if not status.finished:
            continue
        finished += 1
        if not status.failed:
            continue
        failed += 1
        line = error_line(trial.stderr_tail, trial.message)
        signature = error_signature(line, Path(experiment_dir) / "trials" / trial.trial_id, trial.trial_id)
        signatures[signature] += 1
        example.setdefault(signature, line)
    if not signatures:
        return failed, finished, None
    signature, count = signatures.most_common(1)[0]
    return failed, finished, f"{example[signature]} ({count} of {failed})"
