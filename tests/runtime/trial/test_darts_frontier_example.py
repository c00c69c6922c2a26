"""examples/darts-frontier briefly: one hypernet search derives at several budgets; one is retrained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from nasctl.runtime.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "darts-frontier"


def test_hypernet_search_derives_per_budget_then_classic_retrain(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    options = yaml.safe_load((EXAMPLE / "search.yml").read_text())["darts"]
    assert options["complexity"]["hypernet"] == {"knots": 8}
    options.update(warmup=0, report_every=0)
    monkeypatch.setenv("NAS_MODE_CONFIG", json.dumps(options))
    out = tmp_path / "search.json"
    assert main(["trial", "run", str(EXAMPLE / "cells.py"), "--mode", "darts", "--", "--epochs", "1",
                 "--derive", "0,0.5,1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert sorted(result["derived"]) == ["0", "0.5", "1"]
    assert result["architecture"] == result["derived"]["1"]  # the last budget derived is the one reported
    for architecture in result["derived"].values():
        assert list(architecture["cells/Net.forward/h1"]) == ["h1", "h2", "h3", "h4"]

    monkeypatch.delenv("NAS_MODE_CONFIG")
    (tmp_path / "arch.json").write_text(json.dumps(result["derived"]["0.5"]))
    capsys.readouterr()
    assert main(["trial", "run", str(EXAMPLE / "cells.py"), "--arch", str(tmp_path / "arch.json"), "--",
                 "--epochs", "1"]) == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1].removeprefix("final result: "))
    assert 0.0 <= final["default"] <= 1.0 and final["params"] > 0
