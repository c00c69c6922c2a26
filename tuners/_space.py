"""Search-space handling shared by every tuner.

A search space in NNI's JSON format (DESIGN.md §3) is flattened into a tuple of independent
*dimensions* (`nasctl.searchspace.dimensions`: a `mutable_layer` block contributes two per layer,
every other key one); a proposal is a *point*, one coordinate per dimension, and becomes an
architecture only at the end. Points are plain tuples, so they hash: a tuner's set of seen points is
how duplicates are detected.

>>> import numpy as np
>>> space = SearchSpace({"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]},
...                      "m/units/randint": {"_type": "randint", "_value": [16, 64]}})
>>> point = space.sample(np.random.default_rng(0))
>>> sorted(space.to_architecture(point))
['m/lr/choice', 'm/units/randint']
>>> space.size
96
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from nasctl import searchspace
from nasctl.searchspace import Dimension, Options, json_equal, randbelow

from ._errors import NoMoreTrialError, SearchSpaceError

__all__ = ["Dimension", "SearchSpace", "Point"]

Point = tuple
"""One coordinate per dimension of a `SearchSpace`, in the order of `SearchSpace.dimensions`."""


class SearchSpace:
    """A search space in NNI's JSON format, flattened into `dimensions`.

    Raises `SearchSpaceError` naming the key when the document is malformed. `size` is the number
    of distinct architectures, None when a dimension is continuous or unbounded.
    """

    def __init__(self, search_space: Mapping[str, Any]) -> None:
        _validate_document(search_space)
        self.raw: dict[str, Any] = copy.deepcopy(dict(search_space))
        try:
            dims = searchspace.dimensions(self.raw)
        except searchspace.SearchSpaceError as error:
            raise SearchSpaceError(error.detail, error.key) from None
        self._init_dimensions(dims)

    @classmethod
    def _from_dimensions(cls, raw: dict[str, Any], dims: list[Dimension]) -> SearchSpace:
        space = cls.__new__(cls)
        space.raw = raw
        space._init_dimensions(dims)
        return space

    def _init_dimensions(self, dims: list[Dimension]) -> None:
        self.dimensions: tuple[Dimension, ...] = tuple(dims)
        self.size: int | None = math.prod(d.size for d in dims) if all(d.finite for d in dims) else None
        self._mutable = [i for i, d in enumerate(dims) if not d.finite or d.size > 1]
        self._radix = [d.size for d in dims] if self.size is not None else None

    @property
    def finite(self) -> bool:
        return self.size is not None

    def __len__(self) -> int:
        return len(self.dimensions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and json_equal(self.raw, other.raw)

    __hash__ = None  # type: ignore[assignment]

    # -- sampling -----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Point:
        """A point drawn from the prior: every dimension independently, with NNI's semantics."""
        return tuple(d.sample(rng) for d in self.dimensions)

    def mutate(self, point: Point, rng: np.random.Generator) -> Point:
        """`point` with exactly one dimension changed (the same point if nothing can change)."""
        if not self._mutable:
            return point
        i = self._mutable[int(rng.integers(len(self._mutable)))]
        changed = list(point)
        changed[i] = self.dimensions[i].mutate(point[i], rng)
        return tuple(changed)

    def random_unseen(self, rng: np.random.Generator, seen: set[Point] | frozenset[Point],
                      attempts: int = 32) -> Point:
        """A point from the prior that is not in `seen`; `NoMoreTrialError` when none is left.

        When `attempts` draws from the prior were all seen, a finite space draws uniformly from
        its unseen points by rank, an infinite one walks outwards from a draw to the nearest unseen
        point; so this never loops, however few likely points remain.
        """
        if self.size is not None and len(seen) >= self.size:
            raise NoMoreTrialError(f"all {self.size} architectures of the search space have been proposed")
        for _ in range(attempts):
            point = self.sample(rng)
            if point not in seen:
                return point
        if self.size is None:
            return self._walk_unseen(self.sample(rng), seen)
        taken = sorted(self.rank(p) for p in seen)
        index = randbelow(rng, self.size - len(taken))
        # The index-th unseen rank: shift past every taken rank at or below it.
        for rank in taken:
            if rank <= index:
                index += 1
            else:
                break
        return self.unrank(index)

    def _walk_unseen(self, start: Point, seen: set[Point] | frozenset[Point]) -> Point:
        """The nearest unseen point on a walk outwards from `start` along the infinite dimensions:
        a narrow `qnormal` has few likely values, but infinitely many, so one is always left."""
        infinite = [i for i, d in enumerate(self.dimensions) if not d.finite]
        for distance in itertools.count(1):
            for i in infinite:
                for k in (distance, -distance):
                    moved = self.dimensions[i].step(start[i], k)
                    if moved is not None:
                        candidate = start[:i] + (moved,) + start[i + 1:]
                        if candidate not in seen:
                            return candidate
        raise AssertionError("unreachable")

    # -- encoding -----------------------------------------------------------------------------
    def to_architecture(self, point: Point) -> dict[str, Any]:
        """The architecture (DESIGN.md §3) of a point."""
        arch: dict[str, Any] = {}
        for dim, coordinate in zip(self.dimensions, point, strict=True):
            if dim.layer is None:
                arch[dim.key] = dim.value(coordinate)
            else:
                arch.setdefault(dim.key, {}).setdefault(dim.layer, {})[dim.part] = dim.value(coordinate)
        return arch

    def from_architecture(self, architecture: Mapping[str, Any]) -> Point:
        """The point of an architecture; `SearchSpaceError` naming the key when it does not fit."""
        if not isinstance(architecture, Mapping):
            raise SearchSpaceError(f"an architecture must be a JSON object, got {type(architecture).__name__}")
        extra = [k for k in architecture if k not in self.raw]
        if extra:
            raise SearchSpaceError("not in the search space (known keys: " + ", ".join(self.raw) + ")", extra[0])
        point = []
        for dim in self.dimensions:
            if dim.key not in architecture:
                raise SearchSpaceError("missing from the architecture", dim.key)
            value = architecture[dim.key]
            if dim.layer is not None:
                block = value
                if not isinstance(block, Mapping) or not isinstance(block.get(dim.layer), Mapping):
                    raise SearchSpaceError(f"layer '{dim.layer}' is missing or not an object", dim.key)
                layer = block[dim.layer]
                unknown = set(block) - set(self.raw[dim.key]["_value"])
                if unknown:
                    raise SearchSpaceError(f"unknown layer '{sorted(unknown)[0]}'", dim.key)
                if dim.part not in layer:
                    raise SearchSpaceError(f"layer '{dim.layer}' has no '{dim.part}'", dim.key)
                value = layer[dim.part]
            try:
                point.append(dim.encode(value))
            except ValueError as error:
                where = f"layer '{dim.layer}' {dim.part}: " if dim.layer else ""
                raise SearchSpaceError(f"{where}{error}", dim.key) from None
        return tuple(point)

    def rank(self, point: Point) -> int:
        """The index of a point in `enumerate()` order (finite spaces only)."""
        self._require_finite("rank")
        index = 0
        for coordinate, radix in zip(point, self._radix, strict=True):
            index = index * radix + coordinate
        return index

    def unrank(self, index: int) -> Point:
        """The point at `index` in `enumerate()` order (finite spaces only)."""
        self._require_finite("unrank")
        coords = []
        for radix in reversed(self._radix):
            index, coordinate = divmod(index, radix)
            coords.append(coordinate)
        return tuple(reversed(coords))

    def enumerate(self) -> Iterator[Point]:
        """Every point once, the first dimension varying slowest (like `itertools.product`)."""
        self._require_finite("enumerate")
        return itertools.product(*(range(r) for r in self._radix))

    def discretized(self, points: int | None) -> SearchSpace:
        """This space with `uniform`/`loguniform` replaced by `points` evenly spaced values
        (geometrically for `loguniform`); `SearchSpaceError` for anything else left unbounded."""
        dims: list[Dimension] = []
        for dim in self.dimensions:
            if dim.finite:
                dims.append(dim)
                continue
            if dim.type not in ("uniform", "loguniform"):
                raise SearchSpaceError(f"{dim.type} is unbounded and has no grid; use choice, randint, quniform "
                                       "or qloguniform", dim.key)
            if points is None:
                raise SearchSpaceError(f"{dim.type} is continuous and has no grid; use quniform/qloguniform, "
                                       "or pass continuous_points to quantise it", dim.key)
            low, high = dim.args[0], dim.args[1]
            grid = np.geomspace(low, high, points) if dim.type == "loguniform" else np.linspace(low, high, points)
            dims.append(Options(dim.key, [float(v) for v in grid], "choice"))
        return SearchSpace._from_dimensions(self.raw, dims)

    def _require_finite(self, what: str) -> None:
        if self.size is None:
            infinite = next(d for d in self.dimensions if not d.finite)
            raise SearchSpaceError(f"cannot {what} a search space with a continuous or unbounded dimension "
                                   f"({infinite.type})", infinite.key)


def _validate_document(search_space: Any) -> None:
    from nasctl import schemas

    if not isinstance(search_space, Mapping):
        raise SearchSpaceError(f"a search space must be a JSON object, got {type(search_space).__name__}")
    if not search_space:
        raise SearchSpaceError("the search space is empty")
    try:
        schemas.validate("search_space", dict(search_space))
    except schemas.SchemaError as error:
        # The schema's path joins parts with dots, and keys contain dots ("m/Net.forward/h1"):
        # the key is the longest one the path starts with.
        path = error.key or ""
        key = max((k for k in search_space if path == k or path.startswith((k + ".", k + "["))), key=len, default=None)
        rest = path[len(key):].lstrip(".") if key is not None else path
        raise SearchSpaceError(f"{rest}: {error.detail}" if rest else error.detail, key) from None
