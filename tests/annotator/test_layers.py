"""`mutable_layers` / `mutable_layer`: string and comment forms, both prefixes, every placement; their
`trial codegen` and the hand-written `nas.mutable_layer(...)` of compiled code."""

from __future__ import annotations

import pytest

from nasctl import annotator

SPEC = "{layer_choice: [ops.conv(size=3, ch=c), ops.pool(3)], fixed_inputs: [x], layer_output: h}"
LAYER = (
    'h = _nas.mutable_layer("{block}", "h", {{"ops.conv(size=3, ch=c)": (ops.conv, (), {{"size": 3, "ch": c}}), '
    '"ops.pool(3)": (ops.pool, (3,), {{}})}}, [x], {{}}, 0, "{mode}", {owner})'
)


@pytest.mark.parametrize("prefix", ["nas", "nni"])
@pytest.mark.parametrize("quote", ['"""', "'''", '"', "'"])
def test_string_layer_in_a_method(h, prefix: str, quote: str) -> None:
    result = h.compile(
        f"""
        class Net:
            def forward(self, x, c):
                {quote}@{prefix}.mutable_layer({SPEC}){quote}
                return h
        """
    )
    expected = h.dedent(
        f"""
        import nas as _nas
        class Net:
            def forward(self, x, c):
                {LAYER.format(block="m/Net.forward/h", mode="classic", owner="self")}
                return h
        """
    )
    assert result.code == expected


def test_the_design_example_two_layers_one_block(h) -> None:
    result = h.compile(
        '''
        class Net:
            def forward(self, x, skip1, skip2, c):
                """@nas.mutable_layers(
                    {
                        layer_choice: [ops.conv(size=3, ch=c), ops.conv(size=5, ch=c), ops.max_pool(size=3)],
                        fixed_inputs: [x],
                        optional_inputs: [skip1, skip2],
                        optional_input_size: [0, 1],
                        layer_output: h1
                    },
                    {   layer_choice: [ops.relu(), ops.tanh()], fixed_inputs: [h1], layer_output: h2 }
                )"""
                return h2
        ''',
        module="mnist",
    )
    assert h.body(result.code) == h.dedent(
        """
        class Net:
            def forward(self, x, skip1, skip2, c):
                h1 = _nas.mutable_layer("mnist/Net.forward/h1", "h1", {"ops.conv(size=3, ch=c)": (ops.conv, (), {"size": 3, "ch": c}), "ops.conv(size=5, ch=c)": (ops.conv, (), {"size": 5, "ch": c}), "ops.max_pool(size=3)": (ops.max_pool, (), {"size": 3})}, [x], {"skip1": skip1, "skip2": skip2}, [0, 1], "classic", self)
                h2 = _nas.mutable_layer("mnist/Net.forward/h1", "h2", {"ops.relu()": (ops.relu, (), {}), "ops.tanh()": (ops.tanh, (), {})}, [h1], {}, 0, "classic", self)""" + "\n" * 8 + """
                return h2
        """
    )
    assert result.search_space == {
        "mnist/Net.forward/h1": {
            "_type": "mutable_layer",
            "_value": {
                "h1": {
                    "layer_choice": [
                        "ops.conv(size=3, ch=c)",
                        "ops.conv(size=5, ch=c)",
                        "ops.max_pool(size=3)",
                    ],
                    "optional_inputs": ["skip1", "skip2"],
                    "optional_input_size": [0, 1],
                },
                "h2": {
                    "layer_choice": ["ops.relu()", "ops.tanh()"],
                    "optional_inputs": [],
                    "optional_input_size": 0,
                },
            },
        }
    }


@pytest.mark.parametrize("prefix", ["nas", "nni"])
def test_comment_layer_over_several_lines(h, prefix: str) -> None:
    result = h.compile(
        f"""
        def build(x, c):
            # @{prefix}.mutable_layer({{
            #     layer_choice: [ops.conv(size=3, ch=c),  # the small one
            #                    ops.pool(3)],
            #     fixed_inputs: [x], layer_output: h}})
            return h
        """
    )
    assert h.body(result.code) == h.dedent(
        """
        def build(x, c):
            h = _nas.mutable_layer("m/build/h", "h", {"ops.conv(size=3, ch=c)": (ops.conv, (), {"size": 3, "ch": c}), "ops.pool(3)": (ops.pool, (3,), {})}, [x], {}, 0, "classic", None)



            return h
        """
    )


def test_module_level_layer_has_no_scope_and_no_owner(h) -> None:
    result = h.compile(
        f"""
        x = 1
        c = 2
        '''@nas.mutable_layer({SPEC})'''
        print(h)
        """
    )
    assert LAYER.format(block="m/h", mode="classic", owner="None") in result.code
    assert list(result.search_space) == ["m/h"]


