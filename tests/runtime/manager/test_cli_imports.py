"""Reading commands stay light: `nasctl experiment list` loads neither the compiler nor jsonschema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nasctl.runtime.manager import Experiment

_LIST = ("import json, sys\nfrom nasctl.runtime.cli import main\nstatus = main(['experiment', 'list'])\n"
         "print(json.dumps([status, sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'yaml') "
         "or m.startswith('nasctl.annotator'))]))")


def test_experiment_list_imports_no_compiler_and_no_schema_validator(project: Path, nas_home: Path,
                                                                     helpers: Any) -> None:
    Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project)), id="light").create()
    result = subprocess.run([sys.executable, "-c", _LIST], capture_output=True, text=True,
                            env=dict(os.environ, NAS_HOME=str(nas_home)), check=True)
    status, heavy = json.loads(result.stdout.splitlines()[-1])
    assert "light" in result.stdout and status == 0
    assert heavy == []


def test_compile_options_still_check_their_values(helpers: Any) -> None:
    result = helpers.nasctl("compile", "x.py", "-o", "out", "--mode", "nope")
    assert result.returncode == 2
    assert "invalid choice: 'nope' (choose from 'classic'" in result.stderr
