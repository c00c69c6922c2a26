"""The table of annotation kinds: every annotation and hand-written call has one kind, in one module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nasctl.annotator._kinds import ANNOTATIONS, HANDWRITTEN, Kind, kind_of

from nasctl import annotator
from nasctl.searchspace import SAMPLING_ARITY

ANNOTATOR = Path(annotator.__file__).parent
#: The annotations of DESIGN.md §2, and nasctl's own `derive_architecture`.
DESIGNED = (
    "mutable_layers",
    "mutable_layer",
    "variable",
    "function_choice",
    "report_intermediate_result",
    "report_final_result",
    "get_next_parameter",
    "training_update",
    "derive_architecture",
)
#: The modules that run a phase over every kind; they reach a kind only through the table.
PHASES = ("_read.py", "_codegen.py", "_search_space.py", "_inline.py", "_handwritten.py", "_parse.py")


def test_every_annotation_has_a_kind() -> None:
    assert sorted(ANNOTATIONS) == sorted(DESIGNED)
    for name in DESIGNED:
        assert isinstance(kind_of(name), Kind)


def test_every_hand_written_call_has_a_kind_that_reads_it() -> None:
    assert set(HANDWRITTEN) == {*SAMPLING_ARITY, "function_choice", "mutable_layer"}
    for name in HANDWRITTEN:
        assert kind_of(name).handwritten is not None


def test_one_kind_per_module_and_its_test_file() -> None:
    modules = set(ANNOTATIONS.values()) | set(HANDWRITTEN.values())
    assert modules == {"_layers", "_variable", "_function_choice", "_plain_calls"}
    for module in modules:
        assert (ANNOTATOR / f"{module}.py").is_file()
        assert (Path(__file__).parent / f"test{module}.py").is_file()
    assert kind_of("mutable_layers") is kind_of("mutable_layer")
    assert kind_of("choice") is kind_of("variable")


def test_keyed_kinds_have_search_space_entries_and_plain_calls_none() -> None:
    for name in ("mutable_layers", "variable", "function_choice"):
        assert kind_of(name).entry is not None and kind_of(name).repeated
    for name in DESIGNED[4:]:
        assert kind_of(name).entry is None and not kind_of(name).repeated


@pytest.mark.parametrize("phase", PHASES)
def test_phases_do_not_name_a_kind(phase: str) -> None:
    text = (ANNOTATOR / phase).read_text(encoding="utf-8")
    assert not re.search(r"\b(LayerBlock|Variable|FunctionChoice|PlainCall)\b", text)
    assert not re.search(r"from nasctl\.annotator\.(_layers|_variable|_function_choice|_plain_calls) ", text)


def test_each_kind_is_all_in_its_module() -> None:
    for name, module in ANNOTATIONS.items():
        kind = kind_of(name)
        phases = [kind.read, kind.compile, kind.inline, kind.entry, kind.helper, kind.handwritten]
        assert {f.__module__ for f in phases if f is not None} == {f"nasctl.annotator.{module}"}
