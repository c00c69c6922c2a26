"""Fixtures of the mode backend tests: a current standalone trial context with a given architecture."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from runtime.trial import StandalonePlatform, TrialContext, set_context


@pytest.fixture
def standalone() -> Iterator[Callable[..., TrialContext]]:
    """`standalone(architecture=None, seed=0)`: make a standalone context current (closed afterwards)."""
    made: list[TrialContext] = []
    previous = set_context(None)

    def make(architecture: dict | None = None, seed: int = 0) -> TrialContext:
        context = TrialContext(StandalonePlatform(architecture=architecture, seed=seed))
        made.append(context)
        set_context(context)
        return context

    yield make
    for context in made:
        context.close()
    set_context(previous)
