"""Reading an annotation's text with libcst: exact source texts, matching by meaning, syntax errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasctl import annotator

CANDIDATES = [
    "ops.conv(size=3, ch=c)",
    "ops.conv( size = 5 ,ch=c , )",
    "ops . pool (3)",
    "ops.pool(*sizes, **options)",
    "ops.mix(ops.relu(), alpha=-1.5, mode='a' \"b\")",
    "ops.conv(size=3,  # the small one\n            ch=c)",
    "ops.wrap((x), [1, 2])",
]


def test_labels_are_the_candidates_exactly_as_written() -> None:
    choices = ",\n        ".join(CANDIDATES)
    source = (
        "def f(x, c, sizes, options):\n"
        f'    """@nas.mutable_layer({{layer_choice: [{choices}], layer_output: h}})"""\n'
        "    return h\n"
    )
    result = annotator.compile_source(source, "m")
    layer = result.search_space["m/f/h"]["_value"]["h"]
    assert layer["layer_choice"] == CANDIDATES


_SPACE = st.sampled_from(["", " ", "  ", "\n            "])
_ATOM = st.sampled_from(["x", "3", "-1.5", "'a'", '"b"', "None", "ops.k", "[1, 2]", "f(x)"])


@st.composite
def _calls(draw: st.DrawFn, depth: int = 0) -> str:
    """A call as a person might lay it out: dotted callee, positional and keyword arguments, nested calls,
    spaces and line breaks around every token, a trailing comma."""
    space = lambda: draw(_SPACE)  # noqa: E731
    callee = draw(st.sampled_from(["f", "ops.conv", "ops . pool", "a.b.c"]))
    values = st.one_of(_ATOM, _calls(depth + 1)) if depth < 2 else _ATOM
    args = [draw(values) for _ in range(draw(st.integers(0, 3)))]
    names = draw(st.lists(st.sampled_from(["size", "ch", "mode"]), max_size=2, unique=True))
    parts = [f"{space()}{arg}{space()}" for arg in args]
    parts += [f"{space()}{name}{space()}={space()}{draw(values)}{space()}" for name in names]
    trailing = "," if parts and draw(st.booleans()) else ""
    return f"{callee}{space()}({','.join(parts)}{trailing}{space()})"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_calls())
def test_any_layout_of_a_candidate_is_its_label(candidate: str) -> None:
    source = f'def f(x):\n    """@nas.mutable_layer({{layer_choice: [{candidate}], layer_output: h}})"""\n    return h\n'
    result = annotator.compile_source(source, "m")
    assert result.search_space["m/f/h"]["_value"]["h"]["layer_choice"] == [candidate]


def test_parentheses_around_a_candidate_or_an_input_are_not_part_of_its_label(h) -> None:
    result = h.compile(
        """
        def f(x):
            '''@nas.mutable_layer({layer_choice: [(a()), (b( 1 ))], optional_inputs: [(x)], optional_input_size: 1, layer_output: h})'''
            return h
        """
    )
    layer = result.search_space["m/f/h"]["_value"]["h"]
    assert layer["layer_choice"] == ["a()", "b( 1 )"]
    assert layer["optional_inputs"] == ["x"]


def test_choice_options_keep_their_text_and_read_their_value(h) -> None:
    result = h.compile(
        """
        '''@nas.variable(nas.choice((1), 'a' 'b', -2), name=x)'''
        x = 1
        """
    )
    assert result.search_space["m/x/choice"]["_value"] == [1, "ab", -2]
    assert "x = _nas.choice(1, 'a' 'b', -2, key=\"m/x/choice\")" in result.code


def test_target_is_matched_by_meaning_not_by_spelling(h) -> None:
    result = h.compile(
        """
        args = {}
        '''@nas.variable(nas.choice(1, 2), name=args[ 'k' ])'''
        args["k"] = 1
        '''@nas.function_choice(f(x), g(x), name=ops.f)'''
        y = ( ops . f )(x)
        """
    )
    assert 'args["k"] = _nas.choice(1, 2, key="m/args[ \'k\' ]/choice")' in result.code
    assert (
        'y = _nas.function_choice({"f(x)": lambda: f(x), "g(x)": lambda: g(x)}, key="m/ops.f/function_choice")'
        in (result.code)
    )


def test_a_different_subscript_is_not_the_target(h) -> None:
    with pytest.raises(
        annotator.AnnotationError, match=r"must be followed by an assignment to 'args\['k'\]'"
    ):
        h.compile(
            """
            '''@nas.variable(nas.choice(1, 2), name=args['k'])'''
            args['j'] = 1
            """
        )


def test_nni_keys_spell_names_the_canonical_way(h) -> None:
    result = h.compile(
        """
        '''@nni.variable(nni.choice(1, 2), name=self . args[ "lr" ])'''
        self.args["lr"] = 1
        """,
        key_style="nni",
    )
    assert list(result.search_space) == ["m/self.args['lr']/choice"]


def test_trailing_comment_and_blank_line_inside_the_string_are_fine(h) -> None:
    result = h.compile(
        """
        x = 1
        '''@nas.report_final_result(x)  # the accuracy
        '''
        """
    )
    assert h.body(result.code) == "x = 1\n_nas.report_final_result(x)\n\n"


@pytest.mark.parametrize(
    ("source", "column", "pattern"),
    [
        (
            "'''@nas.report_final_result(x); y = 2'''\n",
            33,
            r"an annotation is one call; this one goes on after it",
        ),
        (
            "'''@nas.report_final_result('abc)'''\n",
            29,
            r"syntax error in annotation: unterminated string literal",
        ),
        ("'''@nas.report_final_result(x'''\n", 28, r"syntax error in annotation: '\(' was never closed"),
        ("'''@nas.report_final_result(x $)'''\n", 31, r"syntax error in annotation: invalid syntax"),
        ("'''@nas.report_final_result(x) + 1'''\n", 1, r"an annotation must be a call such as @nas.variable"),
    ],
)
def test_syntax_errors_point_at_the_problem(source: str, column: int, pattern: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=pattern) as caught:
        annotator.compile_source(source, "m", path="m.py")
    assert (caught.value.line, caught.value.column) == (1, column), caught.value.render()


def test_libcst_is_imported_only_for_files_with_annotations() -> None:
    code = (
        "import sys, nasctl.annotator\n"
        "nasctl.annotator.compile_source('x = 1\\n', 'm')\n"
        "print('libcst' in sys.modules)\n"
        "nasctl.annotator.compile_source(\"'''@nas.report_final_result(1)'''\\n\", 'm')\n"
        "print('libcst' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
