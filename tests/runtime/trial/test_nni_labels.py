"""Labels written by NNI (printed by a pretty-printer) name the same candidates as the source text."""

from __future__ import annotations

import pytest

from nasctl import annotator
from nasctl.runtime.errors import ArchitectureError
from nasctl.runtime.trial._architecture import check_layer_choice, choice_index


def test_function_choice_label_matches_across_whitespace() -> None:
    labels = ["max_pool(h_conv1)", "avg_pool(h_conv2,h_conv3)"]
    assert choice_index("k", labels, "avg_pool(h_conv2, h_conv3)") == 1
    assert choice_index("k", ["2 * 3 + 4"], "(2 * 3 + 4)") == 0
    with pytest.raises(ArchitectureError, match="is not one of the choices"):
        choice_index("k", labels, "avg_pool(h_conv3, h_conv2)")


def test_string_value_is_not_a_number() -> None:
    with pytest.raises(ArchitectureError, match="is not one of the choices"):
        choice_index("k", ["2", 3], 2)


def test_layer_choice_returns_the_sources_label() -> None:
    label, inputs = check_layer_choice(
        "b", "mutable_layer_0", ["conv2d(size=3)", "conv2d( size = 5 )"], ["x [0]"], 1,
        {"chosen_layer": "conv2d(size=5)", "chosen_inputs": ["x[0]"]},
    )
    assert (label, inputs) == ("conv2d( size = 5 )", ("x [0]",))


def test_codegen_accepts_nnis_printing(tmp_path) -> None:
    src = tmp_path / "t.py"
    src.write_text(
        "def f(h_conv1, h_conv2, h_conv3):\n"
        '    """@nni.function_choice(max_pool(h_conv1), avg_pool(h_conv2,h_conv3), name=max_pool)"""\n'
        "    return max_pool(h_conv1)\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.py"
    annotator.inline_architecture(src, out, {"t/max_pool/function_choice": "avg_pool(h_conv2, h_conv3)"},
                                  key_style="nni")
    assert "return avg_pool(h_conv2,h_conv3)" in out.read_text(encoding="utf-8")
