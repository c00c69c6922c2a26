"""Tracebacks that show the user's code: nasctl's own frames left out unless `NAS_DEBUG=1`.

A trial's error usually passes through nasctl (a layer call, the runner that executes the script);
those frames say nothing to the user and push their own lines out of the stderr tail the manager
keeps. They are dropped from what is shown, with one line that says how many were hidden.
"""

from __future__ import annotations

import os
import re
import traceback
from functools import cache
from pathlib import Path

__all__ = ["debug", "format_exception", "trim_traceback"]

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+')


def debug() -> bool:
    """Whether `NAS_DEBUG=1`: show nasctl's own frames too."""
    return os.environ.get("NAS_DEBUG", "").strip() not in ("", "0")


@cache
def _own_folders() -> tuple[str, ...]:
    import nasctl.annotator
    import nasctl.runtime
    import nasctl.schemas
    import nasctl.tuners

    import nas
    import nasctl

    packages = (nasctl, nasctl.runtime, nasctl.annotator, nasctl.tuners, nasctl.schemas, nas)
    return tuple(sorted({str(Path(package.__file__).resolve().parent) + os.sep for package in packages}))


def _own(filename: str) -> bool:
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_own_folders())


def _hidden_note(count: int) -> str:
    return f"  ({count} nasctl frame{'s' if count != 1 else ''} hidden; NAS_DEBUG=1 shows them)"


def trim_traceback(text: str) -> str:
    """`text` (a stderr tail) with the frames of nasctl's own files removed from its tracebacks."""
    if debug() or '  File "' not in text:
        return text
    out: list[str] = []
    hidden = 0
    skipping = False
    for line in text.splitlines():
        match = _FRAME.match(line)
        if match:
            skipping = _own(match.group("file"))
            if skipping:
                hidden += 1
                continue
        elif skipping and line.startswith("    "):
            continue  # the hidden frame's source line and caret marks
        else:
            skipping = False
        if hidden:
            out.append(_hidden_note(hidden))
            hidden = 0
        out.append(line)
    if hidden:
        out.append(_hidden_note(hidden))
    return "\n".join(out)


def format_exception(error: BaseException) -> str:
    """The traceback of `error` as Python prints it, nasctl's frames trimmed (unless NAS_DEBUG=1)."""
    return trim_traceback("".join(traceback.format_exception(error)).rstrip("\n")) + "\n"
