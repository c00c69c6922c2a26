"""examples/nni-compat: NNI v1.1's mnist-nas trial in the four modes, with NNI v1 configs (classic with
NNI's `PPOTuner`, the others with a random NAS tuner written for NNI, `from nni.tuner import Tuner`), each
run as an experiment (a few steps each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from nasctl.runtime.manager import Experiment

from nasctl.searchspace import validate_architecture

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "nni-compat" / "mnist-nas"


def _block(script: str) -> str:
    """NNI's key of the script's block: the last line of its annotation."""
    lines = (EXAMPLE / f"{script}.py").read_text().splitlines()
    return f"{script}/mutable_block_{next(n for n, line in enumerate(lines, 1) if line.strip() == ')' + chr(34) * 3)}"


BLOCK = _block("mnist")


def _run(mode: str, tmp_path: Path, nas_home: Path, helpers: Any) -> Experiment:
    pytest.importorskip("tensorflow")
    config = yaml.safe_load((EXAMPLE / f"config_{mode}.yml").read_text())
    assert config["trial"]["nasMode"] == f"{mode}_mode" and config["keyStyle"] == "nni"
    config["trial"]["codeDir"] = str(EXAMPLE)
    config["trial"]["command"] = config["trial"]["command"].replace("--batch_num 40", "--batch_num 6")
    if mode == "classic":  # NNI's config_ppo.yml: a built-in tuner by NNI's name
        assert config["tuner"]["builtinTunerName"] == "PPOTuner"
    else:  # NNI's random NAS tuner, written for NNI
        assert config["tuner"]["className"] == "RandomNASTuner"
        config["tuner"]["codeDir"] = str((EXAMPLE / config["tuner"]["codeDir"]).resolve())
    config["maxTrialNum"] = 1
    path = tmp_path / f"config_{mode}.yml"
    path.write_text(yaml.safe_dump(config))
    run = helpers.nasctl("run", str(path), "--id", mode, "--no-progress", env={"NAS_HOME": str(nas_home)},
                         timeout=300)
    assert run.returncode == 0, run.stderr
    exp = Experiment.load(mode, nas_home=nas_home)
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED"], [t.stderr_tail for t in trials]
    assert 0.0 <= trials[0].default_value <= 1.0
    assert BLOCK in exp.info()["search_space"]
    return exp


def test_classic(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    exp = _run("classic", tmp_path, nas_home, helpers)
    trial = exp.trials()[0]
    assert set(trial.parameters[BLOCK]) == {f"mutable_layer_{i}" for i in range(6)}  # PPO chose
    out = tmp_path / "code"
    exp.codegen(trial.trial_id, out)
    assert '"""@nni.' not in (out / "mnist.py").read_text()


def test_enas(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    exp = _run("enas", tmp_path, nas_home, helpers)
    trial = exp.trials()[0]
    assert _block("mnist-enas") in trial.derived_architecture
    assert len(trial.phases) > 1  # training_update(tf, sess) fetched further subgraphs
    listing = helpers.nasctl("trial", "ls", "enas", env={"NAS_HOME": str(nas_home)})
    assert "DERIVED" in listing.stdout.splitlines()[0] and "none" not in listing.stdout


def test_oneshot_without_derive_exports_nothing(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    exp = _run("oneshot", tmp_path, nas_home, helpers)
    trial = exp.trials()[0]
    assert trial.derived_architecture is None  # NNI's trial never calls derive_architecture
    env = {"NAS_HOME": str(nas_home)}
    export = helpers.nasctl("experiment", "export", "oneshot", "--code", str(tmp_path / "best"), env=env)
    assert export.returncode == 2
    assert "derived no architecture" in export.stderr and "nas.derive_architecture(evaluate)" in export.stderr
    assert not (tmp_path / "best").exists()
    codegen = helpers.nasctl("trial", "codegen", "oneshot", "--trial_id", trial.trial_id, "-o",
                             str(tmp_path / "code"), env=env)
    assert codegen.returncode == 2 and "derived no architecture" in codegen.stderr
    listing = helpers.nasctl("trial", "ls", "oneshot", env=env).stdout.splitlines()
    column = listing[0].index("DERIVED")
    assert listing[1][column:].split()[0] == "none"
    assert BLOCK not in listing[1]  # not the tuner's sample that the mode ignored
    csv_text = helpers.nasctl("experiment", "export", "oneshot", "--format", "csv", env=env).stdout
    header = csv_text.splitlines()[0].split(",")
    assert "derived_architecture" in header and BLOCK not in header


def test_darts(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    exp = _run("darts", tmp_path, nas_home, helpers)
    trial = exp.trials()[0]
    assert _block("mnist-darts") in trial.derived_architecture
    out = tmp_path / "code"
    exp.codegen(trial.trial_id, out)
    code = (out / "mnist-darts.py").read_text()
    assert '"""@nni.' not in code and "_nas.training_update" not in code


def test_an_architecture_written_by_nni_is_accepted(tmp_path: Path) -> None:
    from nasctl import annotator

    space = annotator.generate_search_space(EXAMPLE, key_style="nni")
    nni_written = json.loads((EXAMPLE / "nni_architecture.json").read_text())
    assert list(nni_written) == [BLOCK] == ["mnist/mutable_block_91"]
    validate_architecture(nni_written, space, partial=True)
