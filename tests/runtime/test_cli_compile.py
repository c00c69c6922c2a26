"""`nasctl compile` and `nasctl search-space`: output, compiler-style errors, exit status 2, nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nasctl.runtime.cli import main

from nasctl import schemas

GOOD = "x = 1\n# @nas.variable(nas.choice(1, 2), name=x)\nx = 2\n'''@nas.report_final_result(x)'''\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_compile_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "train.py", GOOD)
    assert main(["compile", str(src), "-o", str(tmp_path / "out.py"), "--mode", "darts_mode"]) == 0
    assert (tmp_path / "out.py").read_text(encoding="utf-8") == (
        'import nas as _nas; x = 1\n\nx = _nas.choice(1, 2, key="train/x/choice")\n_nas.report_final_result(x)\n'
    )
    assert "1 search-space entries" in capsys.readouterr().err


def test_compile_a_directory_with_its_search_space(tmp_path: Path) -> None:
    write(tmp_path / "src" / "train.py", GOOD)
    write(tmp_path / "src" / "data" / "notes.txt", "hello")
    space_file = tmp_path / "space.json"
    status = main(
        [
            "compile",
            str(tmp_path / "src"),
            "-o",
            str(tmp_path / "dst"),
            "--key-style",
            "nni",
            "--search-space",
            str(space_file),
        ]
    )
    assert status == 0
    assert (tmp_path / "dst" / "data" / "notes.txt").read_text(encoding="utf-8") == "hello"
    space = json.loads(space_file.read_text(encoding="utf-8"))
    assert space == {"train/x/choice": {"_type": "choice", "_value": [1, 2]}}
    schemas.validate("search_space", space)


def test_search_space_to_stdout_and_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "train.py", GOOD)
    assert main(["search-space", str(src)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"train/x/choice": {"_type": "choice", "_value": [1, 2]}}
    assert main(["search-space", str(src), "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8")) == printed


def test_errors_are_printed_like_a_compiler_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "src" / "good.py", GOOD)
    bad_one = write(
        tmp_path / "src" / "a.py",
        "x = 1\n'''@nas.mutable_layers({layer_choice: [f()], layer_outptu: h})'''\n",
    )
    bad_two = write(tmp_path / "src" / "b.py", "# @nas.variable(nas.choise(1, 2), name=y)\ny = 1\n")
    status = main(["compile", str(tmp_path / "src"), "-o", str(tmp_path / "dst")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{bad_one}:2:46: error: unknown key 'layer_outptu' in layer spec; did you mean 'layer_output'?",
        "'''@nas.mutable_layers({layer_choice: [f()], layer_outptu: h})'''",
        " " * 45 + "^",
        f"{bad_two}:1:17: error: unknown sampling function 'nas.choise'; did you mean 'choice'?",
        "# @nas.variable(nas.choise(1, 2), name=y)",
        " " * 16 + "^",
        "2 errors in 2 files",
    ]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_search_space_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "bad.py", "'''@nas.variable(nas.choice(1, 2), name=x)'''\ny = 1\n")
    assert main(["search-space", str(src), "-o", str(tmp_path / "s.json")]) == 2
    assert (
        "bad.py:1:1: error: variable annotation for 'x' must be followed by an assignment"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "s.json").exists()


def test_missing_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(tmp_path / "nope.py"), "-o", str(tmp_path / "out.py")]) == 2
    assert "nope.py: error: no such file or directory" in capsys.readouterr().err


def test_unknown_mode_is_refused_by_the_parser(tmp_path: Path) -> None:
    src = write(tmp_path / "train.py", GOOD)
    with pytest.raises(SystemExit) as caught:
        main(["compile", str(src), "-o", str(tmp_path / "out.py"), "--mode", "fast"])
    assert caught.value.code == 2


def test_console_script_entry_point(tmp_path: Path) -> None:
    src = write(tmp_path / "bad.py", "'''@nas.mutable_layer_s({})'''\n")
    done = subprocess.run(
        [sys.executable, "-m", "nasctl.runtime.cli", "search-space", str(src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"{src}:1:5: error: unknown annotation '@nas.mutable_layer_s'")
    assert done.stdout == ""
