"""Annotations inside `for` loops: one search-space key per iteration, in compiled code, the search
space, hand-written f-string keys, and `trial codegen`."""

from __future__ import annotations

import pytest
from nasctl.annotator._inline import inline_ir
from nasctl.annotator._parse import parse_module

from nasctl import annotator

LAYERS = """
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, x):
            for i in range(3):
                '''@nas.mutable_layer({layer_choice: [Lin(4), Act()], fixed_inputs: [x], layer_output: x})'''
            return x
    """


def test_layer_in_a_range_loop_gets_one_key_per_iteration(h) -> None:
    result = h.compile(LAYERS)
    assert (
        '            x = _nas.mutable_layer(_nas.loop_key("m/Net.forward/x", (i,), (3,)), "x", '
        '{"Lin(4)": (Lin, (4,), {}), "Act()": (Act, (), {})}, [x], {}, 0, "classic", self)\n'
    ) in result.code
    assert list(result.search_space) == ["m/Net.forward/x[0]", "m/Net.forward/x[1]", "m/Net.forward/x[2]"]
    assert result.search_space["m/Net.forward/x[2]"]["_value"]["x"]["layer_choice"] == ["Lin(4)", "Act()"]


@pytest.mark.parametrize(
    ("header", "index", "count"),
    [
        ("for i in range(2, 8, 3):", "((i - 2) // 3)", 2),
        ("for i, f in enumerate(FEATURES):", "i", 3),
        ("for i, f in enumerate(FEATURES, start=1):", "(i - 1)", 3),
        ("for f in FEATURES:", "FEATURES.index(f)", 3),
        ("for d in [8, 16]:", "[8, 16].index(d)", 2),
        ("for i in range(N):", "i", 4),
    ],
)
def test_countable_loops_and_their_iteration_number(h, header: str, index: str, count: int) -> None:
    result = h.compile(
        f"""
        FEATURES = ("a", "b", "c")
        N = 4
        def build():
            {header}
                # @nas.variable(nas.choice(4, 8), name=dim)
                dim = 4
        """
    )
    assert f'dim = _nas.choice(4, 8, key=_nas.loop_key("m/dim/choice", ({index},), ({count},)))' in result.code
    assert list(result.search_space) == [f"m/dim/choice[{k}]" for k in range(count)]


def test_nested_loops_suffix_each_index(h) -> None:
    result = h.compile(
        """
        for i in range(2):
            for j in range(3):
                '''@nas.function_choice(relu(x), tanh(x), name=relu)'''
                y = relu(x)
        """
    )
    assert 'key=_nas.loop_key("m/relu/function_choice", (i, j), (2, 3))' in result.code
    assert len(result.search_space) == 6
    assert "m/relu/function_choice[1][2]" in result.search_space


def test_repeat_counts_a_loop_the_compiler_cannot_count(h) -> None:
    result = h.compile(
        """
        def build(features):
            for i, f in enumerate(features):
                # @nas.variable(nas.choice(4, 8), name=dim, repeat=26)
                dim = 4
        """
    )
    assert 'key=_nas.loop_key("m/dim/choice", (i,), (26,))' in result.code
    assert len(result.search_space) == 26


def test_an_uncounted_loop_without_repeat_shares_one_key(h) -> None:
    result = h.compile(
        """
        def train(args):
            for epoch in range(args.epochs):
                for i in range(2):
                    # @nas.variable(nas.choice(4, 8), name=dim)
                    dim = 4
        """
    )
    # the epochs share the choice (as in NNI); the counted inner loop still has one key per iteration
    assert 'key=_nas.loop_key("m/dim/choice", (i,), (2,))' in result.code
    assert list(result.search_space) == ["m/dim/choice[0]", "m/dim/choice[1]"]


def test_a_loop_without_an_iteration_number_is_an_error(h) -> None:
    with pytest.raises(annotator.AnnotationError, match=r"cannot tell which iteration runs; loop with "
                                                       r"'for i, x in enumerate\(\.\.\.\)'"):
        h.compile(
            """
            def build(features):
                for f in features:
                    # @nas.variable(nas.choice(4, 8), name=dim, repeat=3)
                    dim = 4
            """
        )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("# @nas.variable(nas.choice(4, 8), name=dim, repeat=3)\ndim = 4\n", "repeat= is for an annotation inside"),
        ("for i in range(3):\n    # @nas.variable(nas.choice(4, 8), name=dim, repeat=3)\n    dim = 4\n",
         r"the compiler counts every loop around it \(3 iterations\); remove repeat="),
        ("for i in range(n):\n    # @nas.variable(nas.choice(4, 8), name=dim, repeat=0)\n    dim = 4\n",
         "repeat= must be a positive int literal"),
    ],
)
def test_repeat_mistakes(h, source: str, message: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=message):
        h.compile(source)


