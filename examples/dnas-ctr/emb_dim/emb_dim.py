"""DNAS embedding-dimension search (seed 000) on a DLRM backbone: one dimension per sparse feature.

Each of the 26 sparse features gets its dimension from {1, 2, 4, 8, 16} (the paper's {8, ..., 128},
scaled to the planted data, whose true ranks are 0 to 8): one `variable` in a counted loop, keys
`emb_dim/dim/choice[0]` ... `[25]`. The feature's `nas.nn.Embedding` is one table of the largest
width whose columns the architecture weights mask in darts (FBNet/DNAS), and a bias-free
`nas.nn.Linear` projects it to the interaction size d; in classic mode both are built at exactly the
chosen dimension. Both record their cost per dimension: `metric: params` is the expected number of
parameters (tables and projections), `metric: flops` the projections' FLOPs, the sum of the dimensions
(each feature's parameters normalised by its rows: what `pipeline.yml` uses); the darts penalty is
`coef * log(E[cost])` (`darts.complexity` in the config).

    NAS_MODE_CONFIG='{"sampler": "gumbel", "per_example": true, "hard": true, "optimizer": {"lr": 0.02,
        "weight_decay": 0}, "complexity": {"metric": "flops", "weight": 0.005, "form": "log"}}'
        nasctl trial run examples/dnas-ctr/emb_dim/emb_dim.py --mode darts -- --search-epochs 5
    nasctl run examples/dnas-ctr/emb_dim/pipeline.yml      # search -> sample -> retrain -> best
"""

# The loop variable `j`, `result` and the callbacks' arguments are used by annotations, which a linter cannot see.
# ruff: noqa: B007, F841
from __future__ import annotations

import torch
from torch import nn

import nas
import nas.nn
from nasctl import rec

NUM_SPARSE = 26  # Criteo's sparse features; the loop below is counted over it
BOTTOM, TOP = [32], [32]  # the MLPs of examples/dlrm's cpu configuration (their last layers: d and 1)


class Net(nn.Module):
    """DLRM whose sparse features each have a searched embedding dimension."""

    def __init__(self, cardinalities: list[int], d: int) -> None:
        super().__init__()
        self.bottom = rec.mlp([13, *BOTTOM, d])
        self.embeddings = nn.ModuleList()
        self.projections = nn.ModuleList()
        for j in range(NUM_SPARSE):
            # @nas.variable(nas.choice(1, 2, 4, 8, 16), name=dim)
            dim = 8
            table = nas.nn.Embedding(cardinalities[j], dim)
            rec.uniform_embedding_init(table.weight)
            self.embeddings.append(table)
            self.projections.append(nas.nn.Linear(dim, d, bias=False))
        features = NUM_SPARSE + 1
        self.top = rec.mlp([d + features * (features - 1) // 2, *TOP, 1], last_activation=False)

    def logits(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        embedded = [project(table(sparse[:, j]))
                    for j, (table, project) in enumerate(zip(self.embeddings, self.projections, strict=True))]
        return self.top(rec.dot_interaction(self.bottom(dense), embedded)).squeeze(1)


def main() -> None:
    args = rec.trial_arguments(__doc__.splitlines()[0])
    # @nas.variable(nas.choice(0.03, 0.1, 0.3), name=lr)
    lr = 0.1

    def architecture_step(loss, epoch: int) -> None:
        """@nas.training_update(loss=loss, epoch=epoch)"""

    def on_epoch(epoch: int, metrics: dict) -> None:
        """@nas.report_intermediate_result(metrics["log_loss"])"""

    result = rec.run_trial(args, lambda splits: Net(list(splits.cardinalities), rec.interaction_dim(args)),
                           architecture_step, lr, on_epoch)
    """@nas.report_final_result(result)"""


if __name__ == "__main__":
    main()
