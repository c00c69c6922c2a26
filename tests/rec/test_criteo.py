"""The Criteo reader on files written by the planted generator (with empty fields), its cache and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasctl import rec
from nasctl.rec import _criteo


@pytest.fixture(scope="module")
def planted() -> rec.PlantedCTR:
    return rec.make_planted("ci", seed=3, rows=600)


def test_hash_mode_reads_back_exactly_what_was_written(planted, tmp_path):
    path = tmp_path / "day.txt"
    planted.write_criteo(path)
    text = path.read_text().splitlines()
    assert any("\t\t" in line for line in text), "the planted data must exercise empty fields"
    data = rec.read_criteo(path, hash_size=max(planted.data.cardinalities), cache_dir=tmp_path / "cache")
    assert np.array_equal(data.sparse, planted.data.sparse)
    assert np.array_equal(data.labels, planted.data.labels)
    np.testing.assert_allclose(data.dense, planted.data.dense, rtol=1e-6)
    assert isinstance(data.dense, np.memmap)


def test_dense_values_are_log_of_count_plus_one_and_negatives_are_zero(tmp_path):
    path = tmp_path / "tiny.txt"
    fields = ["1", "-3", "", "0", "7"] + [""] * 9 + ["a1", ""] + ["ff"] * 24
    path.write_text("\t".join(fields) + "\n")
    data = rec.read_criteo(path, hash_size=100, cache_dir=tmp_path)
    np.testing.assert_allclose(data.dense[0, :4], [0.0, 0.0, 0.0, np.log(8.0)], rtol=1e-6)
    assert data.sparse[0, 0] == 0xA1 % 99 + 1 and data.sparse[0, 1] == 0
    assert data.labels[0] == 1.0


def test_frequency_mode_indexes_by_falling_count_with_a_minimum(tmp_path):
    path = tmp_path / "freq.txt"
    rows = []
    for value in ["b"] * 3 + ["a"] * 3 + ["c"] * 2 + ["d"] + [""]:
        rows.append("\t".join(["0"] + ["1"] * 13 + [value] * 26))
    path.write_text("\n".join(rows) + "\n")
    data = rec.read_criteo(path, categorical="frequency", min_count=2, cache_dir=tmp_path)
    # a and b seen 3 times (ties by value: a first), c twice, d once (rare: 0), empty: 0
    assert data.sparse[:, 0].tolist() == [2, 2, 2, 1, 1, 1, 3, 3, 0, 0]
    assert data.cardinalities == (4,) * 26


def test_small_chunks_give_the_same_arrays(planted, tmp_path):
    path = tmp_path / "day.txt"
    planted.write_criteo(path)
    size = max(planted.data.cardinalities)
    whole = rec.read_criteo(path, hash_size=size, cache_dir=tmp_path / "a")
    streamed = rec.read_criteo(path, hash_size=size, cache_dir=tmp_path / "b", chunk_lines=7)
    for name in ("dense", "sparse", "labels"):
        assert np.array_equal(getattr(whole, name), getattr(streamed, name)), name


def test_second_read_opens_the_cache_without_parsing(planted, tmp_path, monkeypatch):
    path = tmp_path / "day.txt"
    planted.write_criteo(path, rows=slice(0, 50))
    first = rec.read_criteo(path, cache_dir=tmp_path / "cache")

    def parse_again(*_args, **_kwargs):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(_criteo, "_build_cache", parse_again)
    second = rec.read_criteo(path, cache_dir=tmp_path / "cache")
    assert np.array_equal(first.sparse, second.sparse)
    with pytest.raises(AssertionError, match="parsed again"):     # other options: another cache entry
        rec.read_criteo(path, categorical="frequency", cache_dir=tmp_path / "cache")


def test_a_malformed_line_is_named_and_leaves_no_cache(tmp_path):
    path = tmp_path / "bad.txt"
    good = "\t".join(["0"] + ["1"] * 13 + ["ab"] * 26)
    path.write_text(good + "\n" + "\t".join(["2"] + ["1"] * 13 + ["ab"] * 26) + "\n")
    with pytest.raises(rec.CriteoFormatError, match=r"bad.txt:2: the label must be 0 or 1, got '2'"):
        rec.read_criteo(path, cache_dir=tmp_path / "cache")
    path.write_text(good + "\n" + good + "\n1\t2\n")
    with pytest.raises(rec.CriteoFormatError, match=r"bad.txt:3: expected 40 tab-separated fields .* got 2"):
        rec.read_criteo(path, cache_dir=tmp_path / "cache")
    path.write_text(good.replace("\t1\t", "\tx\t", 1) + "\n")
    with pytest.raises(rec.CriteoFormatError, match=r"bad.txt:1: invalid literal"):
        rec.read_criteo(path, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(rec.CriteoFormatError, match="nothing.txt: cannot read"):
        rec.read_criteo(tmp_path / "nothing.txt")
