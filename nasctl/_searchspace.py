"""Search-space rules that the compiler, the trial runtime and the tuners share (stdlib only).

- Keys of a choice repeated over a loop: one key per iteration, the base key suffixed `[i]` per
  enclosing loop (`dlrm/Net.__init__/emb_dim/choice[3]`, nested loops `.../h[1][0]`).
- Which choices are sizes that one-shot modes relax (distinct numbers).

The annotator writes the expanded keys into the search space and compiled code builds the same key
at run time with `nas.loop_key`, so both sides format keys with `indexed_key` from here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["expand_key", "index_combinations", "indexed_key", "loop_mismatch", "relaxable_options"]


def indexed_key(key: str, indices: Sequence[int]) -> str:
    """The key of one iteration: `key` suffixed `[i]` for each loop, outermost first.

    >>> indexed_key("m/emb_dim/choice", [3])
    'm/emb_dim/choice[3]'
    """
    return key + "".join(f"[{int(index)}]" for index in indices)


def index_combinations(counts: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every tuple of iteration numbers of loops that run `counts` times, outermost loop slowest."""
    return itertools.product(*(range(count) for count in counts))


def expand_key(key: str, counts: Sequence[int]) -> list[str]:
    """Every key of a choice repeated by loops that run `counts` times (`[key]` outside loops).

    >>> expand_key("m/h", [2, 2])
    ['m/h[0][0]', 'm/h[0][1]', 'm/h[1][0]', 'm/h[1][1]']
    """
    return [indexed_key(key, indices) for indices in index_combinations(counts)]


def loop_mismatch(key: str, indices: Sequence[int], counts: Sequence[int]) -> str | None:
    """Why iteration `indices` does not fit loops declared to run `counts` times; None when it does."""
    if len(indices) != len(counts):
        return f"{len(indices)} loop index(es) for {len(counts)} declared loop count(s)"
    for depth, (index, count) in enumerate(zip(indices, counts, strict=True)):
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            level = "" if len(counts) == 1 else f" (loop {depth + 1} of {len(counts)})"
            return (f"the search space repeats this choice {count} times{level}, but the loop reached "
                    f"iteration {index + 1 if isinstance(index, int) else index!r}; make the search space's "
                    f"count (repeat= or the loop's iterable) match the data")
    return None


def relaxable_options(options: Sequence[Any]) -> bool:
    """Whether a choice's options are sizes a one-shot mode can relax: distinct numbers (not booleans).

    >>> relaxable_options([8, 16, 32]), relaxable_options([0.25, 1.0]), relaxable_options([1, True])
    (True, True, False)
    """
    return (bool(options) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in options)
            and len(set(options)) == len(options))
