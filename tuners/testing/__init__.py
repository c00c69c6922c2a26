"""A conformance kit for tuners: run it on your own tuner to check what the experiment relies on.

Like Optuna's `optuna.testing`, it ships with the package so that the author of a custom tuner
checks it with the same properties as the built-ins: proposals stay inside the search space, the
same seed gives the same sequence, failed and late results are tolerated, results may arrive out of
order, a finite space is exhausted with `NoMoreTrialError` and never proposes an architecture twice,
a checkpoint continues the same search, imported data is used, and mistakes are `TunerError`s.

Without pytest:

>>> from nasctl import tuners
>>> from nasctl.tuners.testing import check_tuner
>>> checked = check_tuner(lambda **kw: tuners.create("Random", **kw))
>>> len(checked)
12

With pytest, one test per property (put it in a `test_*.py` file):

    from nasctl.tuners.testing import TunerConformance
    from my_tuner import MyTuner

    class TestMyTuner(TunerConformance):
        tuner_factory = MyTuner

The factory is called as `tuner_factory(seed=..., optimize_mode=...)`. A property that does not
apply is skipped with a reason: `skip = {"different_seeds_differ": "a grid ignores the seed"}`. A
tuner that needs bounded dimensions sets `search_space = BOUNDED_SPACE`.
"""

from __future__ import annotations

from ._conformance import PROPERTIES, TunerConformance, check_tuner, run_property
from ._errors import TunerConformanceError
from ._spaces import (
    BLOCK,
    BOUNDED_SPACE,
    FINITE_SIZE,
    FINITE_SPACE,
    LARGE_INPUT_SPACE,
    MIXED_SPACE,
    check_proposal,
    drive,
    objective,
)

__all__ = [
    "check_tuner", "run_property", "TunerConformance", "PROPERTIES", "TunerConformanceError",
    "check_proposal", "drive", "objective",
    "MIXED_SPACE", "BOUNDED_SPACE", "FINITE_SPACE", "FINITE_SIZE", "LARGE_INPUT_SPACE", "BLOCK",
]
