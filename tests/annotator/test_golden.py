"""Whole programs: each golden folder's `input.py` compiles to its `expected.py` and `search_space.json`.

After an intended change, rewrite them with `tests/annotator/regenerate.py` and review the diff.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from nasctl import annotator, schemas

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
FOLDERS = sorted(path for path in GOLDEN.iterdir() if path.is_dir())


def _compile(folder: Path) -> annotator.CompileResult:
    options_file = folder / "options.json"
    options = json.loads(options_file.read_text(encoding="utf-8")) if options_file.exists() else {}
    return annotator.compile_source(
        (folder / "input.py").read_bytes().decode("utf-8"),
        folder.name,
        options.get("mode", "classic"),
        path=str(folder / "input.py"),
        key_style=options.get("key_style", "stable"),
    )


def test_there_are_golden_folders() -> None:
    assert len(FOLDERS) >= 3


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_golden_code_is_byte_for_byte(folder: Path) -> None:
    result = _compile(folder)
    assert result.code.encode("utf-8") == (folder / "expected.py").read_bytes(), (
        f"{folder.name}: run tests/annotator/regenerate.py and review the diff"
    )
    ast.parse(result.code)


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_golden_search_space(folder: Path) -> None:
    result = _compile(folder)
    expected = json.loads((folder / "search_space.json").read_text(encoding="utf-8"))
    assert result.search_space == expected
    assert list(result.search_space) == list(expected)
    schemas.validate("search_space", result.search_space)


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_search_space_of_compiled_code_is_the_same(folder: Path) -> None:
    """The compiled calls are found again as hand-written ones: no information is lost."""
    result = _compile(folder)
    again = annotator.compile_source(result.code, folder.name)
    assert again.code == result.code
    assert again.search_space == result.search_space


def test_odd_formatting_changes_only_annotation_lines() -> None:
    folder = GOLDEN / "odd_formatting"
    source = (folder / "input.py").read_text(encoding="utf-8").splitlines(keepends=True)
    compiled = _compile(folder).code.replace("; import nas as _nas", "").splitlines(keepends=True)
    kept = [line for line in source if "@nas." not in line and "@nni." not in line]
    # Every line without an annotation survives unchanged and in order, except the targets rewritten.
    targets = {"\ty  =  x\n", "seed = 0 # two spaces missing\n"}
    iterator = iter(compiled)
    for line in kept:
        if line in targets or line.lstrip().startswith(("op(k=2)", "fixed_inputs: [v]")):
            continue
        assert any(candidate == line for candidate in iterator), f"line changed or lost: {line!r}"
