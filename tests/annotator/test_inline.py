"""`inline_architecture` (`nasctl trial codegen`): one architecture, written out as plain Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nasctl import annotator, schemas

TRIAL = Path(__file__).parent / "fixtures" / "inline" / "trial.py"

ARCHITECTURE = {
    "trial/Model.forward/h1": {
        "h1": {"chosen_layer": "Scale(10)", "chosen_inputs": ["skip"]},
        "h2": {"chosen_layer": "Scale(factor=2)", "chosen_inputs": []},
    },
    "trial/steps/choice": 3,
    "trial/rate/uniform": 0.25,
    "trial/round/function_choice": "round(total * rate, 3)",
}


# -I -S: no site-packages (where nasctl is installed), no PYTHON* variables; only the script's folder.
_RUNNER = (
    "import os, sys; path = sys.argv[1]; sys.argv = sys.argv[1:]; sys.path.insert(0, os.path.dirname(path)); "
    "exec(compile(open(path).read(), path, 'exec'), {'__name__': '__main__'})"
)


def run_isolated(script: Path) -> str:
    """Run `script` with no site-packages and no environment: nasctl cannot be imported."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _RUNNER, str(script)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=60,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# The same, with the venv's site-packages appended as a plain folder (its .pth files, among them
# nasctl's editable install, are not run): the frameworks are importable, nasctl is not.
_SITE_RUNNER = (
    "import os, sys; sys.path.append(sys.argv[1]); path = sys.argv[2]; sys.argv = sys.argv[2:]; "
    "sys.path.insert(0, os.path.dirname(path)); "
    "exec(compile(open(path).read(), path, 'exec'), {'__name__': '__main__'})"
)


