"""The JSON search space of a module's IR (NNI's format, DESIGN.md §3); each kind's entry is in its module."""

from __future__ import annotations

import json
from typing import Any

from nasctl.annotator._errors import AnnotationError
from nasctl.annotator._ir import Annotation, ModuleIR
from nasctl.annotator._kinds import kind_of

from nasctl.searchspace import expand_key, json_equal


class SpaceBuilder:
    """Collects entries from one or more modules, rejecting a key defined twice in different ways."""

    def __init__(self) -> None:
        self.space: dict[str, Any] = {}
        self._origin: dict[tuple[str, str | None], tuple[str, int]] = {}

    def _conflict(
        self, ir: ModuleIR, key: str, line: int, column: int, before: tuple[str, int]
    ) -> AnnotationError:
        path, at = before
        where = f"line {at}" if path == ir.path else f"{path}:{at}"
        return AnnotationError(
            f"search-space key '{key}' is defined here differently from {where}; give one of them "
            "another name",
            ir.path,
            line,
            column,
            ir.source_line(line),
        )

    def add(self, ir: ModuleIR, key: str, entry: dict[str, Any], line: int, column: int) -> None:
        """Add a whole entry (a variable, a function choice, or a block with all its layers)."""
        if key in self.space and not json_equal(self.space[key], entry):
            raise self._conflict(ir, key, line, column, self._origin[(key, None)])
        self.space.setdefault(key, entry)
        self._origin.setdefault((key, None), (ir.path, line))

    def add_layer(
        self, ir: ModuleIR, key: str, layer_key: str, layer: dict[str, Any], line: int, column: int
    ) -> None:
        """Add one layer of a block written by hand (`nas.mutable_layer(...)`)."""
        block = self.space.setdefault(key, {"_type": "mutable_layer", "_value": {}})
        if block.get("_type") != "mutable_layer":
            raise self._conflict(ir, key, line, column, self._origin[(key, None)])
        self._origin.setdefault((key, None), (ir.path, line))
        existing = block["_value"].get(layer_key)
        if existing is not None and not json_equal(existing, layer):
            raise self._conflict(ir, f"{key}/{layer_key}", line, column, self._origin[(key, layer_key)])
        block["_value"].setdefault(layer_key, layer)
        self._origin.setdefault((key, layer_key), (ir.path, line))

    def _add_repeated(self, ir: ModuleIR, annotation: Annotation, key: str, entry: dict[str, Any]) -> None:
        """An annotation's entry under its key, or under one key per iteration of its loops."""
        for each in expand_key(key, annotation.counts):
            self.add(ir, each, json.loads(json.dumps(entry)), annotation.line, annotation.column)

    def add_module(self, ir: ModuleIR) -> None:
        """Every annotation and hand-written call of one module, in source order."""
        for annotation in ir.annotations:
            entry = kind_of(annotation.kind).entry
            if entry is not None:
                key, value = entry(annotation)
                self._add_repeated(ir, annotation, key, value)
        for call in ir.handwritten:
            if call.layer_key is not None:
                self.add_layer(ir, call.key, call.layer_key, call.entry, call.line, call.column)
            else:
                self.add(ir, call.key, call.entry, call.line, call.column)


def module_search_space(ir: ModuleIR) -> dict[str, Any]:
    """The search space of one module."""
    builder = SpaceBuilder()
    builder.add_module(ir)
    return builder.space
