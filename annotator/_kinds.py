"""The kinds of annotation: one table from each annotation name to the module of its kind.

A kind's module holds everything the compiler does with that kind, as one `Kind`: reading the
annotation into the IR, the code it compiles to, its search-space entry, what `trial codegen`
writes for it, and the hand-written calls of its compiled form. The phases (`_read.py`,
`_codegen.py`, `_search_space.py`, `_inline.py`, `_handwritten.py`) look kinds up here; they never
test the type of an annotation. A new kind of annotation is one module and its rows below.

The kinds' modules read annotations with libcst, which takes a good part of a second to import, so
a module is imported the first time its kind is looked up: only for files that have annotations.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from nasctl.searchspace import SAMPLING_ARITY

if TYPE_CHECKING:
    from nasctl.annotator._codegen import Edit
    from nasctl.annotator._ir import Annotation, HandWritten, ModuleIR

#: Every annotation a source may write after `@nas.` / `@nni.`, and the module of its kind.
ANNOTATIONS: dict[str, str] = {
    "mutable_layers": "_layers",
    "mutable_layer": "_layers",
    "variable": "_variable",
    "function_choice": "_function_choice",
    "report_intermediate_result": "_plain_calls",
    "report_final_result": "_plain_calls",
    "get_next_parameter": "_plain_calls",
    "training_update": "_plain_calls",
    "derive_architecture": "_plain_calls",
}

#: The calls of compiled code that the search space reads where they are written by hand
#: (`nas.choice(..., key=...)`, `nni.choice(..., name=...)`, `nas.mutable_layer(...)`), and the
#: module of their kind.
HANDWRITTEN: dict[str, str] = {
    **dict.fromkeys(SAMPLING_ARITY, "_variable"),
    "function_choice": "_function_choice",
    "mutable_layer": "_layers",
}


def never(annotation: Any) -> bool:
    """For `Kind.dropped`: `trial codegen` keeps (rewrites) the annotation's statement."""
    return False


def always(annotation: Any) -> bool:
    """For `Kind.dropped`: `trial codegen` deletes the annotation's statement."""
    return True


@dataclass(frozen=True)
class Kind:
    """What the compiler does with one kind of annotation, phase by phase.

    `read(reader, site)` gives the IR node of one annotation (`_read.Site`: its call, the fields
    every annotation has, its scope and the statement after it).
    `compile(ir, annotation, mode)` gives the edits of the compiled code. `entry(annotation)` gives
    its search-space `(key, entry)`; None for a kind without one. `inline(ir, annotation,
    architecture, drop)` gives the edits of `trial codegen`, where `drop(annotation)` deletes the
    annotation's statement; `dropped(annotation)` says beforehand whether it will (a block left with
    no statement gets `pass`). `helper(ir)` is code that inlined modules with this kind need once.
    `handwritten(reader, call)` reads a hand-written call of the kind's compiled form. `repeated`:
    inside counted loops, an annotation has one key per iteration.
    """

    read: Callable[..., Annotation]
    compile: Callable[[ModuleIR, Any, str], list[Edit]]
    inline: Callable[[ModuleIR, Any, dict[str, Any], Callable[[Annotation], Edit]], list[Edit]]
    entry: Callable[[Any], tuple[str, dict[str, Any]]] | None = None
    dropped: Callable[[Any], bool] = never
    helper: Callable[[ModuleIR], list[str]] | None = None
    handwritten: Callable[..., list[HandWritten]] | None = None
    repeated: bool = True


@cache
def kind_of(name: str) -> Kind:
    """The kind of an annotation name (`variable`) or of a hand-written call's function (`choice`)."""
    module = ANNOTATIONS[name] if name in ANNOTATIONS else HANDWRITTEN[name]
    return importlib.import_module(f"nasctl.annotator.{module}").KIND
