"""DNAS MLP search (seed 000) on a DLRM backbone: widths and depths of the bottom and top MLPs.

Each MLP has up to three hidden layers whose widths come from {16, 32, 64, 128} (the paper's {128,
256, 512, 1024} scaled by 1/8 for CPUs), one `variable` per layer in a counted loop (keys
`mlp/bottom_width/choice[0]` ... and `mlp/top_width/choice[0]` ...), and a depth from {1, 2, 3}:
layers past the depth are skipped (identity). `nas.nn.MLP` holds every layer at its largest width
and masks the outputs in darts (FBNet/DNAS); in classic mode only the chosen layers exist, at their
chosen widths. After the bottom MLP a layer to d feeds the dot interaction; after the top MLP a layer
to 1 gives the logit. The cost is FLOPs per example, and the darts penalty is `coef * log(E[FLOPs])`.

    NAS_MODE_CONFIG='{"sampler": "gumbel", "per_example": true, "complexity": {"metric": "flops",
        "weight": 0.05, "form": "log"}}' nasctl trial run examples/dnas-ctr/mlp/mlp.py --mode darts
    nasctl run examples/dnas-ctr/mlp/pipeline.yml      # search -> sample -> retrain -> best
"""

# The loop variable `i`, `result` and the callbacks' arguments are used by annotations, which a linter cannot see.
# ruff: noqa: B007, F841
from __future__ import annotations

import torch
from torch import nn

import nas
import nas.nn
from nasctl import rec

NUM_SPARSE = 26  # Criteo's sparse features
LAYERS = 3  # the most hidden layers per MLP


class Net(nn.Module):
    """DLRM whose bottom and top MLPs have searched widths and depths."""

    def __init__(self, cardinalities: list[int], d: int) -> None:
        super().__init__()
        bottom_widths = []
        for i in range(LAYERS):
            # @nas.variable(nas.choice(16, 32, 64, 128), name=bottom_width)
            bottom_width = 32
            bottom_widths.append(bottom_width)
        # @nas.variable(nas.choice(1, 2, 3), name=bottom_depth)
        bottom_depth = 1
        top_widths = []
        for i in range(LAYERS):
            # @nas.variable(nas.choice(16, 32, 64, 128), name=top_width)
            top_width = 32
            top_widths.append(top_width)
        # @nas.variable(nas.choice(1, 2, 3), name=top_depth)
        top_depth = 1
        self.bottom = nas.nn.MLP(13, bottom_widths, depth=bottom_depth)
        self.bottom_out = nas.nn.Linear(self.bottom.out_features, d)  # to the interaction size
        self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c in cardinalities)
        for table in self.embeddings:
            rec.uniform_embedding_init(table.weight)
        features = NUM_SPARSE + 1
        self.top = nas.nn.MLP(d + features * (features - 1) // 2, top_widths, depth=top_depth)
        self.head = nas.nn.Linear(self.top.out_features, 1)

    def logits(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        embedded = [table(sparse[:, j]) for j, table in enumerate(self.embeddings)]
        x = torch.relu(self.bottom_out(self.bottom(dense)))
        return self.head(self.top(rec.dot_interaction(x, embedded))).squeeze(1)


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
