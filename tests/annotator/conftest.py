"""Shared helpers for the compiler's tests: compile dedented source, run compiled code on a fake runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from nasctl.annotator._inline import inline_ir
from nasctl.annotator._parse import parse_module

from nasctl import annotator

FIXTURES = Path(__file__).parent / "fixtures"

# A stand-in for `import nas as _nas` that records each call and answers with the first option, so
# that compiled code can be executed without the real runtime (the contract is docs/internals.md).
FAKE_NAS = """
import json
CALLS = []

def _record(name, *args, **kwargs):
    CALLS.append([name, [repr(a) for a in args], sorted(kwargs)])

def mutable_layer(block, layer, candidates, fixed, optional, size, mode, owner):
    _record("mutable_layer", block, layer, mode)
    label, (callee, args, kwargs) = next(iter(candidates.items()))
    chosen = list(optional.values())[: (size if isinstance(size, int) else size[0])]
    return callee([fixed, chosen], *args, **kwargs)

def choice(*options, key, labels=None):
    _record("choice", key)
    return options[0]

def _sample(name):
    def sample(*bounds, key):
        _record(name, key)
        return bounds[0]
    return sample

for _name in ("randint", "uniform", "quniform", "loguniform", "qloguniform",
              "normal", "qnormal", "lognormal", "qlognormal"):
    globals()[_name] = _sample(_name)

def function_choice(table, key):
    _record("function_choice", key, *table)
    return next(iter(table.values()))()

def report_intermediate_result(value):
    _record("report_intermediate_result", value)

def report_final_result(value):
    _record("report_final_result", value)
    print("FINAL", json.dumps(CALLS))

def get_next_parameter():
    _record("get_next_parameter")

def training_update(**kwargs):
    _record("training_update", **kwargs)
"""


def dedent(text: str) -> str:
    """`text` without its common indentation and without the leading newline of a triple-quoted literal."""
    return textwrap.dedent(text).lstrip("\n")


def compile_text(
    source: str, module: str = "m", mode: str = "classic", key_style: str = "stable"
) -> annotator.CompileResult:
    """Compile dedented `source` as module `module`."""
    return annotator.compile_source(dedent(source), module, mode, key_style=key_style)


def body(code: str) -> str:
    """The compiled code without the inserted import, on its own line or joined to another."""
    for placement in ("import nas as _nas\n", "import nas as _nas; ", "; import nas as _nas", "import nas as _nas  "):
        if placement in code:
            return code.replace(placement, "", 1)
    return code


def inline_text(source: str, architecture: dict[str, Any], module: str = "m", key_style: str = "stable") -> str:
    """`trial codegen` of dedented `source` as module `module`, in memory."""
    return inline_ir(parse_module(dedent(source), module, f"{module}.py", key_style), architecture)


class Helpers:
    """What the tests share (test modules cannot import each other under --import-mode=importlib)."""

    dedent = staticmethod(dedent)
    compile = staticmethod(compile_text)
    inline = staticmethod(inline_text)
    body = staticmethod(body)
    fixtures = FIXTURES


@pytest.fixture
def h() -> type[Helpers]:
    """The shared helpers: `h.dedent`, `h.compile`, `h.inline`, `h.body`, `h.fixtures`."""
    return Helpers


@pytest.fixture
def run_with_fake_nas(tmp_path: Path):
    """Run compiled code in a subprocess next to a fake `nas` module; returns (stdout, calls)."""

    def run(code: str) -> tuple[str, list[Any]]:
        (tmp_path / "nas.py").write_text(FAKE_NAS, encoding="utf-8")
        script = tmp_path / "script.py"
        script.write_text(code, encoding="utf-8")
        # -S: no site-packages, so the real (editable-installed) `nas` cannot shadow the fake one.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run(
            [sys.executable, "-S", str(script)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            env=environment,
        )
        assert done.returncode == 0, done.stderr
        calls: list[Any] = []
        for line in done.stdout.splitlines():
            if line.startswith("FINAL "):
                calls = json.loads(line[len("FINAL ") :])
        return done.stdout, calls

    return run
