"""Click-through-rate metrics: log loss, ROC AUC, accuracy at 0.5 and normalized entropy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = ["EPSILON", "accuracy", "binary_entropy", "ctr_metrics", "log_loss", "normalized_entropy", "roc_auc"]

EPSILON = 1e-7


def _arrays(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), EPSILON, 1 - EPSILON)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"labels and probabilities must be non-empty and of one length, got {y.size} and {p.size}")
    return y, p


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """H(p) = -p log p - (1 - p) log(1 - p), in nats."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1 - EPSILON)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def log_loss(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray) -> float:
    """Mean binary cross-entropy, -mean(y log p + (1 - y) log(1 - p)), in nats; p clipped to [1e-7, 1 - 1e-7]."""
    y, p = _arrays(labels, probabilities)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def roc_auc(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn's `roc_auc_score`)."""
    y, p = _arrays(labels, probabilities)
    return float(roc_auc_score(y, p))


def accuracy(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray) -> float:
    """The share of examples whose probability is on the label's side of 0.5."""
    y, p = _arrays(labels, probabilities)
    return float(np.mean((p >= 0.5) == (y >= 0.5)))


def normalized_entropy(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray) -> float:
    """Normalized entropy (He et al. 2014): the log loss divided by the entropy of the mean click rate.

    1.0 is what always predicting the background rate scores; lower is better.
    """
    y, _ = _arrays(labels, probabilities)
    return log_loss(labels, probabilities) / float(binary_entropy(y.mean()))


def ctr_metrics(labels: Sequence[float] | np.ndarray, probabilities: Sequence[float] | np.ndarray
                ) -> dict[str, float]:
    """All four metrics as `{"log_loss", "auc", "accuracy", "ne"}`.

    >>> {k: round(v, 3) for k, v in ctr_metrics([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.4]).items()}
    {'log_loss': 0.4, 'auc': 1.0, 'accuracy': 1.0, 'ne': 0.578}
    """
    return {"log_loss": log_loss(labels, probabilities), "auc": roc_auc(labels, probabilities),
            "accuracy": accuracy(labels, probabilities), "ne": normalized_entropy(labels, probabilities)}
