"""`training_update` in NNI's forms (mnist-nas v1.1: `@nni.training_update(tf, sess)`,
`@nni.training_update(tf, sess, mnist_network.cross_entropy)`), passed through to the runtime."""

from __future__ import annotations

import pytest

from nasctl import annotator


@pytest.mark.parametrize(
    "arguments",
    ["tf, sess", "tf, sess, mnist_network.cross_entropy", "tf, sess, loss, feed_dict",
     "tf=tf, session=sess, loss=loss, feed_dict=feed_dict", "tf, sess, loss=loss"],
)
def test_nni_forms_pass_through(h, arguments) -> None:
    result = h.compile(f'"""@nni.training_update({arguments})"""\n')
    assert f"_nas.training_update({arguments})" in result.code


def test_too_many_positional_arguments(h) -> None:
    with pytest.raises(annotator.AnnotationError, match=r"at most 4 positional arguments \(tf, session, loss, feed_dict\)"):
        h.compile('"""@nni.training_update(tf, sess, loss, feed, extra)"""\n')


def test_argument_by_position_and_keyword(h) -> None:
    with pytest.raises(annotator.AnnotationError, match="'session' is given by position and by keyword"):
        h.compile('"""@nni.training_update(tf, sess, session=sess)"""\n')
