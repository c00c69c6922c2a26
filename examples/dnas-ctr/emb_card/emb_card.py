"""DNAS embedding-cardinality search (seed 000) on a DLRM backbone: one hash size per sparse feature.

Each of the 26 sparse features gets its number of table rows from {1, 0.1, 0.01, 0.001} x its number
of distinct values (one `variable` in a counted loop, keys `emb_card/hash_fraction/choice[0]` ...
`[25]`); an index is looked up as `index % rows`. In darts, `nas.nn.Embedding` keeps one table of
the largest size and mixes the options' lookups, `sum_k w_k E[index % rows_k]`, by the architecture
weights; in classic mode it is built with exactly the chosen rows. The cost is the expected number
of parameters, and the darts penalty is `coef * log(E[params])` (`darts.complexity` in the config).

    NAS_MODE_CONFIG='{"sampler": "gumbel", "per_example": true, "complexity": {"metric": "params",
        "weight": 0.05, "form": "log"}}' nasctl trial run examples/dnas-ctr/emb_card/emb_card.py --mode darts
    nasctl run examples/dnas-ctr/emb_card/pipeline.yml      # search -> sample -> retrain -> best
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
    """DLRM whose sparse features each have a searched hash size (table rows)."""

    def __init__(self, cardinalities: list[int], d: int) -> None:
        super().__init__()
        self.bottom = rec.mlp([13, *BOTTOM, d])
        self.embeddings = nn.ModuleList()
        for j in range(NUM_SPARSE):
            # @nas.variable(nas.choice(1.0, 0.1, 0.01, 0.001), name=hash_fraction)
            hash_fraction = 1.0
            # Index 0 is "missing"; the fraction is of the feature's other values, so that rows = 0.1 x
            # (10 h) = h exactly where the values are h x 10 (a planted feature's true hash size h).
            table = nas.nn.Embedding(hash_fraction, d, cardinality=max(cardinalities[j] - 1, 1))
            rec.uniform_embedding_init(table.weight)
            self.embeddings.append(table)
        features = NUM_SPARSE + 1
        self.top = rec.mlp([d + features * (features - 1) // 2, *TOP, 1], last_activation=False)

    def logits(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        embedded = [table(sparse[:, j]) for j, table in enumerate(self.embeddings)]
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
