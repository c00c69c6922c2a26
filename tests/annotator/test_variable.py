"""`variable`: every sampling function, string and comment forms, both prefixes, every kind of target;
its `trial codegen` and the hand-written sampling calls of compiled code."""

from __future__ import annotations

import pytest

from nasctl import annotator

SAMPLERS = [
    ("choice", "0.1, 0.01, 0.001", [0.1, 0.01, 0.001]),
    ("randint", "2, 8", [2, 8]),
    ("uniform", "0, 1", [0, 1]),
    ("quniform", "0, 10, 2", [0, 10, 2]),
    ("loguniform", "1e-4, 1e-1", [1e-4, 1e-1]),
    ("qloguniform", "1, 100, 1", [1, 100, 1]),
    ("normal", "0, 1.5", [0, 1.5]),
    ("qnormal", "-1, 2, 0.5", [-1, 2, 0.5]),
    ("lognormal", "0, 1", [0, 1]),
    ("qlognormal", "1, 0.5, 2", [1, 0.5, 2]),
]


@pytest.mark.parametrize(("function", "arguments", "values"), SAMPLERS)
@pytest.mark.parametrize("prefix", ["nas", "nni"])
def test_string_variable_every_sampling_function(
    h, function: str, arguments: str, values: list, prefix: str
) -> None:
    result = h.compile(
        f"""
        def train():
            '''@{prefix}.variable({prefix}.{function}({arguments}), name=rate)'''
            rate = 0.5
            return rate
        """
    )
    assert h.body(result.code) == h.dedent(
        f"""
        def train():

            rate = _nas.{function}({arguments}, key="m/rate/{function}")
            return rate
        """
    )
    assert result.search_space == {f"m/rate/{function}": {"_type": function, "_value": values}}


@pytest.mark.parametrize("prefix", ["nas", "nni"])
def test_comment_variable_one_line(h, prefix: str) -> None:
    result = h.compile(
        f"""
        # @{prefix}.variable({prefix}.choice(0.1, 0.01, 0.001), name=learning_rate)
        learning_rate = 0.1
        """
    )
    assert (
        h.body(result.code) == 'learning_rate = _nas.choice(0.1, 0.01, 0.001, key="m/learning_rate/choice")\n'
    )


def test_comment_variable_over_several_lines_keeps_the_trailing_comment(h) -> None:
    result = h.compile(
        """
        def f(args):
            x = 1
            # @nas.variable(nas.choice(
            #     16, 32,  # small
            #     64),
            #   name=args['batch'])
            args['batch'] = 32  # the batch size
            return x
        """
    )
    assert h.body(result.code) == h.dedent(
        """
        def f(args):
            x = 1




            args['batch'] = _nas.choice(16, 32, 64, key="m/args['batch']/choice")  # the batch size
            return x
        """
    )


@pytest.mark.parametrize(
    ("target", "statement"),
    [
        ("lr", "lr = 0.1"),
        ("self.lr", "self.lr = 0.1"),
        ("args['lr']", "args['lr'] = 0.1"),
        ("lr", "lr: float = 0.1"),
    ],
)
def test_targets_name_attribute_subscript_and_annotated(h, target: str, statement: str) -> None:
    result = h.compile(
        f"""
        class Trainer:
            def __init__(self, args):
                '''@nas.variable(nas.uniform(0, 1), name={target})'''
                {statement}
        """
    )
    head = statement[: statement.index("= 0.1")]
    assert f'        {head}= _nas.uniform(0, 1, key="m/{target}/uniform")\n' in result.code


def test_subscript_target_matches_whatever_quotes(h) -> None:
    result = h.compile(
        """
        '''@nas.variable(nas.choice(1, 2), name=args["lr"])'''
        args['lr'] = 1
        """
    )
    assert 'args[\'lr\'] = _nas.choice(1, 2, key="m/args[\\"lr\\"]/choice")' in result.code


def test_non_literal_options_get_labels_and_are_keyed_by_source(h) -> None:
    result = h.compile(
        """
        import torch
        '''@nas.variable(nas.choice(torch.relu, torch.tanh, "sigmoid"), name=act)'''
        act = torch.relu
        """
    )
    assert (
        'act = _nas.choice(torch.relu, torch.tanh, "sigmoid", key="m/act/choice", '
        'labels=["torch.relu", "torch.tanh", "\\"sigmoid\\""])'
    ) in result.code
    assert result.search_space["m/act/choice"]["_value"] == ["torch.relu", "torch.tanh", '"sigmoid"']


def test_literal_options_keep_their_json_values(h) -> None:
    result = h.compile(
        """
        '''@nas.variable(nas.choice(-1, 2.5, "adam", True, None), name=opt)'''
        opt = 1
        """
    )
    assert result.search_space["m/opt/choice"]["_value"] == [-1, 2.5, "adam", True, None]
    assert 'opt = _nas.choice(-1, 2.5, "adam", True, None, key="m/opt/choice")' in result.code


def test_variable_in_a_loop_and_a_with_block(h) -> None:
    result = h.compile(
        """
        for step in range(3):
            with open("f") as f:
                '''@nas.variable(nas.choice(50, 250), name=batch_size)'''
                batch_size = 50
        """
    )
    # inside a counted loop, one key per iteration (tests/annotator/test_loops.py)
    assert ('        batch_size = _nas.choice(50, 250, key=_nas.loop_key("m/batch_size/choice", (step,), (3,)))\n'
            in result.code)
    assert list(result.search_space) == [f"m/batch_size/choice[{i}]" for i in range(3)]


def test_annotation_sharing_a_line_with_its_target(h) -> None:
    result = h.compile(
        """
        '''@nas.variable(nas.choice(1, 2), name=x)'''; x = 1
        """
    )
    assert h.body(result.code) == 'x = _nas.choice(1, 2, key="m/x/choice")\n'