def test_nni_key_style_keeps_one_shared_key(h) -> None:
    result = h.compile(
        """
        for i in range(3):
            # @nas.variable(nas.choice(4, 8), name=dim)
            dim = 4
        """,
        key_style="nni",
    )
    assert list(result.search_space) == ["m/dim/choice"]
    assert 'key="m/dim/choice"' in result.code


def test_hand_written_f_string_keys_list_every_iteration(h) -> None:
    result = h.compile(
        """
        import nas
        FEATURES = ["user", "item"]
        dims = [nas.choice(4, 8, key=f"emb_dim/{i}") for i in range(3)]
        for f in FEATURES:
            rows = nas.choice(100, 1000, key=f"hash/{f}")
        def build(features):
            for k, f in enumerate(features):
                nas.choice(1, 2, key=f"w/{k}", repeat=2)
        """
    )
    assert list(result.search_space) == ["emb_dim/0", "emb_dim/1", "emb_dim/2", "hash/user", "hash/item",
                                         "w/0", "w/1"]


def test_hand_written_f_string_key_over_an_unknown_loop_needs_repeat(h) -> None:
    with pytest.raises(annotator.AnnotationError, match=r"cannot list the values of 'f' in key=.*give repeat=N"):
        h.compile(
            """
            import nas
            def build(features):
                for f in features:
                    nas.choice(1, 2, key=f"w/{f}")
            """
        )


def test_compiled_code_gives_the_same_search_space_again(h) -> None:
    result = h.compile(LAYERS)
    again = annotator.compile_source(result.code, "m")
    assert again.search_space == result.search_space


def test_codegen_writes_the_chosen_value_per_iteration(h, tmp_path) -> None:
    source = h.dedent(
        """
        picked = []
        for i in range(3):
            # @nas.variable(nas.choice(4, 8, 16), name=dim)
            dim = 4
            '''@nas.function_choice(str(dim), hex(dim), name=str)'''
            text = str(dim)
            picked.append(text)
        print(picked)
        """
    )
    architecture = {"m/dim/choice[0]": 16, "m/dim/choice[1]": 4, "m/dim/choice[2]": 8,
                    "m/str/function_choice[0]": "str(dim)", "m/str/function_choice[1]": "hex(dim)",
                    "m/str/function_choice[2]": "hex(dim)"}
    code = inline_ir(parse_module(source, "m", "m.py"), architecture)
    assert "dim = (16, 4, 8)[i]" in code
    namespace: dict = {}
    printed: list = []
    exec(compile(code, "m.py", "exec"), {"print": printed.append}, namespace)
    assert printed == [["16", "0x4", "0x8"]]


def test_codegen_of_a_repeated_layer_picks_each_iteration_candidate(h) -> None:
    source = h.dedent(LAYERS)
    architecture = {f"m/Net.forward/x[{i}]": {"x": {"chosen_layer": label, "chosen_inputs": []}}
                    for i, label in enumerate(["Lin(4)", "Act()", "Lin(4)"])}
    code = inline_ir(parse_module(source, "m", "m.py"), architecture)
    assert 'if i == 0:\n                x = _nas_layer(self, "m_Net_forward_x_0___x__0", Lin, [[x], []], 4)' in code
    assert 'elif i == 1:\n                x = _nas_layer(self, "m_Net_forward_x_1___x__1", Act, [[x], []])' in code


def test_codegen_names_a_missing_iteration(h) -> None:
    source = h.dedent(LAYERS)
    architecture = {"m/Net.forward/x[0]": {"x": {"chosen_layer": "Act()", "chosen_inputs": []}}}
    with pytest.raises(annotator.ArchitectureMismatch, match=r"m/Net\.forward/x\[1\]"):
        inline_ir(parse_module(source, "m", "m.py"), architecture)
