"""Source without annotations passes through unchanged; so does every byte outside the annotations."""

from __future__ import annotations

import ast
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasctl import annotator

_STATEMENTS = st.sampled_from(
    [
        "x = 1",
        "y = 'a # not a comment'",
        "# nas. mentioned in a comment",
        'doc = """@nas.variable is only text here"""',
        "def f(a, b=2):\n    return a + b",
        "class C:\n    z = [1,\n         2]",
        "import nas\nnas.report_final_result(1)",
        "if x:\n    pass\nelse:\n    x = 2",
        "value = {'k': (1, 2)}  # trailing",
        "",
        "\t",
        "s = r'\\n'",
    ]
)


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_STATEMENTS, min_size=0, max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    return text


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_programs_without_annotations_pass_through(source: str) -> None:
    ast.parse(source)
    result = annotator.compile_source(source, "m")
    assert result.code == source
    assert result.search_space == {}


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(alphabet=string.printable + "äπ“”", max_size=200))
def test_arbitrary_text_without_annotation_markers_is_not_even_parsed(text: str) -> None:
    text = text.replace("nas.", "").replace("nni.", "")
    result = annotator.compile_source(text, "m")
    assert result.code == text


@settings(max_examples=100, deadline=None, database=None)
@given(programs(), programs(), st.sampled_from(["\n", "\r\n"]))
def test_bytes_around_an_annotation_are_kept(before: str, after: str, newline: str) -> None:
    before = before.replace("\r\n", "\n").replace("\n", newline)
    after = after.replace("\r\n", "\n").replace("\n", newline)
    if before and not before.endswith(newline):
        before += newline
    source = before + "'''@nas.report_final_result(1)'''" + newline + after
    result = annotator.compile_source(source, "m")
    assert _without_import(result.code, source, newline) == _blank_lines_emptied(
        before + "_nas.report_final_result(1)" + newline + after
    )


def _without_import(code: str, source: str, newline: str) -> str:
    """`code` without the import, wherever the compiler placed it (on a line of its own only when
    the module starts with a compound statement; else joined to a line or in a blank one)."""
    if code.count(newline) == source.count(newline) + 1:
        return _blank_lines_emptied(code.replace("import nas as _nas" + newline, "", 1))
    assert code.count(newline) == source.count(newline)
    for placement in ("import nas as _nas; ", "; import nas as _nas", "import nas as _nas  ", "import nas as _nas"):
        if placement in code:
            return _blank_lines_emptied(code.replace(placement, "", 1))
    raise AssertionError("no import")


def _blank_lines_emptied(code: str) -> str:
    return "".join(line if line.strip() else line.lstrip(" \t\f") for line in code.splitlines(keepends=True))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_endings_are_kept(newline: str) -> None:
    source = newline.join(["x = 1", "# @nas.variable(nas.choice(1, 2),", "#     name=x)", "x = 2", ""])
    result = annotator.compile_source(source, "m")
    assert result.code == newline.join(
        ["import nas as _nas; x = 1", "", "", 'x = _nas.choice(1, 2, key="m/x/choice")', ""]
    )