def test_same_name_same_definition_twice_shares_one_key(h) -> None:
    result = h.compile(
        """
        def a(self):
            '''@nas.variable(nas.choice(1, 2), name=self.k)'''
            self.k = 1

        def b(self):
            # @nas.variable(nas.choice(1, 2), name=self.k)
            self.k = 2
        """
    )
    assert list(result.search_space) == ["m/self.k/choice"]
    assert result.code.count('key="m/self.k/choice"') == 2


def test_nni_key_style_writes_names_like_nni(h) -> None:
    result = h.compile(
        """
        '''@nni.variable(nni.choice(1, 2), name=args["lr"])'''
        args["lr"] = 1
        """,
        key_style="nni",
    )
    assert list(result.search_space) == ["m/args['lr']/choice"]


def test_compiled_variables_execute(h, run_with_fake_nas) -> None:
    result = h.compile(
        """
        class Box:
            pass

        box = Box()
        args = {}
        '''@nas.variable(nas.choice(0.1, 0.01), name=lr)'''
        lr = 0.5
        # @nas.variable(nas.randint(2, 9), name=box.depth)
        box.depth = 1
        '''@nas.variable(nas.qnormal(3, 1, 1), name=args["w"])'''
        args["w"] = 0
        '''@nas.report_final_result(lr + box.depth + args["w"])'''
        """
    )
    stdout, calls = run_with_fake_nas(result.code)
    assert calls[-1] == ["report_final_result", ["5.1"], []]
    assert [c[:2] for c in calls[:3]] == [
        ["choice", ["'m/lr/choice'"]],
        ["randint", ["'m/box.depth/randint'"]],
        ["qnormal", ["'m/args[\"w\"]/qnormal'"]],
    ]


def test_annotation_followed_by_a_comment_leaves_the_comment(h) -> None:
    result = h.compile(
        """
        def f():
            '''@nas.variable(nas.choice(1, 2), name=x)'''  # how many
            x = 1
            return x
        """
    )
    assert h.body(result.code) == h.dedent(
        """
        def f():
            # how many
            x = _nas.choice(1, 2, key="m/x/choice")
            return x
        """
    )


def test_codegen_writes_the_chosen_option_as_written(h) -> None:
    source = """
        # @nas.variable(nas.choice(relu, tanh), name=act)
        act = relu
        '''@nas.variable(nas.choice(0.1, 0.01), name=self.lr)'''
        self.lr: float = 0.1
        '''@nas.variable(nas.uniform(0, 1), name=rate)'''
        rate = 0.5
        """
    architecture = {"m/act/choice": "tanh", "m/self.lr/choice": 0.01, "m/rate/uniform": 0.25}
    assert h.inline(source, architecture) == h.dedent(
        """
        act = tanh
        self.lr: float = 0.01
        rate = 0.25
        """
    )


@pytest.mark.parametrize(
    ("function", "arguments", "value", "message"),
    [
        ("choice", "1, 2", 3, r"key 'm/x/choice': 3 is not one of the options: 1, 2"),
        ("choice", "1, 2", True, r"True is not one of the options"),
        ("uniform", "0, 1", 2, r"key 'm/x/uniform': 2 is outside uniform's range \[0, 1\]"),
        ("randint", "0, 4", 4, r"4 is outside randint's range \[0, 4\)"),
        ("randint", "0, 4", 1.5, r"randint value 1.5 is not an integer in \[0, 4\)"),
        ("normal", "0, 1", "a", r"normal needs a number, got 'a'"),
    ],
)
def test_codegen_refuses_a_value_outside_the_variable(
    h, function: str, arguments: str, value: object, message: str
) -> None:
    with pytest.raises(annotator.ArchitectureMismatch, match=message) as caught:
        h.inline(f"# @nas.variable(nas.{function}({arguments}), name=x)\nx = 1\n", {f"m/x/{function}": value})
    assert caught.value.line == 1


def test_hand_written_sampling_calls_are_read_for_the_search_space(h) -> None:
    space = h.compile(
        """
        import nas, nni
        act = nas.choice(relu, tanh, key="act")
        width = nas.choice(16, 32, key="width")
        compiled = nas.choice(relu, tanh, key="labelled", labels=["relu", "tanh"])
        lr = nni.loguniform(1e-4, 1e-1, name="lr")
        """
    ).search_space
    assert space == {
        "act": {"_type": "choice", "_value": ["relu", "tanh"]},
        "width": {"_type": "choice", "_value": [16, 32]},
        "labelled": {"_type": "choice", "_value": ["relu", "tanh"]},
        "m/lr/loguniform": {"_type": "loguniform", "_value": [0.0001, 0.1]},
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("nas.uniform(0, key='k')", r"hand-written nas.uniform\(\.\.\.\): uniform takes 2 numbers, got 1"),
        ("nas.uniform(0, n, key='k')", r"arguments of uniform must be number literals"),
        ("nas.choice(key='k')", r"hand-written nas.choice\(\.\.\.\): it has no options"),
    ],
)
def test_hand_written_sampling_call_mistakes(h, call: str, message: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=message):
        h.compile(f"import nas\nx = {call}\n")


def test_options_equal_as_json_are_duplicates(h) -> None:
    # The search space's equality (`nasctl.searchspace.json_equal`): 1 is 1.0, True is not 1.
    with pytest.raises(annotator.AnnotationError, match=r"duplicate option 1\.0 in choice"):
        h.compile("# @nas.variable(nas.choice(1, 1.0), name=x)\nx = 1\n")
    assert h.compile("# @nas.variable(nas.choice(1, True), name=x)\nx = 1\n").search_space == {
        "m/x/choice": {"_type": "choice", "_value": [1, True]}
    }
