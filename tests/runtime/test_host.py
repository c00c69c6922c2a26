"""The one-way seam between the trial runtime and the mode backends (`nasctl.runtime._host`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from nasctl.runtime import _host
from nasctl.runtime.errors import TrialError

RUNTIME = Path(_host.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function (TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _importers(folder: str, prefix: str) -> list[tuple[str, str]]:
    return sorted((str(path.relative_to(RUNTIME)), module)
                  for path in (RUNTIME / folder).rglob("*.py")
                  for module in _imports(path) if module == prefix or module.startswith(prefix + "."))


def test_the_mode_backends_never_import_the_trial_runtime():
    assert _importers("modes", "nasctl.runtime.trial") == []


def test_the_trial_runtime_depends_on_the_modes_and_the_seam_on_neither():
    assert _importers("trial", "nasctl.runtime.modes")  # it does depend on them: the registry
    assert _imports(RUNTIME / "_host.py") <= {"__future__", "contextlib", "collections.abc", "typing",
                                              "nasctl.runtime.errors", "nasctl.searchspace"}


def test_the_current_trial_without_the_trial_runtime_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_host, "_factory", None)
    previous = _host.set_host(None)
    try:
        with pytest.raises(TrialError, match="no trial is running in this process: the trial runtime"):
            _host.current_host()
    finally:
        _host.set_host(previous)


def test_using_host_restores_the_previous_trial():
    first, second = object(), object()
    previous = _host.set_host(first)  # type: ignore[arg-type]
    try:
        with _host.using_host(second) as inside:  # type: ignore[arg-type]
            assert inside is second and _host.current_host() is second
        assert _host.current_host() is first
    finally:
        _host.set_host(previous)
