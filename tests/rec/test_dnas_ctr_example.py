"""examples/dnas-ctr: each search space compiles, runs darts architecture steps and a classic trial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from nasctl.runtime.trial import validate_architecture  # noqa: E402

from nasctl import annotator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "dnas-ctr"
TINY = ["--preset", "ci", "--rows", "1500", "--batch-size", "64"]
# The searched keys of each space and how many there are.
SPACES = {"mlp": 8, "emb_dim": 26, "emb_card": 26}


def _trial(space: str, *args: str, mode: str = "classic", mode_config: dict | None = None,
           arch: Path | None = None, cwd: Path) -> dict:
    command = [sys.executable, "-m", "nasctl.runtime.cli", "trial", "run", str(EXAMPLES / space / f"{space}.py"),
               "--mode", mode, "--seed", "1"]
    if arch is not None:
        command += ["--arch", str(arch)]
    env = dict(os.environ, NAS_MODE_CONFIG=json.dumps(mode_config or {}))
    env.pop("NASCTL_DATA_CACHE", None)
    run = subprocess.run([*command, "--", *TINY, *args], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    found = {}
    for line in run.stdout.splitlines():
        for tag in ("derived architecture: ", "final result: "):
            if line.startswith(tag):
                found[tag.split()[0]] = json.loads(line[len(tag):])
    return found


@pytest.mark.parametrize("space", sorted(SPACES))
def test_search_space_darts_step_and_classic_trial(space: str, tmp_path: Path) -> None:
    search_space = annotator.generate_search_space(EXAMPLES / space)
    searched = {key for key in search_space if not key.endswith("/lr/choice")}
    assert len(searched) == SPACES[space] and f"{space}/lr/choice" in search_space
    metric = "flops" if space == "mlp" else "params"
    darts = {"sampler": "gumbel", "per_example": True, "hard": space == "emb_dim", "optimizer": {"lr": 0.5},
             "complexity": {"metric": metric, "weight": 0.1, "form": "log"}, "report_every": 1}
    found = _trial(space, "--search-epochs", "1", "--warmup-epochs", "0", "--max-steps", "2", mode="darts",
                   mode_config=darts, cwd=tmp_path)
    derived = {key: value for key, value in found["derived"].items() if key in searched}
    assert set(derived) == searched  # every searched size was relaxed and derived
    validate_architecture(derived, {key: search_space[key] for key in searched})
    assert found["final"]["default"] > 0

    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({**derived, f"{space}/lr/choice": 0.1}))
    result = _trial(space, "--epochs", "1", "--max-rows", "256", arch=arch, cwd=tmp_path)["final"]
    assert {"val_log_loss", "test_log_loss", "test_auc", "params", "flops", "bayes_test_log_loss"} <= set(result)
    assert result["lr"] == 0.1 and result["params"] > 0
    if space == "emb_dim":  # built at exactly the chosen sizes: rows x dim tables, dim x d projections
        from nasctl import rec

        cardinalities = rec.make_planted("ci", seed=0, rows=1500).truth.cardinalities
        dims = [derived[f"emb_dim/dim/choice[{j}]"] for j in range(26)]
        mlps = (13 * 32 + 32 + 32 * 8 + 8) + (359 * 32 + 32 + 32 + 1)  # bottom 13-32-8, top 359-32-1
        assert result["params"] == mlps + sum(c * dim + dim * 8 for c, dim in zip(cardinalities, dims, strict=True))


@pytest.mark.parametrize("space", sorted(SPACES))
def test_committed_pipeline_configs_load(space: str, tmp_path: Path) -> None:
    from nasctl.runtime.manager._pipeline import Pipeline

    pipeline = Pipeline.from_yaml(EXAMPLES / space / "pipeline.yml", id="p", nas_home_dir=tmp_path)
    darts = pipeline.record["search"]["darts"]
    assert darts["sampler"] == "gumbel" and darts["per_example"] is True
    assert darts["complexity"]["form"] == "log"
    # emb_dim: the projections' FLOPs, the sum of the dimensions (each feature's parameters per row)
    assert darts["complexity"]["metric"] == ("params" if space == "emb_card" else "flops")
    if space == "emb_dim":  # what the benchmark measured: real dimensions per example, no decay on alpha
        assert darts["hard"] is True and darts["optimizer"]["weight_decay"] == 0
    assert pipeline.record["retrain"]["tuner"]["name"] == "GridSearch"
    assert pipeline.record["select"] == "val_log_loss" and pipeline.record["optimize_mode"] == "minimize"
