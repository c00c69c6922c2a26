"""Compiled code keeps every line number, so a traceback of a compiled trial shows the user's line."""

from __future__ import annotations

import ast
import traceback
from pathlib import Path

import pytest
from nasctl.annotator._parse import parse_module

from nasctl import annotator

GOLDEN = Path(__file__).parent / "fixtures" / "golden"

SOURCES = {
    "layers_over_many_lines": '''
import torch


class Net:
    def forward(self, x, skip):
        """@nas.mutable_layers(
            {
                layer_choice: [conv(size=3), conv(size=5)],
                fixed_inputs: [x],
                optional_inputs: [skip],
                optional_input_size: [0, 1],
                layer_output: h1
            },
            {layer_choice: [relu(), tanh()], fixed_inputs: [h1], layer_output: h2}
        )"""
        return h2
''',
    "more_layers_than_lines": '''import os
def f(x):
    """@nas.mutable_layers({layer_choice: [a()], fixed_inputs: [x], layer_output: h1}, {layer_choice: [b()], fixed_inputs: [h1], layer_output: h2}, {layer_choice: [c()], fixed_inputs: [h2], layer_output: h3})"""
    return h3
''',
    "multi_line_option_and_target": """x = 0
# @nas.variable(nas.choice(dict(a=1,
#                               b=2), 3),
#               name=y)
y = compute(
    x)  # the target spans two lines
# @nas.function_choice(relu(y), tanh(
#     y), name=relu)
z = relu(y)
print(z)
""",
    "comment_layer_and_reports": """'''The docstring.'''
from __future__ import annotations
def train(x):
    # @nas.mutable_layer({
    #     layer_choice: [a(k=1), a(k=2)],
    #     fixed_inputs: [x],
    #     layer_output: h})
    '''@nas.report_intermediate_result(
        h)'''
    '''@nas.report_final_result(h)'''; y = 1
    return y
""",
}


def _cases() -> dict[str, str]:
    cases = dict(SOURCES)
    for folder in sorted(GOLDEN.iterdir()):
        cases[f"golden_{folder.name}"] = (folder / "input.py").read_text(encoding="utf-8")
    return cases


def _touched_lines(source: str) -> set[int]:
    """Lines (1-based) an annotation or its rewritten target covers."""
    ir = parse_module(source, "m", "m.py", "stable")
    touched: set[int] = set()
    for annotation in ir.annotations:
        for region in (annotation.region, getattr(annotation, "target", None)):
            if region is not None:
                first = source.count("\n", 0, region.start) + 1
                touched.update(range(first, source.count("\n", 0, max(region.end - 1, region.start)) + 2))
    return touched


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("mode", ["classic", "darts"])
def test_every_line_keeps_its_number(name: str, mode: str) -> None:
    source = _cases()[name]
    code = annotator.compile_source(source, "m", mode).code
    ast.parse(code)
    assert code.count("\n") == source.count("\n")
    source_lines, code_lines = source.splitlines(), code.splitlines()
    touched = _touched_lines(source)
    changed = [number for number, (before, after) in enumerate(zip(source_lines, code_lines, strict=True), 1)
               if before != after and number not in touched and "import nas as _nas" not in after]
    assert changed == []


def test_a_traceback_points_at_the_users_line(tmp_path: Path) -> None:
    source = SOURCES["layers_over_many_lines"] + "\n\ndef main():\n    raise ValueError('here')\n\n\nmain()\n"
    path = tmp_path / "trial.py"
    code = annotator.compile_source(source, "trial").code
    with pytest.raises(ValueError) as caught:
        exec(compile(code, str(path), "exec"), {"__name__": "__main__"})
    frames = traceback.extract_tb(caught.value.__traceback__)[1:]
    lines = source.splitlines()
    assert [(frame.lineno, lines[frame.lineno - 1].strip()) for frame in frames] == [
        (len(lines), "main()"), (len(lines) - 3, "raise ValueError('here')")]


def test_only_a_compound_statement_on_the_first_line_costs_a_line() -> None:
    source = "def f(x):\n    '''@nas.report_final_result(x)'''\n"
    code = annotator.compile_source(source, "m").code
    assert code == "import nas as _nas\ndef f(x):\n    _nas.report_final_result(x)\n"


@pytest.mark.parametrize("head", ["# a comment\n", "#!/usr/bin/env python\n# the model\n"])
def test_a_comment_above_a_first_def_takes_the_import(head: str) -> None:
    source = head + "@decorated\ndef f(x):\n    '''@nas.report_final_result(x)'''\n"
    code = annotator.compile_source(source, "m").code
    assert code.count("\n") == source.count("\n")
    *kept, comment = head.splitlines()
    assert code.splitlines()[: len(kept) + 1] == [*kept, f"import nas as _nas  {comment}"]
