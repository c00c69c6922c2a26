"""CTR data in memory or memory-mapped, its two splits, and mini-batches for training."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

__all__ = ["CTRData", "day_split", "day_split_rows", "random_split", "random_split_rows"]


@dataclass(frozen=True)
class CTRData:
    """Click data: `dense` [N, num_dense] float32 (already `log(x + 1)`), `sparse` [N, num_sparse] int64
    (one index per feature, 0 meaning missing or rare), `labels` [N] float32, and each sparse feature's
    number of distinct indices (`cardinalities`). The arrays may be memory-mapped.
    """

    dense: np.ndarray
    sparse: np.ndarray
    labels: np.ndarray
    cardinalities: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.dense.shape[0] != n or self.sparse.shape[0] != n:
            raise ValueError(f"dense, sparse and labels have {self.dense.shape[0]}, {self.sparse.shape[0]} "
                             f"and {n} rows")
        if self.sparse.shape[1] != len(self.cardinalities):
            raise ValueError(f"{self.sparse.shape[1]} sparse features but {len(self.cardinalities)} cardinalities")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_dense(self) -> int:
        return self.dense.shape[1]

    @property
    def num_sparse(self) -> int:
        return self.sparse.shape[1]

    def subset(self, rows: slice | np.ndarray) -> CTRData:
        """The rows selected by a slice (stays memory-mapped) or an index array (read into memory)."""
        return CTRData(self.dense[rows], self.sparse[rows], self.labels[rows], self.cardinalities)

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0, device: str | torch.device = "cpu",
                limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Mini-batches `(dense, sparse, labels)` as tensors on `device`; at most `limit` rows in all."""
        n = len(self) if limit is None else min(limit, len(self))
        order = np.random.default_rng(seed).permutation(len(self))[:n] if shuffle else None
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n)) if order is None else np.sort(order[start:start + batch_size])
            yield (torch.as_tensor(np.asarray(self.dense[rows], dtype=np.float32), device=device),
                   torch.as_tensor(np.asarray(self.sparse[rows], dtype=np.int64), device=device),
                   torch.as_tensor(np.asarray(self.labels[rows], dtype=np.float32), device=device))


def day_split_rows(n: int, days: int = 7) -> tuple[slice, slice, slice]:
    """DLRM's split of Criteo Kaggle: the rows cut into `days` equal consecutive days; days 0 to days-2
    train, the last day's first half validates and its second half tests."""
    if days < 2 or n < 2 * days:
        raise ValueError(f"a day split needs at least 2 days and 2 rows a day, got {days} days for {n} rows")
    last_day = int(round(n * (days - 1) / days))
    middle = (last_day + n) // 2
    return slice(0, last_day), slice(last_day, middle), slice(middle, n)


def random_split_rows(labels: np.ndarray, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random split stratified by label, 8/1/1 by default: sorted row indices of train, validation, test."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers that sum to 1, got {fractions}")
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    train, rest = train_test_split(rows, train_size=fractions[0], random_state=seed, stratify=labels)
    validation, test = train_test_split(rest, train_size=fractions[1] / (fractions[1] + fractions[2]),
                                        random_state=seed, stratify=labels[rest])
    return np.sort(train), np.sort(validation), np.sort(test)


def day_split(data: CTRData, days: int = 7) -> tuple[CTRData, CTRData, CTRData]:
    """`day_split_rows` applied to `data` (slices: memory-mapped arrays stay memory-mapped)."""
    train, validation, test = day_split_rows(len(data), days)
    return data.subset(train), data.subset(validation), data.subset(test)


def random_split(data: CTRData, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
                 ) -> tuple[CTRData, CTRData, CTRData]:
    """`random_split_rows` applied to `data` (train, validation, test)."""
    train, validation, test = random_split_rows(np.asarray(data.labels), seed, fractions)
    return data.subset(train), data.subset(validation), data.subset(test)
