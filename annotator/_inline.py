"""`trial codegen`: a module's annotations resolved by one architecture, as plain Python without nasctl.

What each kind of annotation becomes is in its module (`_kinds.py`); the lookups and errors they
share are here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from nasctl.annotator._codegen import Edit, apply, import_edit, remove, replace_with
from nasctl.annotator._errors import ArchitectureMismatch
from nasctl.annotator._ir import Annotation, ModuleIR
from nasctl.annotator._kinds import kind_of

from nasctl.searchspace import expand_key


def grouped(text: str) -> str:
    """`text` safe to splice where a line break would end the statement."""
    return f"({text})" if "\n" in text else text


def mismatch(ir: ModuleIR, annotation: Annotation, key: str, message: str) -> ArchitectureMismatch:
    """The error for an architecture whose entry `key` does not fit `annotation`."""
    return ArchitectureMismatch(
        message, key, ir.path, annotation.line, annotation.column, ir.source_line(annotation.line)
    )


def lookup(ir: ModuleIR, annotation: Annotation, key: str, architecture: dict[str, Any]) -> Any:
    """The architecture's value for `key`, which it must have."""
    if key not in architecture:
        raise mismatch(ir, annotation, key, "missing from the architecture")
    return architecture[key]


def iteration_test(annotation: Annotation, indices: tuple[int, ...]) -> str:
    """`i == 2` (`(i, j) == (2, 0)` for nested loops): the condition that iteration `indices` runs."""
    codes = [loop.index for loop in annotation.loops]
    if len(codes) == 1:
        return f"{codes[0]} == {indices[0]}"
    return f"({', '.join(codes)}) == ({', '.join(map(str, indices))})"


def inline_ir(ir: ModuleIR, architecture: dict[str, Any]) -> str:
    """The module's code with every annotation replaced by what `architecture` chose."""
    if not ir.annotations:
        return ir.text
    kinds = [kind_of(annotation.kind) for annotation in ir.annotations]
    dropped = [a for a, kind in zip(ir.annotations, kinds, strict=True) if a.form == "string" and kind.dropped(a)]
    removed_per_body = Counter(a.body for a in dropped)
    emptied = {a.body for a in dropped if removed_per_body[a.body] == a.body_size}
    given_pass: set[int] = set()

    def drop(annotation: Annotation) -> Edit:
        if annotation.form == "string" and annotation.body in emptied and annotation.body not in given_pass:
            given_pass.add(annotation.body)
            return replace_with(ir, annotation, ["pass"])
        return remove(ir, annotation)

    edits: list[Edit] = []
    helpers: list[Callable[[ModuleIR], list[str]]] = []
    for annotation, kind in zip(ir.annotations, kinds, strict=True):
        edits.extend(kind.inline(ir, annotation, architecture, drop))
        if kind.helper is not None and kind.helper not in helpers:
            helpers.append(kind.helper)
    edits.extend(import_edit(ir, helper(ir)) for helper in helpers)
    return apply(ir, edits)


def used_keys(ir: ModuleIR) -> set[str]:
    """The architecture keys a module reads: its annotations' and its hand-written calls'."""
    keys: set[str] = set()
    for annotation in ir.annotations:
        entry = kind_of(annotation.kind).entry
        if entry is not None:
            keys.update(expand_key(entry(annotation)[0], annotation.counts))
    keys.update(call.key for call in ir.handwritten)
    return keys
