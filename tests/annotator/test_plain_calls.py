"""`report_intermediate_result`, `report_final_result`, `get_next_parameter`, `training_update`."""

from __future__ import annotations

import pytest


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
