"""Search-space keys: a choice repeated over loops, a candidate's storage key, a key's type segment.

- Keys of a choice repeated over a loop: one key per iteration, the base key suffixed `[i]` per
  enclosing loop (`dlrm/Net.__init__/emb_dim/choice[3]`, nested loops `.../h[1][0]`). The annotator
  writes the expanded keys into the search space and compiled code builds the same key at run time
  with `nas.loop_key`, so both sides format keys with `indexed_key`.
- A variable or function choice is keyed `<module>/<name>/<type>` (DESIGN.md §3), so the last
  segment of its key, loop indices aside, says which kind of entry it is (`key_type`).
- A class candidate of a layer is built once and kept under `candidate_key(block, layer, index)`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

__all__ = [
    "FUNCTION_CHOICE",
    "candidate_key",
    "expand_key",
    "index_combinations",
    "indexed_key",
    "is_function_choice",
    "key_type",
    "loop_mismatch",
]

FUNCTION_CHOICE = "function_choice"
"""The `<type>` segment of a function choice's key (its search-space entry is a `choice`)."""

_LOOP_SUFFIX = re.compile(r"(?:\[\d+\])+$")
_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


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


def key_type(key: str) -> str:
    """The `<type>` segment of a `<module>/<name>/<type>` key, loop indices dropped.

    >>> key_type("m/pool/function_choice[2]"), key_type("m/Net.forward/h1")
    ('function_choice', 'h1')
    """
    return _LOOP_SUFFIX.sub("", key).rpartition("/")[2]


def is_function_choice(key: str) -> bool:
    """Whether `key` names a function choice (a choice among calls), not a variable or a block.

    >>> is_function_choice("m/pool/function_choice"), is_function_choice("m/lr/choice")
    (True, False)
    """
    return key_type(key) == FUNCTION_CHOICE


def candidate_key(block_key: str, layer_key: str, index: int) -> str:
    """Where a layer's candidate `index` is kept (`nas_candidates`): `<block>__<layer>__<index>`, sanitised.

    >>> candidate_key("m/Net.forward/h1", "h1", 0)
    'm_Net_forward_h1__h1__0'
    """
    return _UNSAFE.sub("_", f"{block_key}__{layer_key}__{index}")
