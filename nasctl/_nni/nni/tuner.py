"""`nni.tuner.Tuner`: NNI's tuner base class is nasctl's (the same interface, DESIGN.md §6)."""

from __future__ import annotations

from nasctl.tuners import Tuner

__all__ = ["Tuner"]
