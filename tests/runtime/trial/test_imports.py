"""`nasctl trial run SCRIPT` compiles the script and what it imports from its folder, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from nasctl.runtime.cli import main
from nasctl.runtime.trial._imports import local_modules

BROKEN = "'''@nas.report_final_result(1)'''\ndef broken(:\n"


def _tree(root: Path) -> None:
    files = {
        "trial.py": "import os\nimport ops\nfrom pkg import sub\nfrom pkg.deep import leaf as _\n"
                    "x = 0.5\n# @nas.variable(nas.choice(1, 2), name=k)\nk = 1\n"
                    "'''@nas.report_final_result(ops.scale(x) * k + sub.ONE)'''\n",
        "ops.py": "def scale(v):\n    # @nas.variable(nas.choice(2.0, 3.0), name=f)\n    f = 2.0\n    return v * f\n",
        "pkg/__init__.py": "",
        "pkg/sub.py": "from . import helper\nONE = helper.ONE\n",
        "pkg/helper.py": "ONE = 1\n",
        "pkg/deep/__init__.py": "",
        "pkg/deep/leaf.py": "'''@nas.report_intermediate_result(0)'''\n",
        "old_copy.py": BROKEN,  # an unrelated broken copy next to the script
        "venv/pyvenv.cfg": "home = /usr/bin\n",
        "venv/lib/python3.11/site-packages/bad.py": BROKEN,
        ".cache/stale.py": BROKEN,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_local_modules_follows_imports_and_nothing_else(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert [str(path) for path in local_modules(tmp_path / "trial.py", tmp_path)] == [
        "trial.py", "ops.py", "pkg/__init__.py", "pkg/sub.py", "pkg/deep/__init__.py", "pkg/deep/leaf.py",
        "pkg/helper.py"]


def test_trial_run_ignores_unrelated_broken_files_and_says_what_it_compiled(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    _tree(tmp_path)
    assert main(["trial", "run", str(tmp_path / "trial.py")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] in {f"final result: {0.5 * f * k + 1}" for f in (2.0, 3.0) for k in (1, 2)}
    assert f"compiled trial.py, ops.py, pkg/deep/leaf.py (the script and the annotated modules it imports from " \
           f"{tmp_path})" in captured.err
