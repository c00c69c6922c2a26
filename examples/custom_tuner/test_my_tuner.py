"""nasctl's tuner conformance kit run on MyTuner: `pytest test_my_tuner.py` (one test per property)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasctl.tuners.testing import TunerConformance

from nasctl import tuners

HERE = Path(__file__).resolve().parent


def make_my_tuner(**class_args: Any) -> tuners.Tuner:
    """MyTuner loaded the way config.yml names it: `className: my_tuner:MyTuner`, `codeDirectory: .`"""
    return tuners.create("my_tuner:MyTuner", code_dir=HERE, **class_args)


class TestMyTuner(TunerConformance):
    tuner_factory = make_my_tuner


class TestMyTunerWithoutLocalSearch(TunerConformance):
    """Always restarting: a pure random search, which must conform as well."""

    tuner_factory = staticmethod(lambda **class_args: make_my_tuner(restart_probability=1.0, **class_args))
