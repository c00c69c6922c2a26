"""A trial's traceback shows the user's lines: right line numbers, nasctl's frames hidden unless NAS_DEBUG=1."""

from __future__ import annotations

from pathlib import Path

import nasctl.runtime
import pytest
from nasctl.runtime.manager._local import stderr_tail
from nasctl.runtime.trial._runner import run_script

SCRIPT = '''import sys


def relu(inputs):
    fixed, chosen = inputs
    return fixed[0] / 0


def main():
    x = 1.0
    """@nas.mutable_layers(
        {
            layer_choice: [relu()],
            fixed_inputs: [x],
            layer_output: h
        }
    )"""
    """@nas.report_final_result(h)"""


main()
'''


def test_a_script_error_shows_the_users_lines_without_nasctl_frames(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    script = tmp_path / "trial.py"
    script.write_text(SCRIPT)
    assert run_script(script) == 1
    err = capsys.readouterr().err
    assert f'File "{script}", line 21, in <module>\n    main()' in err
    assert f'File "{script}", line 11, in main\n    """@nas.mutable_layers(' in err
    assert f'File "{script}", line 6, in relu\n    return fixed[0] / 0' in err
    assert "nasctl frames hidden; NAS_DEBUG=1 shows them" in err
    assert str(Path(nasctl.runtime.__file__).parent) not in err
    assert err.rstrip().endswith("ZeroDivisionError: float division by zero")


def test_nas_debug_keeps_nasctl_frames(tmp_path: Path, capsys: pytest.CaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_DEBUG", "1")
    script = tmp_path / "trial.py"
    script.write_text(SCRIPT)
    assert run_script(script) == 1
    err = capsys.readouterr().err
    assert str(Path(nasctl.runtime.__file__).parent) in err and "hidden" not in err


def test_the_stored_stderr_tail_hides_nasctl_frames(tmp_path: Path) -> None:
    own = Path(nasctl.runtime.__file__).parent / "trial" / "_context.py"
    (tmp_path / "stderr").write_text(
        "Traceback (most recent call last):\n"
        f'  File "{tmp_path}/trial.py", line 9, in forward\n    h = _nas.mutable_layer("k", "h", {{}})\n'
        f'  File "{own}", line 120, in mutable_layer\n    return call(candidates, fixed, optional)\n'
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        f'  File "{own}", line 140, in call\n    return callee(x)\n'
        f'  File "{tmp_path}/ops.py", line 3, in conv\n    raise ValueError("bad size")\n'
        "ValueError: bad size\n")
    assert stderr_tail(tmp_path) == (
        "Traceback (most recent call last):\n"
        f'  File "{tmp_path}/trial.py", line 9, in forward\n    h = _nas.mutable_layer("k", "h", {{}})\n'
        "  (2 nasctl frames hidden; NAS_DEBUG=1 shows them)\n"
        f'  File "{tmp_path}/ops.py", line 3, in conv\n    raise ValueError("bad size")\n'
        "ValueError: bad size")
