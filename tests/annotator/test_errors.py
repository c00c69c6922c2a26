"""Malformed annotations: each is an AnnotationError naming the file, line and column, and what is wrong."""

from __future__ import annotations

import pytest

from nasctl import annotator

LAYER = "{layer_choice: [a()], fixed_inputs: [x], layer_output: h}"

CASES = [
    # (id, source, line, what the caret points at, message pattern)
    (
        "unknown layer key",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a()], layer_outptu: h})'''\n",
        2,
        "layer_outptu",
        r"unknown key 'layer_outptu' in layer spec; did you mean 'layer_output'\?",
    ),
    (
        "missing layer_choice",
        "x = 1\n'''@nas.mutable_layer({fixed_inputs: [x], layer_output: h})'''\n",
        2,
        "{",
        r"layer spec has no 'layer_choice'",
    ),
    (
        "missing layer_output",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a()]})'''\n",
        2,
        "{",
        r"layer spec has no 'layer_output'",
    ),
    (
        "candidate not a call",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a, b()], layer_output: h})'''\n",
        2,
        "a",
        r"candidate 'a' in layer_choice is not a call",
    ),
    (
        "input size too large",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a()], optional_inputs: [x], optional_input_size: 2, layer_output: h})'''\n",
        2,
        "2",
        r"optional_input_size 2 is larger than the number of optional inputs \(1\)",
    ),
    (
        "input size bad range",
        "x = y = 1\n'''@nas.mutable_layer({layer_choice: [a()], optional_inputs: [x, y], optional_input_size: [2, 1], layer_output: h})'''\n",
        2,
        "[",
        r"optional_input_size \[2, 1\] is not a range",
    ),
    (
        "input size negative",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a()], optional_inputs: [x], optional_input_size: -1, layer_output: h})'''\n",
        2,
        "-",
        r"optional_input_size -1 is negative",
    ),
    (
        "duplicate layer_output",
        f"x = 1\n'''@nas.mutable_layers({LAYER},\n    {LAYER})'''\n",
        3,
        "h",
        r"duplicate layer_output 'h'",
    ),
    (
        "input not defined",
        "def f(x):\n    '''@nas.mutable_layer({layer_choice: [a()], fixed_inputs: [x, skip], layer_output: h})'''\n    skip = 1\n",
        2,
        "skip",
        r"input 'skip' in fixed_inputs is not defined before this annotation",
    ),
    (
        "variable without name",
        "'''@nas.variable(nas.choice(1, 2))'''\nx = 1\n",
        1,
        "nas.variable(",
        r"variable needs name=\.\.\., the variable it sets",
    ),
    (
        "variable not followed by its assignment",
        "def f():\n    '''@nas.variable(nas.choice(1, 2), name=x)'''\n    y = 1\n",
        2,
        "'''@nas.variable(",
        r"must be followed by an assignment to 'x', but line 3 is 'y = 1'",
    ),
    (
        "variable at the end of its block",
        "def f():\n    x = 0\n    '''@nas.variable(nas.choice(1, 2), name=x)'''\nx = 1\n",
        3,
        "'''@nas.variable(",
        r"variable annotation for 'x' is not followed by its assignment",
    ),
    (
        "function_choice without name",
        "'''@nas.function_choice(f(x), g(x))'''\ny = f(x)\n",
        1,
        "nas.function_choice(",
        r"function_choice needs name=",
    ),
    (
        "function_choice target not called",
        "'''@nas.function_choice(f(x), g(x), name=f)'''\ny = g(x)\n",
        1,
        "'''@nas.function_choice(",
        r"the next statement \(line 2\) does not call f\(\.\.\.\)",
    ),
    (
        "function_choice called twice",
        "'''@nas.function_choice(f(x), g(x), name=f)'''\ny = f(x) + f(1)\n",
        1,
        "'''@nas.function_choice(",
        r"calls f\(\.\.\.\) 2 times",
    ),
    (
        "unknown annotation",
        "'''@nas.mutable_layer_s({})'''\n",
        1,
        "nas.mutable_layer_s(",
        r"unknown annotation '@nas.mutable_layer_s'; did you mean 'mutable_layers'\?",
    ),
    (
        "unknown sampling function",
        "# @nni.variable(nni.choise(1, 2), name=x)\nx = 1\n",
        1,
        "nni.choise(",
        r"unknown sampling function 'nni.choise'; did you mean 'choice'\?",
    ),
    (
        "syntax error in a string annotation",
        "'''@nas.variable(nas.choice(1, 2), name=)'''\nx = 1\n",
        1,
        ")",
        r"syntax error in annotation",
    ),
    (
        "syntax error in a comment annotation",
        "x = 1\n# @nas.report_final_result(x +)\n",
        2,
        ")",
        r"syntax error in annotation",
    ),
    (
        "unclosed comment annotation",
        "x = 1\n# @nas.report_final_result(\nprint(x)\n",
        2,
        "#",
        r"never closes its parentheses",
    ),
    (
        "sampling arguments not numbers",
        "'''@nas.variable(nas.uniform(0, high), name=x)'''\nx = 1\n",
        1,
        "high",
        r"arguments of uniform must be number literals, not 'high'",
    ),
    (
        "sampling wrong arity",
        "'''@nas.variable(nas.quniform(0, 1), name=x)'''\nx = 1\n",
        1,
        "nas.quniform(",
        r"quniform takes 3 numbers \(low, high, q\), got 2",
    ),
    (
        "sampling empty range",
        "'''@nas.variable(nas.uniform(1, 1), name=x)'''\nx = 1\n",
        1,
        "nas.uniform(",
        r"uniform needs low < high, got \[1, 1\]",
    ),
    (
        "duplicate choice option",
        "'''@nas.variable(nas.choice(1, 2, 1), name=x)'''\nx = 1\n",
        1,
        "1",
        r"duplicate option 1 in choice",
    ),
    (
        "report without value",
        "'''@nas.report_final_result()'''\n",
        1,
        "nas.report_final_result(",
        r"report_final_result takes exactly one argument",
    ),
    (
        "unknown keyword",
        "'''@nas.variable(nas.choice(1, 2), name=x, key=y)'''\nx = 1\n",
        1,
        "key",
        r"unknown argument 'key' of variable",
    ),
    (
        "layer spec not a dict",
        "x = 1\n'''@nas.mutable_layers([a()])'''\n",
        2,
        "[",
        r"a layer spec must be a dict",
    ),
    (
        "optional inputs without a size",
        "x = 1\n'''@nas.mutable_layer({layer_choice: [a()], optional_inputs: [x], layer_output: h})'''\n",
        2,
        "[",
        r"optional_inputs needs optional_input_size",
    ),
    (
        "comment annotation indented wrongly",
        "def f(x):\n    y = x\n        # @nas.report_final_result(y)\n    return y\n",
        3,
        "#",
        r"indented differently from the statements around it",
    ),
    (
        "comment annotation before else",
        "if a:\n    x = 1\n# @nas.report_final_result(1)\nelse:\n    x = 2\n",
        3,
        "#",
        r"cannot stand right before 'else:'",
    ),
    (
        "comment annotation between decorator and def",
        "@dec\n# @nas.report_final_result(1)\ndef f():\n    pass\n",
        2,
        "#",
        r"between a decorator and its definition",
    ),
    (
        "comment annotation inside an expression",
        "x = [\n    # @nas.report_final_result(1)\n    1]\n",
        2,
        "#",
        r"must stand between statements",
    ),
    (
        "same key defined differently",
        "'''@nas.variable(nas.choice(1, 2), name=x)'''\nx = 1\n\n# @nas.variable(nas.choice(1, 3), name=x)\nx = 2\n",
        4,
        "#",
        r"key 'm/x/choice' is defined here differently from line 1",
    ),
    (
        "two annotations rewrite the same code",
        "'''@nas.variable(nas.choice(1, 2), name=z)'''\n# @nas.function_choice(f(x), g(x), name=f)\nz = f(x)\n",
        2,
        "#",
        r"rewrites the same code as the annotation on line 1",
    ),
    (
        "comment annotation before except",
        "try:\n    x = 1\n# @nas.report_final_result(x)\nexcept E:\n    pass\n",
        3,
        "#",
        r"cannot stand right before 'except E:'",
    ),
    ("invalid python file", "def f(:\n    '''@nas.report_final_result(1)'''\n", 1, ":", r"invalid Python"),
]


