"""Training and evaluating a CTR model over `CTRData` mini-batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasctl.rec._data import CTRData
from nasctl.rec._metrics import ctr_metrics
from nasctl.rec._model import bce_with_logits

__all__ = ["evaluate", "predict", "train_epoch"]


def train_epoch(model: nn.Module, data: CTRData, optimizer: torch.optim.Optimizer, *, batch_size: int = 128,
                seed: int = 0, device: str | torch.device = "cpu", limit: int | None = None) -> float:
    """One pass over `data` (shuffled with `seed`, at most `limit` rows); returns the mean training loss.

    The model must have `logits(dense, sparse)` (as `DLRM` does); the loss is binary cross-entropy.
    """
    model.train()
    total, count = 0.0, 0
    for dense, sparse, labels in data.batches(batch_size, shuffle=True, seed=seed, device=device, limit=limit):
        optimizer.zero_grad(set_to_none=True)
        loss = bce_with_logits(model.logits(dense, sparse), labels)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(labels)
        count += len(labels)
    return total / max(count, 1)


@torch.no_grad()
def predict(model: nn.Module, data: CTRData, *, batch_size: int = 8192, device: str | torch.device = "cpu"
            ) -> np.ndarray:
    """The model's click probabilities for every row of `data`."""
    model.eval()
    parts = [torch.sigmoid(model.logits(dense, sparse)).double().cpu().numpy()
             for dense, sparse, _ in data.batches(batch_size, device=device)]
    return np.concatenate(parts) if parts else np.empty(0)


def evaluate(model: nn.Module, data: CTRData, *, batch_size: int = 8192, device: str | torch.device = "cpu"
             ) -> dict[str, float]:
    """`ctr_metrics` (log loss, AUC, accuracy, normalized entropy) of the model on `data`."""
    return ctr_metrics(np.asarray(data.labels), predict(model, data, batch_size=batch_size, device=device))
