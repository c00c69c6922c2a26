"""Tabular benchmarks: a table of architecture -> metric stands in for training, so a tuner's search
quality can be measured in seconds (the NAS-Bench idea).

A table is a CSV file with a header. Either an `architecture` column holds each architecture as
JSON, or there is one column per dimension of the search space, named as `Dimension.name`
(`<block>/<layer>/chosen_layer`, `<block>/<layer>/chosen_inputs`, or the key of a hyper-parameter):
a chosen layer is its label as written, chosen inputs a JSON list, any other value JSON (a bare
string is taken as a string). A metric column (default `accuracy`) holds the result. The table
must hold every architecture of the (finite) search space exactly once.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._base import Tuner
from ._errors import NoMoreTrialError, SearchSpaceError, TunerError
from ._space import Point, SearchSpace

__all__ = ["TabularObjective", "run_search"]


def _cell(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class TabularObjective:
    """The metric of every architecture of a finite search space, read from a CSV table.

    >>> objective = TabularObjective("benchmarks/data/synthetic_table.csv",
    ...                              "benchmarks/data/synthetic_search_space.json")  # doctest: +SKIP
    >>> objective(objective.space.to_architecture(objective.space.unrank(0)))  # doctest: +SKIP
    0.8123
    """

    def __init__(self, table: str | os.PathLike[str], search_space: str | os.PathLike[str] | Mapping[str, Any],
                 metric: str = "accuracy") -> None:
        self.path = Path(table)
        if isinstance(search_space, Mapping):
            document = dict(search_space)
        else:
            try:
                document = json.loads(Path(search_space).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                raise TunerError(f"cannot read search space {search_space}: {error}") from None
        try:
            self.space = SearchSpace(document)
        except SearchSpaceError as error:
            where = None if isinstance(search_space, Mapping) else str(search_space)
            raise SearchSpaceError(error.detail, error.key, where) from None
        if self.space.size is None:
            raise TunerError(f"{self.path}: a tabular benchmark needs a finite search space; "
                             f"{next(d.name for d in self.space.dimensions if not d.finite)} is continuous")
        self.metric = metric
        self.values: dict[Point, float] = {}
        self._read()

    def _read(self) -> None:
        try:
            handle = self.path.open(newline="", encoding="utf-8")
        except OSError as error:
            raise TunerError(f"cannot read table {self.path}: {error}") from None
        with handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if self.metric not in columns:
                raise TunerError(f"{self.path}: no metric column {self.metric!r} (columns: {', '.join(columns)})")
            names = [d.name for d in self.space.dimensions]
            by_json = "architecture" in columns
            missing = [] if by_json else [n for n in names if n not in columns]
            if missing:
                raise TunerError(f"{self.path}: no column {missing[0]!r}; a table has an 'architecture' JSON column "
                                 f"or one column per dimension: {', '.join(names)}")
            for row in reader:
                line = reader.line_num
                point = self._point(row, by_json, line)
                try:
                    value = float(row[self.metric])
                except (TypeError, ValueError):
                    raise TunerError(f"{self.path}:{line}: {self.metric} {row[self.metric]!r} is not a number") from None
                if not math.isfinite(value):
                    raise TunerError(f"{self.path}:{line}: {self.metric} is {value}")
                if point in self.values:
                    raise TunerError(f"{self.path}:{line}: this architecture is already in the table")
                self.values[point] = value
        if len(self.values) != self.space.size:
            raise TunerError(f"{self.path}: the table holds {len(self.values)} of the search space's "
                             f"{self.space.size} architectures; a tabular benchmark needs all of them")

    def _point(self, row: dict[str, str], by_json: bool, line: int) -> Point:
        try:
            if by_json:
                return self.space.from_architecture(json.loads(row["architecture"]))
            coords = []
            for dim in self.space.dimensions:
                text = row[dim.name]
                value = text if dim.part == "chosen_layer" else _cell(text)
                try:
                    coords.append(dim.encode(value))
                except ValueError as error:
                    raise TunerError(f"{self.path}:{line}: column {dim.name!r}: {error}") from None
            return tuple(coords)
        except json.JSONDecodeError as error:
            raise TunerError(f"{self.path}:{line}: column 'architecture' is not JSON: {error}") from None
        except SearchSpaceError as error:
            raise TunerError(f"{self.path}:{line}: {error}") from None

    def __call__(self, architecture: Mapping[str, Any]) -> float:
        """The table's metric for an architecture."""
        return self.values[self.space.from_architecture(architecture)]

    def best(self, optimize_mode: str = "maximize") -> float:
        """The best metric in the table."""
        return max(self.values.values()) if optimize_mode == "maximize" else min(self.values.values())

    def rows(self) -> list[dict[str, str]]:
        """The table in the one-column-per-dimension format, in `SearchSpace.enumerate()` order."""
        out = []
        for point in self.space.enumerate():
            row = {}
            for dim, coordinate in zip(self.space.dimensions, point, strict=True):
                value = dim.value(coordinate)
                row[dim.name] = value if isinstance(value, str) and dim.part == "chosen_layer" else json.dumps(value)
            row[self.metric] = repr(self.values[point])
            out.append(row)
        return out


def run_search(tuner: Tuner, objective: TabularObjective, queries: int) -> list[float]:
    """Drive `tuner` for up to `queries` trials on the table, one at a time; the metrics in order.

    The tuner sees NNI's calls: `update_search_space` once, then `generate_parameters`,
    `receive_trial_result` and `trial_end` per trial. Stops early on `NoMoreTrialError`.
    """
    tuner.update_search_space(objective.space.raw)
    values: list[float] = []
    for parameter_id in range(queries):
        try:
            parameters = tuner.generate_parameters(parameter_id)
        except NoMoreTrialError:
            break
        value = objective(parameters)
        tuner.receive_trial_result(parameter_id, parameters, value)
        tuner.trial_end(parameter_id, True)
        values.append(value)
    return values