@pytest.mark.parametrize(
    ("source", "line", "token", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_names_line_column_and_problem(source: str, line: int, token: str, pattern: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=pattern) as caught:
        annotator.compile_source(source, "m", path="m.py")
    error = caught.value
    assert (error.path, error.line) == ("m.py", line), error.render()
    column = error.column
    assert source.splitlines()[line - 1][column - 1 :].startswith(token), error.render()
    rendered = error.render()
    assert rendered.startswith(f"m.py:{line}:{column}: error: ")
    source_line, caret = rendered.splitlines()[1:3]
    assert source_line == source.splitlines()[line - 1]
    assert caret == " " * (column - 1) + "^"


def test_there_are_at_least_twenty_error_cases() -> None:
    assert len(CASES) >= 20


def test_error_position_inside_an_escaped_string_falls_back_to_its_start() -> None:
    source = "x = 1\n'''@nas.variable(nas.choise(1, 2), name=x)\\t'''\nx = 2\n"
    with pytest.raises(annotator.AnnotationError, match="unknown sampling function") as caught:
        annotator.compile_source(source, "m", path="m.py")
    assert (caught.value.line, caught.value.column) == (2, 1)


def test_bad_mode_and_key_style_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown NAS mode 'fast'"):
        annotator.compile_source("x = 1\n", "m", "fast")
    with pytest.raises(ValueError, match="unknown key_style 'line'"):
        annotator.compile_source("x = 1\n", "m", key_style="line")


@pytest.mark.parametrize(
    ("name", "canonical"), [("classic", "classic"), ("darts_mode", "darts"), (" ENAS_mode ", "enas")]
)
def test_normalize_mode(name: str, canonical: str) -> None:
    assert annotator.normalize_mode(name) == canonical


def test_verify_blames_the_annotation_whose_code_is_invalid() -> None:
    """`verify=True` re-parses the output; the parser's placement rules normally make that unnecessary."""
    from nasctl.annotator._codegen import compile_ir
    from nasctl.annotator._parse import parse_module

    source = "def f(x):\n    y = x\n    # @nas.report_final_result(y)\n    return y\n"
    ir = parse_module(source, "m", "m.py")
    assert compile_ir(ir, "classic", verify=True).count("_nas.report_final_result(y)") == 1
    ir.annotations[0].indent = "  "  # as if the placement check had missed a bad indentation
    with pytest.raises(
        annotator.AnnotationError, match=r"not valid Python here \(unindent does not match"
    ) as caught:
        compile_ir(ir, "classic", verify=True)
    assert (caught.value.line, caught.value.column) == (3, 5)


def test_error_position_in_a_crlf_file_is_exact() -> None:
    source = 'x = 1\r\n"""@nas.mutable_layers(\r\n    {layer_choice: [f()], layer_outptu: h})"""\r\n'
    with pytest.raises(annotator.AnnotationError, match="unknown key 'layer_outptu'") as caught:
        annotator.compile_source(source, "m", path="m.py")
    assert (caught.value.line, caught.value.column) == (3, 27)
