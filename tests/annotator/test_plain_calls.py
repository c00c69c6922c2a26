"""Plain calls (`report_intermediate_result`, `report_final_result`, `get_next_parameter`,
`training_update`, `derive_architecture`): compiled to one runtime call, printed or dropped by
`trial codegen`; `training_update` in NNI's forms (mnist-nas v1.1: `@nni.training_update(tf, sess)`,
`@nni.training_update(tf, sess, mnist_network.cross_entropy)`)."""

from __future__ import annotations

import pytest

from nasctl import annotator


@pytest.mark.parametrize(
    ("annotation", "compiled"),
    [
        ("report_intermediate_result(acc)", "_nas.report_intermediate_result(acc)"),
        ("report_final_result(acc)", "_nas.report_final_result(acc)"),
        (
            "report_final_result({'default': acc, 'loss': loss})",
            "_nas.report_final_result({'default': acc, 'loss': loss})",
        ),
        ("get_next_parameter()", "_nas.get_next_parameter()"),
        ("training_update(loss=val_loss)", "_nas.training_update(loss=val_loss)"),
        (
            "training_update(loss = val_loss, step=i, **more)",
            "_nas.training_update(loss=val_loss, step=i, **more)",
        ),
    ],
)
@pytest.mark.parametrize("prefix", ["nas", "nni"])
@pytest.mark.parametrize("form", ["string", "comment"])
def test_plain_call_forms(h, annotation: str, compiled: str, prefix: str, form: str) -> None:
    written = f'"""@{prefix}.{annotation}"""' if form == "string" else f"# @{prefix}.{annotation}"
    result = h.compile(
        f"""
        for i in range(3):
            acc = i
            {written}
        print(acc)
        """
    )
    assert h.body(result.code) == f"for i in range(3):\n    acc = i\n    {compiled}\nprint(acc)\n"
    assert result.search_space == {}


def test_import_goes_after_docstring_and_future_imports(h) -> None:
    result = h.compile(
        '''
        #!/usr/bin/env python
        # -*- coding: utf-8 -*-
        """The docstring."""

        from __future__ import annotations
        from __future__ import division

        import os
        """@nas.get_next_parameter()"""
        '''
    )
    assert result.code == h.dedent(
        '''
        #!/usr/bin/env python
        # -*- coding: utf-8 -*-
        """The docstring."""

        from __future__ import annotations
        from __future__ import division
        import nas as _nas
        import os
        _nas.get_next_parameter()
        '''
    )


def test_import_goes_before_the_first_statement_after_header_comments(h) -> None:
    result = h.compile(
        """
        # Copyright notice
        # spanning two lines

        import os
        '''@nas.report_final_result(1)'''
        """
    )
    assert result.code.startswith("# Copyright notice\n# spanning two lines\nimport nas as _nas\nimport os\n")


def test_annotation_as_first_statement_is_not_a_docstring(h) -> None:
    result = h.compile(
        '''
        """@nas.get_next_parameter()"""
        x = 1
        '''
    )
    assert result.code == "import nas as _nas; _nas.get_next_parameter()\nx = 1\n"


def test_string_that_merely_contains_an_annotation_is_left_alone(h) -> None:
    source = h.dedent(
        '''
        """A docstring that shows how:

            @nas.report_final_result(x)
        """
        text = "@nas.report_final_result(x)"
        other = """
        # @nas.report_final_result(x)
        """
        #"""@nni.report_final_result(x)"""
        '''
    )
    result = h.compile(source)
    assert result.code == source
    assert result.search_space == {}


def test_file_without_annotations_is_returned_as_is(h) -> None:
    source = "import nas\nx = nas.get_trial_id()\n"
    assert h.compile(source).code == source


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (  # tab indentation
            "def f(x):\n\ty = x\n\t# @nas.report_final_result(y)\n\treturn y\n",
            "def f(x):\n\ty = x\n\t_nas.report_final_result(y)\n\treturn y\n",
        ),
        (  # a match case
            "match v:\n    case 1:\n        # @nas.report_final_result(1)\n        pass\n",
            "match v:\n    case 1:\n        _nas.report_final_result(1)\n        pass\n",
        ),
        (  # the end of a try block
            "try:\n    x = 1\n    # @nas.report_final_result(x)\nexcept E:\n    pass\n",
            "try:\n    x = 1\n    _nas.report_final_result(x)\nexcept E:\n    pass\n",
        ),
        (  # between two methods
            "class A:\n    def f(self): pass\n    # @nas.report_final_result(1)\n    def g(self): pass\n",
            "class A:\n    def f(self): pass\n    _nas.report_final_result(1)\n    def g(self): pass\n",
        ),
        (  # no line break at the end of the file
            "x = 1\n# @nas.report_final_result(x)",
            "x = 1\n_nas.report_final_result(x)",
        ),
        (  # old Mac line breaks
            "x = 1\r'''@nas.report_final_result(x)'''\rprint(x)\r",
            "x = 1\r_nas.report_final_result(x)\rprint(x)\r",
        ),
    ],
)
def test_placements(h, source: str, expected: str) -> None:
    code = h.compile(source).code
    assert h.body(code) == expected
    assert code.count("import nas as _nas") == 1


@pytest.mark.parametrize(
    "arguments",
    ["tf, sess", "tf, sess, mnist_network.cross_entropy", "tf, sess, loss, feed_dict",
     "tf=tf, session=sess, loss=loss, feed_dict=feed_dict", "tf, sess, loss=loss"],
)
def test_training_update_nni_forms_pass_through(h, arguments) -> None:
    result = h.compile(f'"""@nni.training_update({arguments})"""\n')
    assert f"_nas.training_update({arguments})" in result.code


def test_training_update_too_many_positional_arguments(h) -> None:
    with pytest.raises(annotator.AnnotationError, match=r"at most 4 positional arguments \(tf, session, loss, feed_dict\)"):
        h.compile('"""@nni.training_update(tf, sess, loss, feed, extra)"""\n')


def test_training_update_argument_by_position_and_keyword(h) -> None:
    with pytest.raises(annotator.AnnotationError, match="'session' is given by position and by keyword"):
        h.compile('"""@nni.training_update(tf, sess, session=sess)"""\n')


@pytest.mark.parametrize(
    "annotation", ["report_final_result(a, b)", "report_intermediate_result(x=1)", "report_final_result(*xs)"]
)
def test_a_report_takes_one_metric(h, annotation: str) -> None:
    with pytest.raises(annotator.AnnotationError, match="takes exactly one argument, the metric value"):
        h.compile(f"# @nas.{annotation}\n")


def test_codegen_prints_reports_and_drops_the_other_calls(h) -> None:
    inlined = h.inline(
        '''
        for epoch in range(3):
            """@nas.training_update(loss=loss)"""
            """@nas.report_intermediate_result(acc)"""
        if done:
            """@nas.get_next_parameter()"""
        # @nas.derive_architecture(evaluate)
        # @nas.report_final_result(acc)
        ''',
        {},
    )
    assert inlined == h.dedent(
        """
        for epoch in range(3):
            print("intermediate result:", acc)
        if done:
            pass
        print("final result:", acc)
        """
    )
