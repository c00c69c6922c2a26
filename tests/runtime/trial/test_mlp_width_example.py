"""examples/mlp-width end to end, briefly: darts with a parameter penalty, then the derived
architecture retrained in classic mode at exactly its sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nasctl.runtime.cli import main

SCRIPT = Path(__file__).resolve().parents[3] / "examples" / "mlp-width" / "mlp.py"


def test_darts_search_then_classic_retrain(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    options = {"complexity": {"metric": "params", "weight": 1e-3}, "optimizer": {"lr": 0.05}, "report_every": 0}
    monkeypatch.setenv("NAS_MODE_CONFIG", json.dumps(options))
    assert main(["trial", "run", str(SCRIPT), "--mode", "darts", "--", "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    derived = json.loads(next(line for line in lines if line.startswith("derived architecture: "))
                         .removeprefix("derived architecture: "))
    assert sorted(derived) == ["mlp/depth/choice", *(f"mlp/width/choice[{i}]" for i in range(3))]

    monkeypatch.delenv("NAS_MODE_CONFIG")
    (tmp_path / "arch.json").write_text(json.dumps(derived))
    assert main(["trial", "run", str(SCRIPT), "--arch", str(tmp_path / "arch.json"), "--", "--epochs", "1"]) == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1].removeprefix("final result: "))
    widths = [derived[f"mlp/width/choice[{i}]"] for i in range(derived["mlp/depth/choice"])]
    sizes = [64, *widths, 10]
    assert final["params"] == sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