def run_isolated_with_site_packages(script: Path, *args: str, timeout: float = 300) -> str:
    """Run `script` like `run_isolated`, but able to import the venv's packages (torch, tensorflow)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    site = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _SITE_RUNNER, site, str(script), *args],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=timeout,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_nasctl_is_not_importable_in_the_isolated_run(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib.util\n"
        "print(*(importlib.util.find_spec(name) is None for name in ('nas', 'nasctl', 'runtime')))\n"
        "print(importlib.util.find_spec('yaml') is None)\n"
    )
    assert run_isolated(probe).splitlines() == ["True True True", "True"]
    # with the site-packages folder: third-party packages import, nasctl still does not
    assert run_isolated_with_site_packages(probe).splitlines() == ["True True True", "False"]


def test_inlined_trial_runs_without_nasctl(tmp_path: Path) -> None:
    schemas.validate("architecture", ARCHITECTURE)
    out = tmp_path / "trial.py"
    annotator.inline_architecture(TRIAL, out, ARCHITECTURE)
    code = out.read_text(encoding="utf-8")
    assert "import nas" not in code and "_nas." not in code
    assert run_isolated(out).splitlines() == [
        "intermediate result: 20000",
        "intermediate result: 40020",
        "intermediate result: 60060",
        "final result: 15015.0",
        "built 2",  # each class candidate is constructed once per layer and reused every step
    ]


def test_another_architecture_gives_another_program(tmp_path: Path) -> None:
    architecture = {
        "trial/Model.forward/h1": {
            "h1": {"chosen_layer": "add(k=1)", "chosen_inputs": []},
            "h2": {"chosen_layer": "add(k=100)", "chosen_inputs": []},
        },
        "trial/steps/choice": 1,
        "trial/rate/uniform": 1,
        "trial/round/function_choice": "float(total)",
    }
    out = tmp_path / "trial.py"
    annotator.inline_architecture(TRIAL, out, architecture)
    code = out.read_text(encoding="utf-8")
    assert '        h1 = _nas_layer(self, "trial_Model_forward_h1__h1__0", add, [[x], []], k=1)\n' in code
    assert "    result = float(total)\n" in code
    assert run_isolated(out).splitlines() == ["intermediate result: 101", "final result: 101.0", "built 0"]


def test_removed_statements_leave_pass_where_a_block_would_be_empty(tmp_path: Path) -> None:
    source = tmp_path / "src.py"
    source.write_text(
        "for i in range(2):\n    '''@nas.training_update(loss=i)'''\n"
        "if True:\n    '''@nas.get_next_parameter()'''\n    '''@nas.training_update()'''\n"
        "'''@nas.report_final_result(7)'''\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.py"
    annotator.inline_architecture(source, out, {})
    assert out.read_text(encoding="utf-8") == (
        'for i in range(2):\n    pass\nif True:\n    pass\nprint("final result:", 7)\n'
    )
    assert run_isolated(out) == "final result: 7\n"


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda a: a.pop("trial/steps/choice"),
            r"architecture key 'trial/steps/choice': missing from the architecture",
        ),
        (
            lambda a: a["trial/Model.forward/h1"]["h1"].update(chosen_layer="Scale(11)"),
            r"key 'trial/Model.forward/h1': layer 'h1': chosen_layer 'Scale\(11\)' is not one of: add\(k=1\), Scale\(10\)",
        ),
        (
            lambda a: a["trial/Model.forward/h1"]["h1"].update(chosen_inputs=["y"]),
            r"layer 'h1': chosen input 'y' is not one of the optional inputs: skip, x",
        ),
        (
            lambda a: a["trial/Model.forward/h1"]["h1"].update(chosen_inputs=["skip", "x"]),
            r"layer 'h1': 2 chosen inputs, but optional_input_size allows 0 to 1",
        ),
        (
            lambda a: a["trial/Model.forward/h1"].pop("h2"),
            r"key 'trial/Model.forward/h1': layer 'h2' is missing",
        ),
        (
            lambda a: a.update({"trial/steps/choice": 4}),
            r"key 'trial/steps/choice': 4 is not one of the options: 1, 2, 3",
        ),
        (
            lambda a: a.update({"trial/rate/uniform": 2}),
            r"key 'trial/rate/uniform': 2 is outside uniform's range \[0, 1\]",
        ),
        (
            lambda a: a.update({"trial/round/function_choice": "int(total)"}),
            r"'int\(total\)' is not one of the candidates",
        ),
        (
            lambda a: a.update({"trial/unknown/choice": 1}),
            r"key 'trial/unknown/choice': not in the search space",
        ),
    ],
)
def test_architecture_that_does_not_fit_names_the_key(tmp_path: Path, change, pattern: str) -> None:
    architecture = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in ARCHITECTURE.items()
    }
    architecture["trial/Model.forward/h1"] = {
        k: dict(v) for k, v in ARCHITECTURE["trial/Model.forward/h1"].items()
    }
    change(architecture)
    out = tmp_path / "out.py"
    with pytest.raises(annotator.ArchitectureMismatch, match=pattern):
        annotator.inline_architecture(TRIAL, out, architecture)
    assert not out.exists()


def test_inline_a_directory_copies_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    shutil.copy(TRIAL, src / "lib" / "trial.py")
    (src / "main.py").write_text("from lib.trial import run\nprint('built', run())\n", encoding="utf-8")
    (src / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    architecture = {key.replace("trial/", "lib.trial/", 1): value for key, value in ARCHITECTURE.items()}
    annotator.inline_architecture(src, tmp_path / "out", architecture)
    assert (tmp_path / "out" / "data.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"
    assert (tmp_path / "out" / "main.py").read_bytes() == (src / "main.py").read_bytes()
    assert run_isolated(tmp_path / "out" / "main.py").splitlines()[-2:] == [
        "final result: 15015.0",
        "built 2",
    ]


def test_torch_candidates_are_kept_where_classic_mode_keeps_them(tmp_path: Path) -> None:
    """docs/internals.md: `nas_candidates` (an nn.ModuleDict) keyed by the sanitised `<block>__<layer>__<index>`."""
    torch = pytest.importorskip("torch")
    source = tmp_path / "net.py"
    source.write_text(
        "import torch.nn as nn\n\n\n"
        "class Dense(nn.Linear):\n"
        "    def forward(self, inputs):\n"
        "        fixed, chosen = inputs\n"
        "        return super().forward(sum(fixed) + sum(chosen))\n\n\n"
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        '''@nas.mutable_layers(\n"
        "            {layer_choice: [Dense(4, 4), Dense(4, 8)], fixed_inputs: [x], layer_output: h1},\n"
        "            {layer_choice: [Dense(8, 2), Dense(4, 2)], fixed_inputs: [h1], layer_output: h2})'''\n"
        "        return h2\n",
        encoding="utf-8",
    )
    architecture = {
        "net/Net.forward/h1": {
            "h1": {"chosen_layer": "Dense(4, 4)", "chosen_inputs": []},
            "h2": {"chosen_layer": "Dense(4, 2)", "chosen_inputs": []},
        }
    }
    annotator.inline_architecture(source, tmp_path / "out.py", architecture)
    namespace: dict = {"__name__": "inlined"}
    exec(compile((tmp_path / "out.py").read_text(encoding="utf-8"), "out.py", "exec"), namespace)
    net = namespace["Net"]()
    assert net(torch.ones(3, 4)).shape == (3, 2)
    assert sorted(net.state_dict()) == [
        "nas_candidates.net_Net_forward_h1__h1__0.bias",
        "nas_candidates.net_Net_forward_h1__h1__0.weight",
        "nas_candidates.net_Net_forward_h1__h2__1.bias",
        "nas_candidates.net_Net_forward_h1__h2__1.weight",
    ]
    assert len(list(net.parameters())) == 4


EXAMPLES = Path(__file__).parents[2] / "examples" / "mnist-nas-tf"


def _pick(search_space: dict, picks: list[int]) -> dict:
    """An architecture choosing candidate `picks[i]` and every optional input (at most 1) of layer i."""
    layers = [(block, name, spec) for block, entry in search_space.items() if entry["_type"] == "mutable_layer"
              for name, spec in entry["_value"].items()]
    assert len(layers) == len(picks)
    architecture: dict = {}
    for (block, name, spec), pick in zip(layers, picks, strict=True):
        architecture.setdefault(block, {})[name] = {
            "chosen_layer": spec["layer_choice"][pick], "chosen_inputs": spec.get("optional_inputs", [])[:1]}
    return architecture


@pytest.mark.parametrize(
    ("style", "picks"),
    [
        # Keras: candidates created on a built model (its tracker is locked), a function candidate too
        ("keras", [2, 3, 1, 0]),
        # graph: conv1 and conv2 call the same function, whose get_variable("w") names must not collide
        ("graph", [0, 0, 1, 0]),
    ],
)
def test_tensorflow_example_codegen_runs_without_nasctl(tmp_path: Path, style: str, picks: list[int]) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("sklearn")
    source = EXAMPLES / style
    architecture = _pick(annotator.generate_search_space(source), picks)
    schemas.validate("architecture", architecture)
    out = tmp_path / style
    annotator.inline_architecture(source, out, architecture)
    code = (out / "mnist.py").read_text(encoding="utf-8")
    assert "import nas" not in code and "_nas." not in code and '"""@nni.' not in code
    lines = run_isolated_with_site_packages(
        out / "mnist.py", "--epochs", "1", "--batch-size", "512", "--channels", "4"
    ).splitlines()
    assert lines[-2].startswith("intermediate result: ") and lines[-1].startswith("final result: ")
    assert 0.0 <= float(lines[-1].removeprefix("final result: ")) <= 1.0


