"""The DLRM parity check against TorchRec's `EmbeddingBagCollection` (the optional `[rec]` extra)."""

from __future__ import annotations

import torch

from nasctl.rec._model import DLRM
from nasctl.runtime.errors import NasError

__all__ = ["torchrec_logits"]


def torchrec_logits(model: DLRM, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
    """`model.logits(dense, sparse)` with the sparse features looked up by TorchRec instead.

    The tables are copied into an `EmbeddingBagCollection` (sum pooling, one table per feature) and the
    indices passed as a `KeyedJaggedTensor` with one value per feature and example; the bottom MLP,
    projections, interaction and top MLP are the model's own. Equal outputs mean the model's embedding
    layout is TorchRec's, so the model can move to TorchRec's sharded tables unchanged.
    """
    try:
        from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
    except ImportError as error:
        raise NasError(f"the TorchRec parity check needs the [rec] extra ({error}); install fbgemm-gpu-cpu first, "
                       "then torchrec with --no-deps (see README)") from None
    names = [f"f{j}" for j in range(len(model.embeddings))]
    collection = EmbeddingBagCollection(
        tables=[EmbeddingBagConfig(name=f"t{j}", embedding_dim=table.embedding_dim, num_embeddings=table.num_embeddings,
                                   feature_names=[name])
                for j, (name, table) in enumerate(zip(names, model.embeddings, strict=True))],
        device=dense.device)
    with torch.no_grad():
        for j, table in enumerate(model.embeddings):
            collection.embedding_bags[f"t{j}"].weight.copy_(table.weight)
    indices = torch.remainder(sparse, model._rows)
    batch = indices.shape[0]
    features = KeyedJaggedTensor.from_lengths_sync(
        keys=names, values=indices.T.reshape(-1),
        lengths=torch.ones(len(names) * batch, dtype=torch.int32, device=dense.device))
    pooled = collection(features).to_dict()
    embedded = [projection(pooled[name]) for name, projection in zip(names, model.projections, strict=True)]
    return model.interact(model.bottom(dense), embedded)
