"""`expand_annotations` on files and directory trees: copies, encodings, one error per bad file, atomic output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasctl import annotator

ANNOTATED = "x = 1\n# @nas.variable(nas.choice(1, 2), name=x)\nx = 2\n"


def make_tree(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "train.py").write_text(ANNOTATED, encoding="utf-8")
    (root / "models" / "__init__.py").write_text("", encoding="utf-8")
    (root / "models" / "cnn.py").write_text(
        "def f(a):\n    '''@nni.mutable_layer({layer_choice: [g()], fixed_inputs: [a], layer_output: b})'''\n    return b\n",
        encoding="utf-8",
    )
    (root / "models" / "plain.py").write_text("import os  # no annotations here\n", encoding="utf-8")
    (root / "config.yml").write_text("epochs: 3\n", encoding="utf-8")
    (root / "run.sh").write_text("#!/bin/sh\npython train.py\n", encoding="utf-8")
    os.chmod(root / "run.sh", 0o755)
    return root


def test_directory_tree_is_compiled_and_copied(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    space = annotator.expand_annotations(src, tmp_path / "dst", "oneshot_mode")
    dst = tmp_path / "dst"
    assert sorted(space) == ["models.cnn/f/b", "train/x/choice"]
    assert (dst / "train.py").read_text(encoding="utf-8") == (
        'import nas as _nas; x = 1\n\nx = _nas.choice(1, 2, key="train/x/choice")\n'
    )
    assert '"models.cnn/f/b", "b",' in (dst / "models" / "cnn.py").read_text(encoding="utf-8")
    assert '"oneshot", None)' in (dst / "models" / "cnn.py").read_text(encoding="utf-8")
    for same in ("models/__init__.py", "models/plain.py", "config.yml", "run.sh"):
        assert (dst / same).read_bytes() == (src / same).read_bytes()
    assert os.access(dst / "run.sh", os.X_OK)


def test_single_file_into_a_file_or_a_directory(tmp_path: Path) -> None:
    src = tmp_path / "train.py"
    src.write_text(ANNOTATED, encoding="utf-8")
    assert list(annotator.expand_annotations(src, tmp_path / "out.py")) == ["train/x/choice"]
    (tmp_path / "outdir").mkdir()
    annotator.expand_annotations(src, tmp_path / "outdir")
    assert (tmp_path / "outdir" / "train.py").read_text(encoding="utf-8") == (tmp_path / "out.py").read_text(
        encoding="utf-8"
    )


def test_a_second_compile_replaces_the_first(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    annotator.expand_annotations(src, tmp_path / "dst")
    (src / "config.yml").unlink()
    annotator.expand_annotations(src, tmp_path / "dst")
    assert not (tmp_path / "dst" / "config.yml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]  # no temporary folders left


def test_one_error_per_bad_file_and_nothing_written(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    (src / "bad_one.py").write_text("'''@nas.variable(nas.choice(1, 2))'''\nx = 1\n", encoding="utf-8")
    (src / "models" / "bad_two.py").write_text(
        "x = 1\n\n# @nas.report_final_result(x, y)\n", encoding="utf-8"
    )
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "previous.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(annotator.AnnotationErrors) as caught:
        annotator.expand_annotations(src, tmp_path / "dst")
    errors = caught.value.errors
    assert [(Path(e.path).name, e.line) for e in errors] == [("bad_one.py", 1), ("bad_two.py", 3)]
    rendered = caught.value.render()
    assert "bad_one.py:1:5: error: variable needs name=" in rendered
    assert "bad_two.py:3:4: error: report_final_result takes exactly one argument" in rendered
    assert rendered.endswith("2 errors in 2 files")
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["previous.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_a_single_bad_file_raises_a_plain_annotation_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.py"
    src.write_text("'''@nas.mutable_layer({layer_choice: [f()]})'''\n", encoding="utf-8")
    with pytest.raises(annotator.AnnotationError, match="layer spec has no 'layer_output'") as caught:
        annotator.expand_annotations(src, tmp_path / "out.py")
    assert type(caught.value) is annotator.AnnotationError
    assert not (tmp_path / "out.py").exists()


def test_non_utf8_file_is_an_error_with_position(tmp_path: Path) -> None:
    src = tmp_path / "latin.py"
    src.write_bytes(b"x = 1\ns = '\xe9t\xe9'\n'''@nas.report_final_result(x)'''\n")
    with pytest.raises(annotator.AnnotationError, match=r"not valid UTF-8 \(byte 0xe9\)") as caught:
        annotator.expand_annotations(src, tmp_path / "out.py")
    assert (caught.value.line, caught.value.column) == (2, 6)


def test_declared_encoding_bom_and_crlf_are_kept(tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(
        b"# -*- coding: latin-1 -*-\r\ns = '\xe9t\xe9'\r\n'''@nas.report_final_result(s)'''\r\n"
    )
    annotator.expand_annotations(latin, tmp_path / "latin_out.py")
    assert (tmp_path / "latin_out.py").read_bytes() == (
        b"# -*- coding: latin-1 -*-\r\nimport nas as _nas; s = '\xe9t\xe9'\r\n_nas.report_final_result(s)\r\n"
    )
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfx = 1\n'''@nas.report_final_result(x)'''\n")
    annotator.expand_annotations(bom, tmp_path / "bom_out.py")
    assert (
        tmp_path / "bom_out.py"
    ).read_bytes() == b"\xef\xbb\xbfimport nas as _nas; x = 1\n_nas.report_final_result(x)\n"


def test_unparsable_python_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "broken.py").write_text(
        "def f(:\n    '''@nas.report_final_result(1)'''\n", encoding="utf-8"
    )
    with pytest.raises(annotator.AnnotationError, match="invalid Python") as caught:
        annotator.generate_search_space(tmp_path / "src")
    assert caught.value.line == 1


def test_broken_python_without_annotations_is_copied_untouched(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "template.py").write_text("{{ not python }}\n", encoding="utf-8")
    annotator.expand_annotations(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "dst" / "template.py").read_text(encoding="utf-8") == "{{ not python }}\n"


def test_missing_source_and_destination_inside_source(tmp_path: Path) -> None:
    with pytest.raises(annotator.AnnotationError, match="no such file or directory"):
        annotator.expand_annotations(tmp_path / "nope", tmp_path / "dst")
    src = make_tree(tmp_path / "src")
    with pytest.raises(annotator.AnnotationError, match="would overwrite the source"):
        annotator.expand_annotations(src, src)
    annotator.expand_annotations(src, src / "build")  # a destination inside the source is skipped
    assert not (src / "build" / "build").exists()
    assert (src / "build" / "train.py").exists()


def test_a_file_is_never_compiled_over_itself(tmp_path: Path) -> None:
    src = tmp_path / "train.py"
    src.write_text(ANNOTATED, encoding="utf-8")
    with pytest.raises(annotator.AnnotationError, match="would overwrite the source"):
        annotator.expand_annotations(src, tmp_path)
    assert src.read_text(encoding="utf-8") == ANNOTATED


def test_a_directory_is_not_compiled_over_a_file(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    (tmp_path / "dst").write_text("a file", encoding="utf-8")
    with pytest.raises(annotator.AnnotationError, match="the destination exists and is a file"):
        annotator.expand_annotations(src, tmp_path / "dst")
    assert (tmp_path / "dst").read_text(encoding="utf-8") == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]