GRAPH_TRIAL = '''\
import tensorflow as tf


def dense(inputs, units):
    fixed, chosen = inputs
    x = tf.concat(fixed + chosen, axis=1)
    w = tf.compat.v1.get_variable("w", [x.shape[1], units])
    return tf.matmul(x, w)


def build(x):
    """@nas.mutable_layers(
        {layer_choice: [dense(units=4), dense(units=8)], fixed_inputs: [x], layer_output: h1},
        {layer_choice: [dense(units=2), dense(units=3)], fixed_inputs: [h1], optional_inputs: [x],
         optional_input_size: [0, 1], layer_output: h2})"""
    return h2
'''


def test_graph_mode_candidates_get_the_variable_scopes_of_classic_mode(tmp_path: Path) -> None:
    """A checkpoint of a classic graph-mode trial restores into the generated code: same variable names."""
    tf = pytest.importorskip("tensorflow")
    from nasctl.runtime.trial import StandalonePlatform, TrialContext, use_context

    architecture = {"net/build/h1": {"h1": {"chosen_layer": "dense(units=4)", "chosen_inputs": []},
                                     "h2": {"chosen_layer": "dense(units=3)", "chosen_inputs": ["x"]}}}
    source = tmp_path / "net.py"
    source.write_text(GRAPH_TRIAL, encoding="utf-8")
    annotator.inline_architecture(source, tmp_path / "inlined.py", architecture)
    compiled = annotator.compile_source(GRAPH_TRIAL, "net", "classic").code

    def variables(code: str) -> list[tuple[str, list[int]]]:
        namespace: dict = {"__name__": "net"}
        exec(compile(code, "net.py", "exec"), namespace)
        with tf.Graph().as_default() as graph:
            out = namespace["build"](tf.compat.v1.placeholder(tf.float32, [None, 5]))
            assert out.shape.as_list() == [None, 3]
            return [(v.name, v.shape.as_list()) for v in graph.get_collection("variables")]

    inlined = variables((tmp_path / "inlined.py").read_text(encoding="utf-8"))
    with use_context(TrialContext(StandalonePlatform(architecture=architecture))):
        classic = variables(compiled)
    assert inlined == classic == [("net_build_h1__h1/c0/w:0", [5, 4]), ("net_build_h1__h2/c1/w:0", [9, 3])]
