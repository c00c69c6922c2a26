"""Fixtures shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from nasctl.runtime.trial import TrialContext, set_context


@pytest.fixture
def make_current() -> Iterator[Callable[[TrialContext], TrialContext]]:
    """`make_current(context)`: make `context` the current trial context; afterwards every context made
    current is closed and the previous one restored."""
    made: list[TrialContext] = []
    previous = set_context(None)

    def make(context: TrialContext) -> TrialContext:
        made.append(context)
        set_context(context)
        return context

    yield make
    for context in made:
        context.close()
    set_context(previous)
