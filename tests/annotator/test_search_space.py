"""The search space: NNI's format, both key styles, hand-written calls, and the JSON Schemas."""

from __future__ import annotations

import random

import pytest

from nasctl import annotator, schemas

PROGRAM = '''
import nas


class Net:
    def forward(self, x, skip):
        """@nas.mutable_layers(
            {layer_choice: [conv(k=3), conv(k=5)], fixed_inputs: [x], optional_inputs: [skip, x],
             optional_input_size: [0, 2], layer_output: h1},
            {layer_choice: [relu(), tanh()], fixed_inputs: [h1], layer_output: h2})"""
        # @nas.function_choice(pool(h2), h2.mean(), name=pool)
        out = pool(h2)
        return out


# @nni.variable(nni.choice(16, 32), name=batch)
batch = 16
"""@nas.variable(nas.qloguniform(1, 64, 1), name=width)"""
width = 8
act = nas.choice(relu, tanh, key="hand/act")
rate = nas.uniform(0.1, 0.5, key="hand/rate")
'''


def test_keys_values_and_order(h) -> None:
    space = h.compile(PROGRAM, module="models.cnn").search_space
    assert space == {
        "models.cnn/Net.forward/h1": {
            "_type": "mutable_layer",
            "_value": {
                "h1": {
                    "layer_choice": ["conv(k=3)", "conv(k=5)"],
                    "optional_inputs": ["skip", "x"],
                    "optional_input_size": [0, 2],
                },
                "h2": {"layer_choice": ["relu()", "tanh()"], "optional_inputs": [], "optional_input_size": 0},
            },
        },
        "models.cnn/pool/function_choice": {"_type": "choice", "_value": ["pool(h2)", "h2.mean()"]},
        "models.cnn/batch/choice": {"_type": "choice", "_value": [16, 32]},
        "models.cnn/width/qloguniform": {"_type": "qloguniform", "_value": [1, 64, 1]},
        "hand/act": {"_type": "choice", "_value": ["relu", "tanh"]},
        "hand/rate": {"_type": "uniform", "_value": [0.1, 0.5]},
    }
    schemas.validate("search_space", space)


def test_nni_key_style(h) -> None:
    space = h.compile(PROGRAM, module="mnist", key_style="nni").search_space
    assert list(space) == [
        "mnist/mutable_block_9",
        "mnist/pool/function_choice",
        "mnist/batch/choice",
        "mnist/width/qloguniform",
        "hand/act",
        "hand/rate",
    ]
    assert list(space["mnist/mutable_block_9"]["_value"]) == ["mutable_layer_0", "mutable_layer_1"]
    schemas.validate("search_space", space)


def test_stable_keys_survive_edits_that_move_lines(h) -> None:
    moved = PROGRAM.replace("import nas\n", "import nas\nimport os\n\n\n# a new comment\n")
    assert h.compile(moved).search_space == h.compile(PROGRAM).search_space
    assert h.compile(moved, key_style="nni").search_space != h.compile(PROGRAM, key_style="nni").search_space


def test_hand_written_nni_calls_follow_nni(h) -> None:
    space = h.compile(
        """
        import nni
        conv_size = nni.choice({2: 2, 3: 3, 5: 5}, name='conv_size')
        tmp = nni.qlognormal(1.2, 3, 4.5)
        pooled = nni.function_choice({'max_pool': lambda: max_pool(x), 'avg_pool': lambda: avg_pool(x)}, name='pool')
        """,
        module="handwrite",
    ).search_space
    assert space == {
        "handwrite/conv_size/choice": {"_type": "choice", "_value": [2, 3, 5]},
        "handwrite/__line3/qlognormal": {"_type": "qlognormal", "_value": [1.2, 3, 4.5]},
        "handwrite/pool/function_choice": {"_type": "choice", "_value": ["max_pool", "avg_pool"]},
    }


def test_hand_written_nas_call_without_key_is_an_error(h) -> None:
    with pytest.raises(
        annotator.AnnotationError, match=r'hand-written nas.choice\(\.\.\.\): it needs key="\.\.\."'
    ) as caught:
        h.compile("import nas\nx = 1\nlr = nas.choice(0.1, 0.2)\n")
    assert caught.value.line == 3


def test_hand_written_key_clashing_with_an_annotation_is_an_error(h) -> None:
    with pytest.raises(
        annotator.AnnotationError, match=r"key 'm/x/choice' is defined here differently from line 1"
    ) as caught:
        h.compile(
            "'''@nas.variable(nas.choice(1, 2), name=x)'''\nx = 1\ny = nas.choice(3, key='m/x/choice')\n"
        )
    assert caught.value.line == 3


def _sample(space: dict, rng: random.Random) -> dict:
    """An architecture for `space`, drawn by hand the way a tuner would."""
    architecture: dict = {}
    for key, entry in space.items():
        kind, value = entry["_type"], entry["_value"]
        if kind == "mutable_layer":
            block = {}
            for layer_key, layer in value.items():
                size = layer["optional_input_size"]
                low, high = (size, size) if isinstance(size, int) else size
                count = rng.randint(low, high)
                block[layer_key] = {
                    "chosen_layer": rng.choice(layer["layer_choice"]),
                    "chosen_inputs": rng.sample(layer["optional_inputs"], count),
                }
            architecture[key] = block
        elif kind == "choice":
            architecture[key] = rng.choice(value)
        elif kind == "randint":
            architecture[key] = rng.randrange(value[0], value[1])
        else:
            architecture[key] = rng.uniform(value[0], value[1]) if "normal" not in kind else value[0]
    return architecture


def test_a_hand_sampled_architecture_validates(h) -> None:
    space = h.compile(PROGRAM).search_space
    rng = random.Random(7)
    for _ in range(20):
        architecture = _sample(space, rng)
        schemas.validate("architecture", architecture)
        assert set(architecture) == set(space)


def test_generate_search_space_on_a_directory(tmp_path, h) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "main.py").write_text("# @nas.variable(nas.choice(1, 2), name=x)\nx = 1\n", encoding="utf-8")
    (tmp_path / "pkg" / "model.py").write_text(
        "def f(a):\n    '''@nas.mutable_layer({layer_choice: [g()], fixed_inputs: [a], layer_output: b})'''\n",
        encoding="utf-8",
    )
    (tmp_path / "pkg" / "notes.txt").write_text("@nas.variable in a text file is ignored", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.py").write_text("this is not python @nas.", encoding="utf-8")
    space = annotator.generate_search_space(tmp_path)
    assert list(space) == ["main/x/choice", "pkg.model/f/b"]
    assert list(annotator.generate_search_space(tmp_path / "pkg" / "model.py")) == ["model/f/b"]
    assert list(annotator.generate_search_space(tmp_path, key_style="nni")) == [
        "main/x/choice",
        "pkg.model/mutable_block_2",
    ]


def test_same_hand_written_key_in_two_files_with_different_values_names_both(tmp_path) -> None:
    (tmp_path / "a.py").write_text("import nas\nx = nas.choice(1, 2, key='shared')\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("import nas\n\ny = nas.choice(1, 3, key='shared')\n", encoding="utf-8")
    with pytest.raises(
        annotator.AnnotationError, match=r"key 'shared' is defined here differently from .*a\.py:2"
    ) as caught:
        annotator.generate_search_space(tmp_path)
    assert caught.value.path.endswith("b.py") and caught.value.line == 3


def test_hand_written_nas_call_may_name_its_key_with_name(h) -> None:
    space = h.compile("import nas\nlr = nas.loguniform(1e-4, 1e-1, name='train/lr')\n").search_space
    assert space == {"train/lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}
