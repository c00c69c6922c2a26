"""NNI's annotation test case (v2.10 `test/ut/tools/annotation`): `--key-style nni` gives NNI's search
space, with labels compared as parsed expressions (NNI prints them with a pretty-printer)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from nasctl import annotator

FIXTURE = Path(__file__).parent / "fixtures" / "nni_v2_10"


def _expression(label: Any) -> Any:
    """A label as a parsed expression when it is source text, else the value itself."""
    if isinstance(label, str):
        try:
            return ("expr", ast.dump(ast.parse(label, mode="eval")))
        except SyntaxError:
            return ("text", label)
    return ("value", label)


def _normalized(space: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, entry in space.items():
        if entry["_type"] == "mutable_layer":
            out[key] = {
                layer: {**spec, "layer_choice": [_expression(c) for c in spec["layer_choice"]]}
                for layer, spec in entry["_value"].items()
            }
        elif entry["_type"] == "choice":
            out[key] = ("choice", [(type(v).__name__, _expression(v)) for v in entry["_value"]])
        else:
            out[key] = (entry["_type"], entry["_value"])
    return out


def test_search_space_is_nnis(tmp_path: Path) -> None:
    expected = json.loads((FIXTURE / "search_space.json").read_text(encoding="utf-8"))
    space = annotator.generate_search_space(FIXTURE / "usercode", key_style="nni")
    assert sorted(space) == sorted(expected)
    assert _normalized(space) == _normalized(expected)
    # the CLI writes the same
    out = tmp_path / "space.json"
    subprocess.run(
        [sys.executable, "-m", "nasctl.runtime.cli", "search-space", str(FIXTURE / "usercode"), "--key-style", "nni",
         "-o", str(out)],
        check=True,
        capture_output=True,
    )
    assert _normalized(json.loads(out.read_text(encoding="utf-8"))) == _normalized(expected)


def test_comparison_is_not_vacuous() -> None:
    expected = json.loads((FIXTURE / "search_space.json").read_text(encoding="utf-8"))
    changed = json.loads(json.dumps(expected))
    changed["dir.simple/abc/choice"]["_value"][0] = "'2'"  # the source text, where NNI writes the value
    assert _normalized(changed) != _normalized(expected)


def test_block_key_is_the_annotations_last_line() -> None:
    text = (FIXTURE / "usercode" / "nas.py").read_text(encoding="utf-8")
    last = next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == '})"""')
    result = annotator.compile_source(text, "nas", key_style="nni")
    assert list(result.search_space) == [f"nas/mutable_block_{last}"] == ["nas/mutable_block_39"]


def test_choice_labels_literals_by_value_others_by_text() -> None:
    source = '"""@nni.variable(nni.choice(\'2\', 3, 5*6), name=abc)"""\nabc = 5\n'
    nni = annotator.compile_source(source, "m", key_style="nni")
    assert nni.search_space["m/abc/choice"]["_value"] == ["2", 3, "5*6"]
    assert 'labels=["2", 3, "5*6"]' in nni.code
    stable = annotator.compile_source(source, "m")
    assert stable.search_space["m/abc/choice"]["_value"] == ["'2'", "3", "5*6"]


def test_codegen_of_nnis_choice_labels(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text('"""@nni.variable(nni.choice(\'2\', 3, 5*6), name=abc)"""\nabc = 5\n', encoding="utf-8")
    for index, (value, code) in enumerate((("2", "abc = '2'"), (3, "abc = 3"), ("(5 * 6)", "abc = 5*6"))):
        out = tmp_path / f"out{index}"
        annotator.inline_architecture(src, out, {"m/abc/choice": value}, key_style="nni")
        assert out.read_text(encoding="utf-8").splitlines()[0] == code
