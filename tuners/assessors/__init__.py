"""Assessors: NNI's assessor interface and the built-in early-stopping rules.

An assessor watches each running trial's intermediate results and stops the hopeless ones:

>>> from nasctl.tuners import assessors
>>> a = assessors.create("Medianstop", start_step=1)
>>> _ = a.assess_trial("t1", [0.6, 0.8]); a.trial_end("t1", True)
>>> a.assess_trial("t2", [0.3])
<AssessResult.Bad: False>

In an experiment config: `assessor: {name: Medianstop, classArgs: {start_step: 5}}`, or a custom
one, `assessor: {codeDirectory: dir, className: my_assessor.MyAssessor}`.
"""

from __future__ import annotations

from ._base import Assessor, AssessorError, AssessResult, scalar_history
from ._curvefitting import CurvefittingAssessor
from ._medianstop import MedianstopAssessor
from ._optuna import HyperbandAssessor, OptunaPrunerAssessor, SuccessiveHalvingAssessor
from ._registry import ASSESSORS, accepts, create

__all__ = [
    "Assessor", "AssessResult", "AssessorError", "create", "accepts", "ASSESSORS", "scalar_history",
    "MedianstopAssessor", "CurvefittingAssessor", "OptunaPrunerAssessor", "SuccessiveHalvingAssessor",
    "HyperbandAssessor",
]
