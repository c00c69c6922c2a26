"""DLRM (Naumov et al. 2019) in plain PyTorch: bottom MLP, one EmbeddingBag per sparse feature, dot
interaction without self-interaction, top MLP, sigmoid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nasctl.runtime.errors import ConfigError

__all__ = ["DLRM", "bce_with_logits", "mlp"]


def mlp(sizes: Sequence[int], *, last_activation: bool = True) -> nn.Sequential:
    """Linear layers `sizes[0] -> sizes[1] -> ...` with ReLU between them (and after the last one if asked).

    Initialised as the DLRM reference does: weights N(0, sqrt(2 / (fan_in + fan_out))), biases
    N(0, sqrt(1 / fan_out)).
    """
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)))
            linear.bias.normal_(0.0, math.sqrt(1.0 / fan_out))
        layers.append(linear)
        if last_activation or index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """The DLRM click-through-rate model.

    `bottom` lists the bottom MLP's layer widths after the dense input (its last width is the
    interaction size d); `top` the top MLP's widths, ending in 1. `embedding_dims` is one size for all
    sparse features or one per feature; a feature whose size differs from d is projected to d by a
    bias-free linear map. `hash_sizes` (one per feature) sets each table's rows: an index is taken
    modulo its table's size, so a table smaller than the feature's cardinality shares rows.

    `forward(dense, sparse)` takes `dense` of shape [B, num_dense] (float) and `sparse` of shape
    [B, num_sparse] (int64, one index per feature) and returns the click probability, shape [B];
    `logits` returns the value before the sigmoid (train on it with `bce_with_logits`).

    >>> model = DLRM(13, [100] * 26, 16, bottom=[512, 256, 64, 16], top=[512, 256, 1])   # Kaggle's
    >>> probability = model(torch.zeros(4, 13), torch.zeros(4, 26, dtype=torch.long))
    >>> tuple(probability.shape), model.top[0].in_features   # 16 + 27 * 26 / 2 interactions
    ((4,), 367)
    """

    def __init__(self, num_dense: int, cardinalities: Sequence[int], embedding_dims: int | Sequence[int], *,
                 bottom: Sequence[int], top: Sequence[int], hash_sizes: Sequence[int] | None = None) -> None:
        super().__init__()
        num_sparse = len(cardinalities)
        dims = [embedding_dims] * num_sparse if isinstance(embedding_dims, int) else list(embedding_dims)
        rows = list(cardinalities) if hash_sizes is None else list(hash_sizes)
        if len(dims) != num_sparse or len(rows) != num_sparse:
            raise ConfigError(f"{num_sparse} sparse features, but {len(dims)} embedding sizes and {len(rows)} "
                              "hash sizes were given", "embedding_dims")
        if not bottom or not top or top[-1] != 1:
            raise ConfigError(f"the bottom MLP needs at least one layer and the top MLP must end in 1, got "
                              f"bottom={list(bottom)} top={list(top)}", "top")
        if any(r < 1 for r in rows) or any(d < 1 for d in dims):
            raise ConfigError("every embedding table needs at least one row and one column", "hash_sizes")
        self.interaction_dim = bottom[-1]
        self.bottom = mlp([num_dense, *bottom])
        self.embeddings = nn.ModuleList(nn.EmbeddingBag(r, d, mode="sum") for r, d in zip(rows, dims, strict=True))
        for table in self.embeddings:
            bound = math.sqrt(1.0 / table.num_embeddings)
            nn.init.uniform_(table.weight, -bound, bound)
        self.projections = nn.ModuleList(
            nn.Identity() if d == self.interaction_dim else nn.Linear(d, self.interaction_dim, bias=False)
            for d in dims)
        features = num_sparse + 1
        self.register_buffer("_pairs", torch.tril_indices(features, features, offset=-1), persistent=False)
        self.register_buffer("_rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.top = mlp([self.interaction_dim + features * (features - 1) // 2, *top], last_activation=False)

    def embed(self, sparse: torch.Tensor) -> list[torch.Tensor]:
        """Each sparse feature's vector in the interaction space, [B, d] each."""
        indices = torch.remainder(sparse, self._rows)
        return [projection(table(indices[:, j : j + 1]))
                for j, (table, projection) in enumerate(zip(self.embeddings, self.projections, strict=True))]

    def logits(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        """The click logit, shape [B]."""
        return self.interact(self.bottom(dense), self.embed(sparse))

    def interact(self, x: torch.Tensor, embedded: Sequence[torch.Tensor]) -> torch.Tensor:
        """The logit from the bottom MLP's output and the embedded features (all [B, d])."""
        stacked = torch.stack([x, *embedded], dim=1)                          # [B, F, d]
        products = torch.bmm(stacked, stacked.transpose(1, 2))                # Z = T T^T
        interactions = products[:, self._pairs[0], self._pairs[1]]             # i > j: no self-interaction
        return self.top(torch.cat([x, interactions], dim=1)).squeeze(1)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(dense, sparse))


def bce_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """DLRM's binary cross-entropy loss, computed from logits for numerical stability."""
    return F.binary_cross_entropy_with_logits(logits, labels)
