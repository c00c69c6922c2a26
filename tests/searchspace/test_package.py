"""The package's surface: every public name resolves, and importing it loads no heavy module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nasctl import searchspace


def test_every_public_name_resolves_to_its_private_module() -> None:
    for name in searchspace.__all__:
        value = getattr(searchspace, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, type) and name.endswith("Error"):
            assert module == "nasctl.searchspace"
        elif callable(value) and name != "Architecture":
            assert module.startswith("nasctl.searchspace._"), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'sample'"):
        searchspace.sample  # noqa: B018


def _loaded(code: str) -> set[str]:
    script = f"import sys, json\nbefore = set(sys.modules)\n{code}\nprint(json.dumps(sorted(set(sys.modules) - before)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_the_package_and_its_checks_load_neither_numpy_nor_the_runtime() -> None:
    loaded = _loaded("import nasctl.searchspace as s\ns.check_variable, s.ArchitectureError, s.normalize_mode")
    heavy = {m for m in loaded if m.split(".")[0] in ("numpy", "random", "dataclasses", "ast")
             or m.startswith(("nasctl.runtime", "nasctl.tuners", "nasctl.annotator"))}
    assert heavy == set()
    assert "nasctl.searchspace._values" in loaded and "nasctl.searchspace._dimensions" not in loaded
