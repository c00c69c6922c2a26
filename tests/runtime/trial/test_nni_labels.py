"""Labels written by NNI (printed by a pretty-printer) name the same candidates as the source text."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import ArchitectureError

from nasctl import annotator
from nasctl.searchspace import check_layer_choice, choice_index


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


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def training_update(self, **kwargs: object) -> None:
        self.calls.append(kwargs)

    def close(self) -> None:
        pass


def test_training_update_takes_nnis_positional_forms(make_current) -> None:
    from nasctl.runtime.errors import TrialError
    from nasctl.runtime.trial import TrialContext
    from nasctl.runtime.trial._platform import StandalonePlatform

    import nas

    context = make_current(TrialContext(StandalonePlatform(search_space={}, seed=0)))
    recorder = _Recorder()
    context._backends[_Recorder] = recorder
    tf, sess, loss, feed = object(), object(), object(), {}
    nas.training_update(tf, sess)
    nas.training_update(tf, sess, loss)
    nas.training_update(tf, sess, loss, feed)
    nas.training_update(tf=tf, session=sess, loss=loss)
    assert recorder.calls == [
        {"tf": tf, "session": sess},
        {"tf": tf, "session": sess, "loss": loss},
        {"tf": tf, "session": sess, "loss": loss, "feed_dict": feed},
        {"tf": tf, "session": sess, "loss": loss},
    ]
    with pytest.raises(TrialError, match="both by position and by keyword"):
        nas.training_update(tf, sess, session=sess)
    with pytest.raises(TrialError, match="at most 4 positional"):
        nas.training_update(tf, sess, loss, feed, 5)
