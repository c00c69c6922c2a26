"""What `import nas` costs a trial: only the modules a trial calls into, loaded when first called."""

from __future__ import annotations

import json
import subprocess
import sys

# Modules a trivial trial (get_next_parameter, report_final_result) never needs.
HEAVY = ("inspect", "dataclasses", "pathlib", "random", "ast", "tempfile", "shutil", "jsonschema", "yaml",
         "nasctl.annotator", "nasctl.runtime.modes", "nasctl.runtime.manager", "nasctl.runtime.trial._runner",
         "nasctl.schemas", "numpy", "torch", "tensorflow")


def _new_modules(code: str) -> set[str]:
    # Only what `code` adds counts: the interpreter's start (site, an editable install's finder) is
    # the same for a bare `python -c pass`.
    script = f"import sys, json\nbefore = set(sys.modules)\n{code}\nprint(json.dumps(sorted(set(sys.modules) - before)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_import_nas_loads_nothing_until_used() -> None:
    assert _new_modules("import nas") <= {"nas"}


def test_the_trial_api_loads_only_the_context_platform_and_channel() -> None:
    modules = _new_modules("import nas\nnas.get_next_parameter, nas.report_final_result, nas.choice")
    assert _heavy(modules) == []
    assert {"nasctl.runtime.trial._context", "nasctl.runtime.trial._channel"} <= modules


def test_a_layer_still_finds_its_mode_backend() -> None:
    modules = _new_modules("import nas\nnas.mutable_layer('b', 'l', {'id': (lambda inputs: 1, (), {})}, [], {}, 0)")
    assert "nasctl.runtime.modes._registry" in modules


def test_a_trivial_trial_in_an_experiment_loads_no_heavy_module(tmp_path) -> None:
    import os

    # The trial's context as an experiment makes it (NAS_MODE set), up to its first request.
    env = dict(os.environ, NAS_PLATFORM="local", NAS_TRIAL_ID="t", NAS_CHANNEL=f"unix:{tmp_path}/none.sock",
               NAS_TOKEN="x", NAS_MODE="classic", NAS_MODE_CONFIG="{}")
    script = ("import sys, json\nbefore = set(sys.modules)\nimport nas\n"
              "from nasctl.runtime.trial import current_context\ncurrent_context()\n"
              "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    assert _heavy(set(json.loads(out))) == []
