"""`nasctl trial run`: compile in memory, validate --arch before the script starts, run, print results."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from nasctl.runtime.cli import main
from nasctl.runtime.trial import sample_architecture

SCRIPT = '''\
"""A trial script: a sibling module with its own annotations, layers, a variable, results."""
import os
import sys

import blocks
from helpers import double

print("argv", sys.argv[1:], "seed", os.environ["NAS_TRIAL_SEED"], "file", os.path.basename(__file__))
open(os.path.join(os.path.dirname(__file__), "started"), "w").close()


def add(inputs, k=0):
    fixed, chosen = inputs
    return sum(fixed) + sum(chosen) + k


x, y = 1, 10
"""@nas.mutable_layers(
    {layer_choice: [add(k=100), add(k=200)], fixed_inputs: [x], optional_inputs: [y, x],
     optional_input_size: [0, 1], layer_output: h}
)"""
# @nas.variable(nas.choice(2, 3, 4), name=scale)
scale = 2
"""@nas.report_intermediate_result(h)"""
"""@nas.report_final_result({"default": double(h) * scale + blocks.extra(), "h": h})"""
'''

BLOCKS = '''\
def extra():
    # @nas.variable(nas.randint(0, 5), name=offset)
    offset = 0
    return offset
'''

HELPERS = "def double(v):\n    return 2 * v\n"


@pytest.fixture
def trial_dir(tmp_path):
    (tmp_path / "trial.py").write_text(SCRIPT)
    (tmp_path / "blocks.py").write_text(BLOCKS)
    (tmp_path / "helpers.py").write_text(HELPERS)
    return tmp_path


def _space(trial_dir):
    from nasctl import annotator

    return annotator.generate_search_space(trial_dir)


def _expected(architecture):
    block = architecture["trial/h"]["h"]
    k = {"add(k=100)": 100, "add(k=200)": 200}[block["chosen_layer"]]
    h = 1 + sum({"y": 10, "x": 1}[name] for name in block["chosen_inputs"]) + k
    return h, {"default": 2 * h * architecture["trial/scale/choice"] + architecture["blocks/offset/randint"], "h": h}


def _run(*argv):
    return main(["trial", "run", *map(str, argv)])


def test_without_arch_the_architecture_is_sampled_with_the_seed(trial_dir, capsys):
    space = _space(trial_dir)
    assert set(space) == {"trial/h", "trial/scale/choice", "blocks/offset/randint"}
    for seed in (0, 1, 2):
        assert _run(trial_dir / "trial.py", "--seed", seed, "--", "--flag", "v") == 0
        lines = capsys.readouterr().out.splitlines()
        h, final = _expected(sample_architecture(space, seed))
        assert lines == [f"argv ['--flag', 'v'] seed {seed} file trial.py", f"intermediate result: {h}",
                         f"final result: {json.dumps(final)}"]


def test_with_arch_the_file_decides(trial_dir, tmp_path, capsys):
    architecture = {"trial/h": {"h": {"chosen_layer": "add(k=200)", "chosen_inputs": ["y"]}},
                    "trial/scale/choice": 4, "blocks/offset/randint": 3}
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(architecture))
    assert _run(trial_dir / "trial.py", "--arch", path) == 0
    assert capsys.readouterr().out.splitlines()[-1] == 'final result: {"default": 1691, "h": 211}'
    architecture["trial/h"]["h"] = {"chosen_layer": "add(k=100)", "chosen_inputs": []}
    path.write_text(json.dumps(architecture))
    assert _run(trial_dir / "trial.py", "--arch", path) == 0  # modules are compiled afresh each run
    assert capsys.readouterr().out.splitlines()[-1] == 'final result: {"default": 811, "h": 101}'
    assert "blocks" not in sys.modules and "helpers" not in sys.modules


@pytest.mark.parametrize(("change", "message"), [
    ({"trial/other": 1}, "architecture key 'trial/other': not in the search space"),
    ({"trial/h": {"h": {"chosen_layer": "add(k=300)", "chosen_inputs": []}}},
     r"architecture key 'trial/h': layer 'h': chosen_layer 'add\(k=300\)' is not one of its candidates"),
    ({"trial/h": {"h": {"chosen_layer": "add(k=100)", "chosen_inputs": ["y", "x"]}}},
     r"'trial/h': layer 'h': 2 chosen input\(s\) \['y', 'x'\], but optional_input_size allows 0 to 1"),
    ({"trial/h": {"h": {"chosen_layer": "add(k=100)", "chosen_inputs": ["z"]}}},
     "'trial/h': layer 'h': chosen input 'z' is not one of its optional_inputs"),
    ({"trial/scale/choice": 5}, "'trial/scale/choice': 5 is not one of the choices"),
    ({"trial/h": {"h": {"chosen_layer": "add(k=100)", "chosen_inputs": [1]}}}, r"key 'trial/h\.h\.chosen_inputs\[0\]'"),
])
def test_a_mismatching_arch_is_rejected_before_the_script_starts(trial_dir, tmp_path, capsys, change, message):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"trial/scale/choice": 2, **change}))
    assert _run(trial_dir / "trial.py", "--arch", path) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(path) in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert __import__("re").search(message, captured.err), captured.err
    assert not (trial_dir / "started").exists()


def test_a_key_the_arch_file_lacks_is_an_error_naming_it(trial_dir, tmp_path, capsys):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"trial/scale/choice": 2}))
    assert _run(trial_dir / "trial.py", "--arch", path) == 2
    assert "architecture key 'trial/h': the trial's architecture has no choice for this block" in capsys.readouterr().err


def test_the_last_line_is_the_final_result(tmp_path, capsys):
    (tmp_path / "t.py").write_text('"""@nas.report_final_result(0.5)"""\nprint("after")\nprint()\n')
    assert _run(tmp_path / "t.py") == 0
    assert capsys.readouterr().out.splitlines() == ["final result: 0.5", "after", "", "final result: 0.5"]


def test_a_script_without_a_final_result_fails(tmp_path, capsys):
    (tmp_path / "t.py").write_text('"""@nas.report_intermediate_result(0.5)"""\n')
    assert _run(tmp_path / "t.py") == 1
    assert "t.py ended without reporting a final result" in capsys.readouterr().err


def test_exit_status_of_the_script(tmp_path, capsys):
    (tmp_path / "t.py").write_text('import sys\n"""@nas.report_final_result(1)"""\nsys.exit(3)\n')
    assert _run(tmp_path / "t.py") == 3
    (tmp_path / "t.py").write_text('import sys\nsys.exit("bad input")\n')
    assert _run(tmp_path / "t.py") == 1
    assert "bad input" in capsys.readouterr().err


def test_user_errors_exit_2_with_a_message(tmp_path, capsys):
    assert _run(tmp_path / "missing.py") == 2
    assert "trial script" in capsys.readouterr().err
    (tmp_path / "t.py").write_text('"""@nas.report_final_result(1)"""\n')
    assert _run(tmp_path / "t.py", "--mode", "quantum") == 2
    assert "quantum" in capsys.readouterr().err
    assert _run(tmp_path / "t.py", "--epochs", "3") == 2
    assert "unrecognized arguments --epochs 3; arguments for the script go after '--'" in capsys.readouterr().err
    (tmp_path / "t.py").write_text(textwrap.dedent('''\
        x = 1
        """@nas.mutable_layers({layer_choice: [f()], fixed_inputs: [x]})"""
    '''))
    assert _run(tmp_path / "t.py") == 2
    err = capsys.readouterr().err
    assert "t.py:2:" in err and "layer_output" in err


def test_the_environment_is_restored(trial_dir, capsys, monkeypatch):
    monkeypatch.setenv("NAS_TRIAL_SEED", "9")
    argv, path, main_module = list(sys.argv), list(sys.path), sys.modules["__main__"]
    assert _run(trial_dir / "trial.py", "--seed", "4") == 0
    assert "seed 4" in capsys.readouterr().out
    assert sys.argv == argv and sys.path == path and sys.modules["__main__"] is main_module
    import os

    assert os.environ["NAS_TRIAL_SEED"] == "9"
    assert _run(trial_dir / "trial.py") == 0  # default seed: NAS_TRIAL_SEED
    assert "seed 9" in capsys.readouterr().out


def test_nni_key_style(trial_dir, capsys):
    from nasctl import annotator

    space = annotator.generate_search_space(trial_dir, key_style="nni")
    assert _run(trial_dir / "trial.py", "--seed", "3", "--key-style", "nni") == 0
    architecture = sample_architecture(space, 3)
    scale = next(value for key, value in architecture.items() if key.startswith("trial/") and not isinstance(value, dict))
    block = next(value for key, value in architecture.items() if isinstance(value, dict))
    (layer,) = block.values()
    k = {"add(k=100)": 100, "add(k=200)": 200}[layer["chosen_layer"]]
    h = 1 + sum({"y": 10, "x": 1}[name] for name in layer["chosen_inputs"]) + k
    assert f"intermediate result: {h}" in capsys.readouterr().out.splitlines()
    assert isinstance(scale, int)


def test_annotated_modules_in_a_sub_package(tmp_path, capsys):
    from nasctl import annotator

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("from models.cnn import width\n")
    (tmp_path / "models" / "cnn.py").write_text(
        "def width():\n    # @nas.variable(nas.choice(8, 16, 32), name=w)\n    w = 8\n    return w\n")
    (tmp_path / "main.py").write_text('import models\n"""@nas.report_final_result(models.width())"""\n')
    space = annotator.generate_search_space(tmp_path)
    assert list(space) == ["models.cnn/w/choice"]
    for seed in range(4):
        assert _run(tmp_path / "main.py", "--seed", seed) == 0
        expected = sample_architecture(space, seed)["models.cnn/w/choice"]
        assert capsys.readouterr().out == f"final result: {expected}\n"


ENAS_SCRIPT = '''\
"""A tiny enas trial: three scaling candidates, a target that the 2.0 one fits; it prints which ran."""
import torch

seen = []


def scale(inputs, k):
    seen.append(k)
    return inputs[0][0] * k


def model(x):
    # one layer, called at every step (an annotation in the counted loop below would be one per step)
    """@nas.mutable_layers({layer_choice: [scale(1.0), scale(2.0), scale(3.0)], fixed_inputs: [x], layer_output: h})"""
    return h


torch.manual_seed(0)
w = torch.nn.Parameter(torch.ones(1))
optimizer = torch.optim.SGD([w], lr=0.01)
for step in range(30):
    x = torch.randn(8)
    h = model(x)
    loss = ((w * h - 2 * x) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    """@nas.training_update(loss=loss)"""
print("ran", sorted(set(seen)))
"""@nas.report_intermediate_result(0.25)"""
"""@nas.report_final_result(float(len(set(seen))))"""
'''


def test_enas_standalone_runs_the_controller_in_process(tmp_path, capsys):
    pytest.importorskip("torch")
    from nasctl.runtime.trial import validate_architecture

    (tmp_path / "trial.py").write_text(ENAS_SCRIPT)
    assert _run(tmp_path / "trial.py", "--mode", "enas", "--seed", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    ran = json.loads(lines[0].removeprefix("ran ").replace("'", '"'))
    assert len(ran) >= 2  # training_update() switched subgraphs: the controller sampled several
    assert lines[1:] == ["intermediate result: 0.25", lines[2], f"final result: {float(len(ran))}"]
    assert lines[2].startswith("derived architecture: ")  # once, not once per reward
    derived = json.loads(lines[2].removeprefix("derived architecture: "))
    validate_architecture(derived, _space(tmp_path))

    assert _run(tmp_path / "trial.py", "--mode", "enas", "--seed", "1") == 0
    assert capsys.readouterr().out.splitlines() == lines  # the controller is seeded


def test_enas_standalone_with_arch_trains_that_subgraph(tmp_path, capsys):
    pytest.importorskip("torch")
    (tmp_path / "trial.py").write_text(ENAS_SCRIPT)
    arch = {"trial/model/h": {"h": {"chosen_layer": "scale(3.0)", "chosen_inputs": []}}}
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    assert _run(tmp_path / "trial.py", "--mode", "enas", "--arch", tmp_path / "arch.json") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ran [3.0]"
    assert f"derived architecture: {json.dumps(arch)}" in out and out[-1] == "final result: 1.0"
