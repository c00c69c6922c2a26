"""`assessors.create`: built-in names and aliases, custom classes, refused names and arguments; the
docstring examples."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
from nasctl.tuners import TunerError, assessors


@pytest.mark.parametrize(("name", "cls"), [
    ("Medianstop", assessors.MedianstopAssessor), ("medianstop", assessors.MedianstopAssessor),
    ("MedianstopAssessor", assessors.MedianstopAssessor), ("Curvefitting", assessors.CurvefittingAssessor),
    ("SuccessiveHalving", assessors.SuccessiveHalvingAssessor), ("ASHA", assessors.SuccessiveHalvingAssessor),
    ("Hyperband", assessors.HyperbandAssessor),
])
def test_builtin_names(name: str, cls: type) -> None:
    assert type(assessors.create(name)) is cls


def test_custom_assessor_from_a_code_directory(tmp_path: Path) -> None:
    (tmp_path / "stopper_mod.py").write_text(
        "from nasctl.tuners.assessors import Assessor, AssessResult\n"
        "class Stopper(Assessor):\n"
        "    def __init__(self, floor):\n"
        "        self.floor = floor\n"
        "    def assess_trial(self, trial_job_id, trial_history):\n"
        "        return AssessResult.Bad if trial_history[-1] < self.floor else AssessResult.Good\n"
        "class NotOne:\n"
        "    pass\n")
    stopper = assessors.create("stopper_mod:Stopper", code_dir=tmp_path, floor=0.5)
    assert stopper.assess_trial("t", [0.4]) is assessors.AssessResult.Bad
    assert assessors.accepts("stopper_mod:Stopper", "optimize_mode", code_dir=tmp_path) is False
    with pytest.raises(assessors.AssessorError, match=r"assessor 'stopper_mod:NotOne': NotOne is not an assessor"):
        assessors.create("stopper_mod:NotOne", code_dir=tmp_path)
    with pytest.raises(assessors.AssessorError, match=r"assessor stopper_mod:Stopper needs class argument\(s\) floor"):
        assessors.create("stopper_mod:Stopper", code_dir=tmp_path)
    with pytest.raises(assessors.AssessorError, match=r"cannot import module 'missing_mod' in code directory"):
        assessors.create("missing_mod:Stopper", code_dir=tmp_path)


def test_refused_names_and_arguments_are_tuner_errors() -> None:
    with pytest.raises(assessors.AssessorError, match=r"unknown assessor 'Medain'; built-in assessors: Medianstop, "
                                                      r"Curvefitting, SuccessiveHalving, Hyperband") as caught:
        assessors.create("Medain")
    assert isinstance(caught.value, TunerError)    # the CLI prints it in one line and exits 2
    with pytest.raises(assessors.AssessorError, match=r"assessor Hyperband takes no class argument 'eta'; accepted: "
                                                      r"min_resource, max_resource, reduction_factor, optimize_mode"):
        assessors.create("Hyperband", eta=3)


@pytest.mark.parametrize("name", ["nasctl.tuners.assessors", "nasctl.tuners.assessors._base",
                                  "nasctl.tuners.assessors._medianstop", "nasctl.tuners.assessors._curvefitting",
                                  "nasctl.tuners.assessors._curves", "nasctl.tuners.assessors._optuna",
                                  "nasctl.tuners.assessors._registry"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0 and result.attempted > 0
