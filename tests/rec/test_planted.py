"""The planted-truth generator: its Bayes-optimal loss, its structure and its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from nasctl import rec


@pytest.fixture(scope="module")
def planted() -> rec.PlantedCTR:
    return rec.make_planted("ci", seed=0)


def test_bayes_log_loss_matches_a_monte_carlo_estimate(planted):
    rng = np.random.default_rng(1)
    p = planted.probabilities
    draws = [rec.log_loss(rng.random(len(p)) < p, p) for _ in range(200)]
    estimate, error = np.mean(draws), np.std(draws) / np.sqrt(len(draws))
    assert abs(planted.bayes_log_loss() - estimate) < 4 * error + 1e-4


def test_labels_follow_the_planted_probabilities(planted):
    assert abs(planted.data.labels.mean() - rec.PRESETS["ci"].click_rate) < 0.02
    teacher = planted.teacher_metrics()
    assert teacher["auc"] > 0.75 and teacher["log_loss"] == pytest.approx(planted.bayes_log_loss(), abs=0.02)


def test_the_truth_has_irrelevant_features_and_reducible_cardinalities(planted):
    truth = planted.truth
    assert sum(rank == 0 for rank in truth.ranks) == 9 and len(truth.ranks) == rec.NUM_SPARSE
    assert all((c - 1) % h == 0 for c, h in zip(truth.cardinalities, truth.hash_sizes, strict=True))
    # the teacher never reads an irrelevant feature: one row represents it exactly
    assert [h for h, rank in zip(truth.hash_sizes, truth.ranks, strict=True) if rank == 0] == [1] * 9
    assert all(h >= 2 for h, rank in zip(truth.hash_sizes, truth.ranks, strict=True) if rank > 0)
    assert planted.data.sparse.max(axis=0).tolist() <= [c - 1 for c in truth.cardinalities]


def test_an_irrelevant_feature_does_not_move_the_probability():
    planted = rec.make_planted("ci", seed=0, rows=3000)
    irrelevant = planted.truth.ranks.index(0)
    column = planted.data.sparse[:, irrelevant]
    # rows that differ only in an irrelevant feature: group by every other column and compare p
    others = np.delete(planted.data.sparse, irrelevant, axis=1)
    keys = {}
    for row, key in enumerate(map(bytes, np.concatenate([others, planted.data.dense.view(np.int32)], axis=1))):
        keys.setdefault(key, []).append(row)
    assert all(np.ptp(planted.probabilities[rows]) < 1e-12 for rows in keys.values() if len(rows) > 1)
    assert len(np.unique(column)) > 1


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (rec.make_planted("ci", seed=s, rows=500) for s in (4, 4, 5))
    assert np.array_equal(a.data.sparse, b.data.sparse) and np.array_equal(a.probabilities, b.probabilities)
    assert not np.array_equal(a.data.sparse, c.data.sparse)


def test_splits_are_disjoint_and_cover_every_row(planted):
    for kind in ("random", "day"):
        parts = planted.splits(kind)
        rows = np.concatenate([np.arange(len(planted.data))[part] for part in parts.values()])
        assert sorted(rows.tolist()) == list(range(len(planted.data))), kind
    random = planted.splits("random")
    assert len(random["train"]) == 16000 and len(random["validation"]) == len(random["test"]) == 2000
    day = planted.splits("day")
    assert day["train"] == slice(0, 17143) and day["test"].stop == 20000


def test_a_flat_table_has_rank_equal_singular_values_under_its_row_frequencies():
    from nasctl.rec._planted import _flat_table

    rng = np.random.default_rng(0)
    frequency = 1.0 / np.arange(1, 17) ** 1.05
    frequency /= frequency.sum()  # Zipf-like, as the planted rows; every row above the clipping floor
    for rank in (1, 2, 4, 8):
        table = _flat_table(rng, frequency, rank, 8)
        second_moment = (table * frequency[:, None]).T @ table  # sum_i f_i T_i T_i^T
        eigenvalues = np.sort(np.linalg.eigvalsh(second_moment))[::-1]
        np.testing.assert_allclose(eigenvalues[:rank], 8 / rank, rtol=1e-9)
        np.testing.assert_allclose(eigenvalues[rank:], 0, atol=1e-9)
    assert np.linalg.matrix_rank(_flat_table(rng, np.full(3, 1 / 3), 8, 8)) == 3  # at most one direction a row


def test_the_flat_spectrum_keeps_the_rows_and_the_truth_and_changes_the_teacher():
    gaussian = rec.make_planted("ci", seed=2, rows=4000)
    flat = rec.make_planted("ci", seed=2, rows=4000, spectrum="flat")
    np.testing.assert_array_equal(gaussian.data.sparse, flat.data.sparse)
    np.testing.assert_array_equal(gaussian.data.dense, flat.data.dense)
    assert gaussian.truth.ranks == flat.truth.ranks and gaussian.truth.hash_sizes == flat.truth.hash_sizes
    assert not np.allclose(gaussian.probabilities, flat.probabilities)
    assert abs(flat.data.labels.mean() - rec.PRESETS["ci"].click_rate) < 0.03
    with pytest.raises(ValueError, match="spectrum must be one of gaussian, flat, got 'round'"):
        rec.make_planted("ci", rows=100, spectrum="round")


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="unknown preset 'tiny'; known: ci, cpu, gpu"):
        rec.make_planted("tiny")
