"""Synthetic CTR data with a planted truth, so that search quality can be checked without Criteo.

A teacher with DLRM's structure labels the rows. Each sparse feature j has a true hash size h_j (the
teacher sees only `index % h_j`, so any table whose size is a multiple of h_j loses nothing) and a
true embedding rank r_j (0: the feature is irrelevant). Its cardinality is h_j times a multiplier, so
a search over hash sizes has room to shrink. An irrelevant feature's true hash size is 1: the teacher
never reads it, so one row (a constant) represents it exactly, whatever its number of values. Dense features are integer counts (13, as in Criteo),
fed as `log(x + 1)`; any value may be missing (written as an empty field).

The teacher's logit, with x the standardised dense features, z = x B the bottom vector and
e_j = E_j[index_j % h_j] P_j each feature's vector in R^d (zero where r_j = 0):

    t = w.x + sum_j u.e_j + (1 / d) sum_{a < b} <v_a, v_b>,   v = (z, e_1, ..., e_26)    (DLRM's dot interaction)
    p = sigmoid(s t + o),   label ~ Bernoulli(p)

with s, o fixed so that the logit's standard deviation and the mean click rate take the preset's
values. The Bayes-optimal predictor is p itself, so the best possible expected test log loss is
mean_i H(p_i), H the binary entropy: `bayes_log_loss` computes it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nasctl.rec._criteo import NUM_DENSE, NUM_SPARSE, write_criteo
from nasctl.rec._data import CTRData, day_split_rows, random_split_rows
from nasctl.rec._metrics import binary_entropy, ctr_metrics

__all__ = ["PRESETS", "SPECTRA", "PlantedCTR", "PlantedPreset", "PlantedTruth", "make_planted"]


@dataclass(frozen=True)
class PlantedPreset:
    """The size of a planted data set: `rows`, the largest true hash size, the cardinality multipliers."""

    rows: int
    max_hash: int
    multipliers: tuple[int, ...]
    interaction_dim: int = 8
    # How many features get each true rank (26 in all); a third are irrelevant.
    rank_counts: tuple[tuple[int, int], ...] = ((0, 9), (1, 4), (2, 5), (4, 4), (8, 4))
    logit_std: float = 1.6
    click_rate: float = 0.25
    missing_rate: float = 0.03


PRESETS: dict[str, PlantedPreset] = {
    "ci": PlantedPreset(rows=20_000, max_hash=16, multipliers=(1, 10)),
    "cpu": PlantedPreset(rows=3_000_000, max_hash=16, multipliers=(1, 10)),
    "gpu": PlantedPreset(rows=20_000_000, max_hash=10_000, multipliers=(1, 10, 100, 1000), interaction_dim=16),
}


@dataclass(frozen=True)
class PlantedTruth:
    """What the teacher is made of: per sparse feature its true rank, true hash size and cardinality."""

    ranks: tuple[int, ...]
    hash_sizes: tuple[int, ...]
    cardinalities: tuple[int, ...]
    dense_weights: np.ndarray = field(repr=False)
    scale: float = 1.0
    offset: float = 0.0

    @property
    def relevant(self) -> tuple[bool, ...]:
        return tuple(rank > 0 for rank in self.ranks)


@dataclass(frozen=True)
class PlantedCTR:
    """Planted data: `data` (what a model sees), `probabilities` (the true click probability per row),
    `dense_counts` (the raw integer features, NaN where missing) and the `truth`."""

    data: CTRData
    probabilities: np.ndarray = field(repr=False)
    dense_counts: np.ndarray = field(repr=False)
    truth: PlantedTruth

    def splits(self, kind: str = "random", seed: int = 0) -> dict[str, np.ndarray | slice]:
        """Rows of `train`, `validation` and `test`: `random` (stratified 8/1/1) or `day` (DLRM's)."""
        if kind == "random":
            parts = random_split_rows(np.asarray(self.data.labels), seed)
        elif kind == "day":
            parts = day_split_rows(len(self.data))
        else:
            raise ValueError(f"split kind must be 'random' or 'day', got {kind!r}")
        return dict(zip(("train", "validation", "test"), parts, strict=True))

    def bayes_log_loss(self, rows: np.ndarray | slice | None = None) -> float:
        """The Bayes-optimal expected log loss on `rows` (all rows by default): mean binary entropy of p."""
        p = self.probabilities if rows is None else self.probabilities[rows]
        return float(np.mean(binary_entropy(p)))

    def teacher_metrics(self, rows: np.ndarray | slice | None = None) -> dict[str, float]:
        """The teacher's own metrics on the drawn labels (`ctr_metrics` of p against the labels)."""
        rows = slice(None) if rows is None else rows
        return ctr_metrics(np.asarray(self.data.labels[rows]), self.probabilities[rows])

    def write_criteo(self, path: str | Path, rows: np.ndarray | slice | None = None) -> None:
        """Writes the rows as a Criteo-format file; `read_criteo(path, categorical="hash",
        hash_size=max(cardinalities))` gives `data` back exactly."""
        rows = slice(None) if rows is None else rows
        write_criteo(path, self.dense_counts[rows], np.asarray(self.data.sparse[rows]), np.asarray(self.data.labels[rows]))


SPECTRA = ("gaussian", "flat")


def make_planted(preset: str | PlantedPreset = "ci", seed: int = 0, rows: int | None = None,
                 spectrum: str = "gaussian") -> PlantedCTR:
    """Draws a planted data set (deterministic in `seed`); `rows` overrides the preset's row count.

    `spectrum` is how a feature's rank-r table spreads its variance over its r directions: `gaussian`
    (the product of two Gaussian factors: the leading directions carry most of it, so a rank-8 table
    of 7 rows keeps about 95% of its variance in 4 dimensions) or `flat` (r equal singular values under
    the rows' frequencies: each direction carries 1/r, so r dimensions are needed and enough). The
    rows, dense and sparse, are the same for both; the teacher's tables, and so the labels, differ.
    """
    if spectrum not in SPECTRA:
        raise ValueError(f"spectrum must be one of {', '.join(SPECTRA)}, got {spectrum!r}")
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    n = preset.rows if rows is None else rows
    rng = np.random.default_rng(seed)
    d = preset.interaction_dim
    ranks = np.array([rank for rank, count in preset.rank_counts for _ in range(count)])
    if len(ranks) != NUM_SPARSE:
        raise ValueError(f"rank_counts must cover {NUM_SPARSE} features, it covers {len(ranks)}")
    ranks = rng.permutation(ranks)
    drawn = np.exp(rng.uniform(np.log(2), np.log(preset.max_hash + 1), NUM_SPARSE)).astype(int).clip(2)
    values = drawn * rng.choice(preset.multipliers, NUM_SPARSE)            # distinct non-missing values
    hash_sizes = np.where(ranks == 0, 1, drawn)                            # an unread feature: 1 row is exact
    cardinalities = values + 1                                            # index 0: missing

    dense_mu, dense_sigma = rng.uniform(0, 3, NUM_DENSE), rng.uniform(0.5, 1.5, NUM_DENSE)
    counts = np.floor(np.exp(rng.normal(dense_mu, dense_sigma, (n, NUM_DENSE)))) - 1
    counts = counts.clip(0)
    counts[rng.random((n, NUM_DENSE)) < preset.missing_rate] = np.nan
    dense = np.log1p(np.nan_to_num(counts, nan=0.0))

    sparse = np.empty((n, NUM_SPARSE), dtype=np.int64)
    for j in range(NUM_SPARSE):
        popularity = 1.0 / np.arange(1, values[j] + 1) ** 1.05              # Zipf-like, in a random order
        sparse[:, j] = rng.permutation(values[j])[rng.choice(values[j], n, p=popularity / popularity.sum())] + 1
    sparse[rng.random((n, NUM_SPARSE)) < preset.missing_rate] = 0

    standardised = (dense - dense.mean(axis=0)) / dense.std(axis=0).clip(1e-6)
    w = rng.normal(0, 1 / np.sqrt(NUM_DENSE), NUM_DENSE)
    bottom = rng.normal(0, 1 / np.sqrt(NUM_DENSE), (NUM_DENSE, d))
    u = rng.normal(0, 1 / np.sqrt(d), d)
    z = standardised @ bottom
    total, squares = z.copy(), (z**2).sum(axis=1)                          # sum of vectors, sum of squared norms
    first_order = standardised @ w
    for j in range(NUM_SPARSE):
        if ranks[j] == 0:
            continue
        rows_j = sparse[:, j] % hash_sizes[j]
        if spectrum == "flat":
            table = _flat_table(rng, np.bincount(rows_j, minlength=hash_sizes[j]) / n, ranks[j], d)
        else:
            table = rng.normal(0, 1, (hash_sizes[j], ranks[j])) @ rng.normal(0, 1 / np.sqrt(ranks[j]), (ranks[j], d))
        e = table[rows_j]
        total += e
        squares += (e**2).sum(axis=1)
        first_order += e @ u
    logit = first_order + (np.einsum("ij,ij->i", total, total) - squares) / (2 * d)   # sum_{a<b} <v_a, v_b>
    scale = preset.logit_std / logit.std()
    offset = _offset_for_rate(scale * (logit - logit.mean()), preset.click_rate) - scale * logit.mean()
    probabilities = 1 / (1 + np.exp(-(scale * logit + offset)))
    labels = (rng.random(n) < probabilities).astype(np.float32)

    truth = PlantedTruth(tuple(int(r) for r in ranks), tuple(int(h) for h in hash_sizes),
                         tuple(int(c) for c in cardinalities), w, float(scale), float(offset))
    data = CTRData(dense.astype(np.float32), sparse, labels, truth.cardinalities)
    return PlantedCTR(data, probabilities, counts.astype(np.float32), truth)


def _flat_table(rng: np.random.Generator, frequency: np.ndarray, rank: int, d: int) -> np.ndarray:
    """A `rows x d` table T of rank k = min(rank, rows) with `sum_i f_i T_i T_i^T` = (d / k) times a
    projection onto k orthonormal directions: k equal singular values under the rows' frequencies f,
    and E|e|^2 = d as in the gaussian spectrum (exactly so where every f_i >= 1 / (4 rows): rarer rows
    are weighted as that, so that none is blown up)."""
    k = min(rank, len(frequency))
    weight = np.sqrt(np.maximum(frequency, 0.25 / len(frequency)))
    left, _ = np.linalg.qr(weight[:, None] * rng.normal(0, 1, (len(frequency), k)))   # orthonormal columns
    right, _ = np.linalg.qr(rng.normal(0, 1, (d, k)))
    return (left / weight[:, None]) @ right.T * np.sqrt(d / k)


def _offset_for_rate(centred: np.ndarray, rate: float) -> float:
    """The offset o with mean(sigmoid(centred + o)) = rate, by bisection."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(centred + middle)))) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