@pytest.mark.parametrize(
    ("header", "inner_indent"),
    [("with ctx() as x:", "    "), ("while x:", "    "), ("if x:", "    ")],  # for loops: test_loops.py
)
def test_layer_inside_loop_and_with_block(h, header: str, inner_indent: str) -> None:
    result = h.compile(
        f"""
        def run(x, c):
            {header}
                # @nas.mutable_layer({SPEC})
                print(h)
        """
    )
    layer = LAYER.format(block="m/run/h", mode="classic", owner="None")
    assert f"    {header}\n        {layer}\n        print(h)\n" in result.code


def test_nested_function_scope_is_dotted(h) -> None:
    result = h.compile(
        f"""
        def outer(x, c):
            def inner():
                '''@nas.mutable_layer({SPEC})'''
                return h
            return inner
        """
    )
    assert list(result.search_space) == ["m/outer.inner/h"]
    assert ', "classic", None)' in result.code


@pytest.mark.parametrize(
    ("decorator", "owner"), [("", "self"), ("@staticmethod", "None"), ("@classmethod", "None")]
)
def test_owner_is_first_parameter_of_a_method(h, decorator: str, owner: str) -> None:
    first = "x, c" if decorator == "@staticmethod" else "me, x, c"
    result = h.compile(
        f"""
        class Net:
            {decorator}
            def f({first}):
                '''@nas.mutable_layer({SPEC})'''
                return h
        """
    )
    expected_owner = "me" if owner == "self" else "None"
    assert result.code.rstrip().splitlines()[-2].endswith(f'"classic", {expected_owner})')


def test_block_name_keyword_names_the_block(h) -> None:
    result = h.compile(
        f"""
        def f(x, c):
            '''@nas.mutable_layers({SPEC}, name="stem")'''
            return h
        """
    )
    assert list(result.search_space) == ["m/f/stem"]


@pytest.mark.parametrize("mode", ["classic", "enas", "oneshot", "darts", "enas_mode", "darts_mode"])
def test_mode_is_a_constant_in_the_call(h, mode: str) -> None:
    result = h.compile(
        f"""
        def f(x, c):
            '''@nas.mutable_layer({SPEC})'''
            return h
        """,
        mode=mode,
    )
    assert f'"{annotator.normalize_mode(mode)}", None)' in result.code


def test_candidates_with_positional_star_and_double_star_arguments(h) -> None:
    result = h.compile(
        """
        def f(x, a, rest, extra):
            '''@nas.mutable_layer({layer_choice: [op(a, *rest, k=1, **extra)], fixed_inputs: [x], layer_output: h})'''
        """
    )
    assert '{"op(a, *rest, k=1, **extra)": (op, (a, *rest), {"k": 1, **extra})}' in result.code


def test_optional_inputs_may_be_expressions_and_use_earlier_layers(h) -> None:
    result = h.compile(
        """
        def f(self, x, xs):
            '''@nas.mutable_layers(
                {layer_choice: [a()], fixed_inputs: [x], layer_output: h1},
                {layer_choice: [b()], optional_inputs: [self.skip, xs[0], h1], optional_input_size: 2, layer_output: h2}
            )'''
        """
    )
    assert '{"self.skip": self.skip, "xs[0]": xs[0], "h1": h1}, 2, "classic", None)' in result.code
    layer = result.search_space["m/f/h1"]["_value"]["h2"]
    assert layer == {
        "layer_choice": ["b()"],
        "optional_inputs": ["self.skip", "xs[0]", "h1"],
        "optional_input_size": 2,
    }


def test_nni_key_style_numbers_blocks_by_last_line_and_layers_by_position(h) -> None:
    result = h.compile(
        """
        def f(x):
            y = x

            '''@nni.mutable_layers(
                {layer_choice: [a()], fixed_inputs: [x], layer_output: h1},
                {layer_choice: [b()], fixed_inputs: [h1], layer_output: h2})'''
        """,
        module="pkg.mod",
        key_style="nni",
    )
    assert list(result.search_space) == ["pkg.mod/mutable_block_6"]
    assert list(result.search_space["pkg.mod/mutable_block_6"]["_value"]) == [
        "mutable_layer_0",
        "mutable_layer_1",
    ]
    assert 'h2 = _nas.mutable_layer("pkg.mod/mutable_block_6", "mutable_layer_1",' in result.code


def test_one_line_compound_statement_joins_layers_with_semicolons(h) -> None:
    result = h.compile(
        """
        def f(x):
            if x: '''@nas.mutable_layers({layer_choice: [a()], fixed_inputs: [x], layer_output: h1}, {layer_choice: [b()], fixed_inputs: [x], layer_output: h2})'''
        """
    )
    line = result.code.splitlines()[2]
    assert line.startswith("    if x: h1 = _nas.mutable_layer(") and "; h2 = _nas.mutable_layer(" in line


