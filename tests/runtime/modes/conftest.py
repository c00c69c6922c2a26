"""Fixtures of the mode backend tests: a current standalone trial context with a given architecture."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nasctl.runtime.trial import StandalonePlatform, TrialContext


@pytest.fixture
def standalone(make_current: Callable[[TrialContext], TrialContext]) -> Callable[..., TrialContext]:
    """`standalone(architecture=None, seed=0)`: make a standalone context current (closed afterwards)."""

    def make(architecture: dict | None = None, seed: int = 0) -> TrialContext:
        return make_current(TrialContext(StandalonePlatform(architecture=architecture, seed=seed)))

    return make
