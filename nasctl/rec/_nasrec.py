"""NASRec's building operators (Zhang et al. 2023; SiGeo, seed 001), small, for a block-wise CTR search space.

A NASRec model is a stem, a stack of blocks and a head. The state between blocks is a dense vector
[B, D] and a sparse tensor [B, F, d] (one d-vector per sparse feature). Each block chooses a sparse
operator (applied to the previous sparse state) and a dense operator applied to the mean of the dense
outputs of the earlier blocks it connects to (its connections: dense connectivity, also searched),
with the block's sparse state beside it. Candidates follow NNI's calling convention:
`op([fixed_inputs, chosen_inputs])`, fixed = `[sparse]`, chosen = the connected dense outputs.

- dense: `DenseFC` (linear + ReLU), `DenseDot` (DLRM's dot-product interaction of the dense vector
  with every sparse feature, then linear + ReLU), `DenseGating` (sigmoid gating, x * sigmoid(W x));
- sparse: `SparseEFC` (NASRec's "embedded FC": a linear map across the feature axis, plus a residual),
  `SparseIdentity`.

`NASRecNet(layer, ...)` builds the whole space over any one-shot backend's `layer(...)` call (the
benchmarks and tests use it); an annotated trial script writes the same blocks with
`@nas.mutable_layers` (examples/sigeo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["DenseDot", "DenseFC", "DenseGating", "NASRecNet", "NASRecStem", "SparseEFC", "SparseIdentity",
           "dense_candidates", "sparse_candidates"]


def _mean(values: Sequence[torch.Tensor]) -> torch.Tensor:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total / len(values)


class NASRecStem(nn.Module):
    """Dense features -> [B, D] (linear + ReLU of the standardised input); sparse -> [B, F, d] (one table
    with per-feature offsets, an index taken modulo its feature's cardinality)."""

    def __init__(self, num_dense: int, cardinalities: Sequence[int], dense_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.dense = nn.Sequential(nn.Linear(num_dense, dense_dim), nn.ReLU())
        self.table = nn.Embedding(int(sum(cardinalities)), embed_dim)
        nn.init.uniform_(self.table.weight, -0.05, 0.05)
        offsets = torch.tensor([0, *list(cardinalities)[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("_offsets", offsets, persistent=False)
        self.register_buffer("_cards", torch.tensor(list(cardinalities), dtype=torch.long), persistent=False)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dense(dense), self.table(torch.remainder(sparse, self._cards) + self._offsets)


class DenseFC(nn.Module):
    """Linear + ReLU of the mean of the connected dense inputs."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.relu = nn.ReLU()

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return self.relu(self.linear(_mean(inputs[1])))


class DenseGating(nn.Module):
    """Sigmoid gating of the mean of the connected dense inputs: x * sigmoid(W x + b)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, dim)

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        x = _mean(inputs[1])
        return x * torch.sigmoid(self.gate(x))


class DenseDot(nn.Module):
    """DLRM's dot-product interaction: the dense input projected to d, stacked with the F sparse vectors,
    every pairwise inner product (no self-interaction), then linear + ReLU back to D."""

    def __init__(self, dim: int, num_sparse: int, embed_dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(dim, embed_dim, bias=False)
        features = num_sparse + 1
        self.register_buffer("_pairs", torch.tril_indices(features, features, offset=-1), persistent=False)
        self.linear = nn.Linear(features * (features - 1) // 2, dim)
        self.relu = nn.ReLU()

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        sparse = inputs[0][0]
        stacked = torch.cat([self.project(_mean(inputs[1])).unsqueeze(1), sparse], dim=1)
        products = torch.bmm(stacked, stacked.transpose(1, 2))[:, self._pairs[0], self._pairs[1]]
        return self.relu(self.linear(products))


class SparseEFC(nn.Module):
    """NASRec's embedded FC: a linear map across the F features of the sparse state, plus the state."""

    def __init__(self, num_sparse: int) -> None:
        super().__init__()
        self.linear = nn.Linear(num_sparse, num_sparse, bias=False)
        nn.init.zeros_(self.linear.weight)

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        sparse = inputs[0][0]
        return sparse + self.linear(sparse.transpose(1, 2)).transpose(1, 2)


class SparseIdentity(nn.Module):
    """The sparse state unchanged."""

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return inputs[0][0]


def dense_candidates(dim: int, num_sparse: int, embed_dim: int) -> dict[str, tuple[Any, tuple, dict]]:
    """A block's dense choice as a candidate table `{label: (class, args, kwargs)}`."""
    return {"fc": (DenseFC, (dim,), {}), "dot": (DenseDot, (dim, num_sparse, embed_dim), {}),
            "gating": (DenseGating, (dim,), {})}


def sparse_candidates(num_sparse: int) -> dict[str, tuple[Any, tuple, dict]]:
    """A block's sparse choice as a candidate table."""
    return {"efc": (SparseEFC, (num_sparse,), {}), "identity": (SparseIdentity, (), {})}


LayerCall = Callable[..., Any]


class NASRecNet(nn.Module):
    """A NASRec supernet of `blocks` blocks over a one-shot backend's `layer(block, layer, candidates,
    fixed, optional, size, owner)` call. Block i's layers are `sparse{i}` and `dense{i}` of the search-space
    block `block_key`; `dense{i}` connects to 1..i of the earlier dense outputs (`dense0` is the stem's).
    `forward(dense, sparse)` returns the click logit [B]."""

    def __init__(self, layer: LayerCall, num_dense: int, cardinalities: Sequence[int], *, blocks: int = 3,
                 dense_dim: int = 16, embed_dim: int = 8, block_key: str = "nasrec") -> None:
        super().__init__()
        self.layer = layer
        self.blocks = blocks
        self.block_key = block_key
        self.num_sparse = len(cardinalities)
        self.stem = NASRecStem(num_dense, cardinalities, dense_dim, embed_dim)
        self.head = nn.Linear(dense_dim, 1)
        self._dense_table = dense_candidates(dense_dim, self.num_sparse, embed_dim)
        self._sparse_table = sparse_candidates(self.num_sparse)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        x, s = self.stem(dense, sparse)
        outputs = {"dense0": x}
        for i in range(1, self.blocks + 1):
            s = self.layer(self.block_key, f"sparse{i}", self._sparse_table, [s], {}, 0, self)
            x = self.layer(self.block_key, f"dense{i}", self._dense_table, [s], dict(outputs), [1, i], self)
            outputs[f"dense{i}"] = x
        return self.head(x).squeeze(1)