def test_compiled_layers_execute_on_the_runtime_contract(h, run_with_fake_nas) -> None:
    result = h.compile(
        '''
        def double(inputs, k):
            fixed, chosen = inputs
            return sum(fixed) * k + sum(chosen)

        def f(x, skip):
            """@nas.mutable_layers(
                {layer_choice: [double(k=2), double(k=3)], fixed_inputs: [x], optional_inputs: [skip],
                 optional_input_size: [1, 1], layer_output: h1},
                {layer_choice: [double(k=10)], fixed_inputs: [h1, x], layer_output: h2})"""
            return h2

        """@nas.report_final_result(f(1, 100))"""
        '''
    )
    stdout, calls = run_with_fake_nas(result.code)
    # h1 = 1*2 + 100 = 102; h2 = (102 + 1) * 10 = 1030
    assert calls[-1] == ["report_final_result", ["1030"], []]
    assert [c[0] for c in calls] == ["mutable_layer", "mutable_layer", "report_final_result"]


def test_star_import_silences_the_undefined_input_check(h) -> None:
    result = h.compile(
        """
        from ops import *
        '''@nas.mutable_layer({layer_choice: [conv()], fixed_inputs: [stem_output], layer_output: h})'''
        """
    )
    assert '[stem_output], {}, 0, "classic", None)' in result.code


def test_same_block_key_twice_is_shared_if_equal_and_an_error_if_not(h) -> None:
    shared = h.compile(
        """
        def f(x, y, c):
            if c:
                '''@nas.mutable_layer({layer_choice: [a(), b()], fixed_inputs: [x], layer_output: h})'''
            else:
                '''@nas.mutable_layer({layer_choice: [a(), b()], fixed_inputs: [y], layer_output: h})'''
            return h
        """
    )
    assert list(shared.search_space) == ["m/f/h"]
    assert shared.code.count('_nas.mutable_layer("m/f/h", "h",') == 2
    with pytest.raises(
        annotator.AnnotationError, match=r"key 'm/f/h' is defined here differently from line 3"
    ) as caught:
        h.compile(
            """
            def f(x, y, c):
                if c:
                    '''@nas.mutable_layer({layer_choice: [a(), b()], fixed_inputs: [x], layer_output: h})'''
                else:
                    '''@nas.mutable_layer({layer_choice: [a()], fixed_inputs: [y], layer_output: h})'''
                return h
            """
        )
    assert caught.value.line == 5


def test_codegen_calls_the_chosen_candidate_on_the_chosen_inputs(h) -> None:
    inlined = h.inline(
        '''
        """Doc."""
        def f(x, skip):
            """@nas.mutable_layers(
                {layer_choice: [conv(3), pool(k=2)], fixed_inputs: [x], optional_inputs: [skip],
                 optional_input_size: [0, 1], layer_output: h},
                {layer_choice: [relu()], fixed_inputs: [h], layer_output: g}
            )"""
            # @nas.mutable_layer({layer_choice: [tanh()], fixed_inputs: [x], layer_output: out}, name="last")
            return out
        ''',
        {
            "m/f/h": {"h": {"chosen_layer": "pool(k=2)", "chosen_inputs": ["skip"]},
                      "g": {"chosen_layer": "relu()", "chosen_inputs": []}},
            "m/f/last": {"out": {"chosen_layer": "tanh()", "chosen_inputs": []}},
        },
    )
    head, helper_and_body = inlined.split("\n", 1)
    assert head == '"""Doc."""'
    assert inlined.count("def _nas_layer(owner, key, callee, inputs, *args, **kwargs):") == 1
    assert helper_and_body.endswith(
        h.dedent(
            """
            def f(x, skip):
                h = _nas_layer(None, "m_f_h__h__1", pool, [[x], [skip]], k=2)
                g = _nas_layer(None, "m_f_h__g__0", relu, [[h], []])
                out = _nas_layer(None, "m_f_last__out__0", tanh, [[x], []])
                return out
            """
        )
    )


def test_hand_written_mutable_layers_merge_into_blocks(h) -> None:
    space = h.compile(
        """
        import nas
        def f(x, s):
            a = nas.mutable_layer("blk", "a", {"f()": (f, (), {})}, [x], {"s": s}, [0, 1], "classic", None)
            b = nas.mutable_layer("blk", "b", {"g()": (g, (), {}), "k()": (k, (), {})}, [a], {}, 0, "classic", None)
        """
    ).search_space
    assert space == {
        "blk": {
            "_type": "mutable_layer",
            "_value": {
                "a": {"layer_choice": ["f()"], "optional_inputs": ["s"], "optional_input_size": [0, 1]},
                "b": {"layer_choice": ["g()", "k()"], "optional_inputs": [], "optional_input_size": 0},
            },
        }
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('nas.mutable_layer("blk", "a", {}, [x])', r"expected at least 6 positional arguments"),
        ('nas.mutable_layer("blk", "a", [f], [x], {}, 0, "classic", None)', r"candidates and optional inputs must be dicts"),
        ('nas.mutable_layer("blk", name, {}, [x], {}, 0, "classic", None)', r"the layer key must be a literal, not 'name'"),
    ],
)
def test_hand_written_mutable_layer_mistakes(h, call: str, message: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=message):
        h.compile(f"import nas\nx = 1\nh = {call}\n")
