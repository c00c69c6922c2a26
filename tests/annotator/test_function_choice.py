"""`function_choice`: the call named by `name=` in the next statement becomes a runtime choice; its
`trial codegen` and the hand-written `nas.function_choice(...)` of compiled code."""

from __future__ import annotations

import pytest

from nasctl import annotator


@pytest.mark.parametrize("prefix", ["nas", "nni"])
def test_string_function_choice_replaces_the_named_call(h, prefix: str) -> None:
    result = h.compile(
        f"""
        def f(h):
            '''@{prefix}.function_choice(max_pool(h, 2), avg_pool(h, 2), name=max_pool)'''
            h = max_pool(h, 2)
            return h
        """
    )
    assert h.body(result.code) == h.dedent(
        """
        def f(h):

            h = _nas.function_choice({"max_pool(h, 2)": lambda: max_pool(h, 2), "avg_pool(h, 2)": lambda: avg_pool(h, 2)}, key="m/max_pool/function_choice")
            return h
        """
    )
    assert result.search_space == {
        "m/max_pool/function_choice": {"_type": "choice", "_value": ["max_pool(h, 2)", "avg_pool(h, 2)"]}
    }


def test_comment_function_choice_inside_a_larger_expression(h) -> None:
    result = h.compile(
        """
        def f(x, w, b):
            # @nas.function_choice(tf.nn.relu(x @ w + b), tf.nn.sigmoid(x @ w + b),
            #                      name=tf.nn.relu)
            y = 2 * tf.nn.relu(x @ w + b) + 1  # scaled
            return y
        """
    )
    assert h.body(result.code) == h.dedent(
        """
        def f(x, w, b):


            y = 2 * _nas.function_choice({"tf.nn.relu(x @ w + b)": lambda: tf.nn.relu(x @ w + b), "tf.nn.sigmoid(x @ w + b)": lambda: tf.nn.sigmoid(x @ w + b)}, key="m/tf.nn.relu/function_choice") + 1  # scaled
            return y
        """
    )


def test_outermost_call_is_replaced_when_nested(h) -> None:
    result = h.compile(
        """
        '''@nas.function_choice(f(f(x)), g(x), name=f)'''
        y = f(f(x))
        """
    )
    assert 'y = _nas.function_choice({"f(f(x))": lambda: f(f(x)), "g(x)": lambda: g(x)}' in result.code


def test_return_statement_and_method_target(h) -> None:
    result = h.compile(
        """
        class Net:
            def act(self, x):
                '''@nas.function_choice(self.relu(x), self.gelu(x), name=self.relu)'''
                return self.relu(x)
        """
    )
    assert '        return _nas.function_choice({"self.relu(x)": lambda: self.relu(x),' in result.code
    assert list(result.search_space) == ["m/self.relu/function_choice"]


def test_function_choice_executes_the_first_candidate(h, run_with_fake_nas) -> None:
    result = h.compile(
        """
        def double(x):
            return 2 * x

        def square(x):
            return x * x

        # @nas.function_choice(square(7), double(7), name=square)
        y = square(7) + 1
        '''@nas.report_final_result(y)'''
        """
    )
    stdout, calls = run_with_fake_nas(result.code)
    assert calls[-1] == ["report_final_result", ["50"], []]
    assert calls[0][0] == "function_choice"


def test_codegen_writes_the_chosen_call(h) -> None:
    source = """
        def f(h):
            '''@nas.function_choice(max_pool(h, 2), avg_pool(h, 2), name=max_pool)'''
            h = max_pool(h, 2) + 1
            return h
        """
    # An architecture written by NNI prints the label with its own layout.
    for label in ("avg_pool(h, 2)", "avg_pool(h,2)"):
        assert h.inline(source, {"m/max_pool/function_choice": label}) == h.dedent(
            """
            def f(h):
                h = avg_pool(h, 2) + 1
                return h
            """
        )


def test_codegen_refuses_a_call_that_is_no_candidate(h) -> None:
    with pytest.raises(
        annotator.ArchitectureMismatch,
        match=r"key 'm/f/function_choice': 'h\(x\)' is not one of the candidates: f\(x\), g\(x\)",
    ):
        h.inline("# @nas.function_choice(f(x), g(x), name=f)\ny = f(x)\n", {"m/f/function_choice": "h(x)"})


def test_hand_written_function_choice_is_read_for_the_search_space(h) -> None:
    space = h.compile(
        """
        import nas
        y = nas.function_choice({"f(x)": lambda: f(x), "g(x)": lambda: g(x)}, key="act")
        """
    ).search_space
    assert space == {"act": {"_type": "choice", "_value": ["f(x)", "g(x)"]}}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("nas.function_choice(f, g, key='k')", r"its first argument must be a dict \{label: lambda: \.\.\.\}"),
        ("nas.function_choice({}, key='k')", r"it has no options"),
        ("nas.function_choice({'f': lambda: f()})", r'it needs key="\.\.\."'),
    ],
)
def test_hand_written_function_choice_mistakes(h, call: str, message: str) -> None:
    with pytest.raises(annotator.AnnotationError, match=message):
        h.compile(f"import nas\ny = {call}\n")
