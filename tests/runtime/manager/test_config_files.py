"""Config files a user (or an attacker) may write: each is one clear error, never a traceback or a hang."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.cli import main
from nasctl.runtime.errors import ConfigError, NasError
from nasctl.runtime.manager import load_config
from nasctl.runtime.manager._experiment import Experiment
from nasctl.runtime.manager._storage import Storage

BASE = "trialCommand: python3 t.py\nsearchSpace: {x: {_type: choice, _value: [1, 2]}}\ntuner: {name: Random}\n"


def _file(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "exp.yml"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_duplicate_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = _file(tmp_path, BASE + "tuner: {name: TPE}\n")
    with pytest.raises(ConfigError, match=r"exp.yml:4: duplicate key 'tuner' \(first given at line 3\)"):
        load_config(path)


def test_duplicate_nested_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exp.yml:4: duplicate key 'tuner.name' \(first given at line 3\)"):
        load_config(_file(tmp_path, BASE.replace("{name: Random}", "{name: Random,\n  name: TPE}")))


@pytest.mark.parametrize("value", [".nan", ".inf", ".NaN", ".Inf"])
def test_non_finite_durations_are_refused(tmp_path: Path, value: str) -> None:
    for key in ("maxTrialDuration", "maxExperimentDuration"):
        with pytest.raises(ConfigError, match=rf"exp.yml:4, key '{key}': a duration must be a finite number"):
            load_config(_file(tmp_path, BASE + f"{key}: {value}\n"))


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    path = _file(tmp_path, BASE + "\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError, match="expands to more than 1000000 values"):
        load_config(path)


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exp.yml:4: not UTF-8 text \(byte 0xe9\)"):
        load_config(_file(tmp_path, BASE.encode() + b"experimentName: caf\xe9\n"))


@pytest.mark.parametrize("depth", [100, 20000])
def test_deeply_nested_document_is_refused(tmp_path: Path, depth: int) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(_file(tmp_path, BASE + "searchSpaceX: " + "[" * depth + "]" * depth + "\n"))


@pytest.fixture
def finished(project: Path, nas_home: Path, helpers: Any) -> str:
    config = helpers.base_config(project, maxTrialNumber=1)
    Experiment.from_yaml(helpers.write_config(project, config), id="done1").run()
    return "done1"


@pytest.mark.parametrize("target, message", [
    ("missing/out.json", r"missing does not exist"),
    ("afile/out.json", r"afile is not a folder"),
    (".", r"is a folder, expected a file name"),
])
def test_export_output_path_problems_are_one_line(finished: str, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  target: str, message: str) -> None:
    (tmp_path / "afile").write_text("")
    assert main(["experiment", "export", finished, "-o", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err


def test_a_full_disk_is_one_line_exit_1_and_the_experiment_is_not_left_running(
        project: Path, nas_home: Path, helpers: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Storage, "finish_trial", full)
    path = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2))
    assert main(["run", str(path), "--id", "full1", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no space left on the disk") and "Traceback" not in "\n".join(err)
    assert Experiment.load("full1").status == "FAILED"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_experiment_folder_is_one_line(finished: str, nas_home: Path, helpers: Any) -> None:
    folder = nas_home / finished
    modes = {path: path.stat().st_mode for path in [folder, *folder.iterdir()]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = helpers.nasctl("resume", finished)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


@pytest.mark.parametrize("data, message", [(b'{"x": "caf\xe9"}', "not UTF-8 text"),
                                           (b"[" * 100000 + b"]" * 100000, "nested too deeply")])
def test_a_search_space_file_that_cannot_be_read_is_one_error(project: Path, nas_home: Path, helpers: Any,
                                                              data: bytes, message: str) -> None:
    (project / "space.json").write_bytes(data)
    path = helpers.write_config(project, helpers.base_config(project))
    with pytest.raises(NasError, match=message):
        Experiment.from_yaml(path).create()
    assert not any(nas_home.iterdir())


def test_compile_output_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "t.py").write_text("'''@nas.report_final_result(1)'''\n")
    (tmp_path / "afile").write_text("")
    assert main(["compile", str(tmp_path / "t.py"), "-o", str(tmp_path / "afile" / "out.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "a file stands where a folder is needed" in err[0]
