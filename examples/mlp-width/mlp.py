"""An MLP on scikit-learn's digits whose hidden widths and depth are searched (`nas.nn.MLP`).

Three hidden widths (one `variable` in a loop: keys `mlp/width/choice[0]` ... `[2]`) and a depth of
1 to 3 layers. In darts mode every width is one max-size weight whose outputs are masked by the
architecture weights (FBNet/DNAS), and the experiment's `darts.complexity` adds `weight * E[params]`
to the architecture loss; the derived architecture is then retrained in classic mode, where the MLP
is built at exactly the chosen sizes.

Data: the digits are split 80/20 into train and test; the last 256 training images are the
validation split. Model weights train on the rest of the training split; the architecture weights
step on validation batches (`training_update(loss=validation_loss)`); accuracy is on the test split.

    NAS_MODE_CONFIG='{"complexity": {"metric": "params", "weight": 1e-5}}' \\
        nasctl trial run examples/mlp-width/mlp.py --mode darts -- --epochs 30
    nasctl trial run examples/mlp-width/mlp.py --arch derived.json -- --epochs 30   # classic retrain
"""

# The loop variables `i` and `epoch` are used by the annotations, which a linter cannot see.
# ruff: noqa: B007
from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import nas
import nas.nn


class Net(nn.Module):
    """digits (64 pixels) -> searched MLP -> 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        widths = []
        for i in range(3):
            # @nas.variable(nas.choice(8, 16, 32, 64, 128), name=width)
            width = 64
            widths.append(width)
        # @nas.variable(nas.choice(1, 2, 3), name=depth)
        depth = 2
        self.mlp = nas.nn.MLP(64, widths, depth=depth)
        self.head = nas.nn.Linear(self.mlp.out_features, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(x))


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=seed,
                                                        stratify=digits.target)
    return (torch.from_numpy(x_train), torch.from_numpy(y_train).long(),
            torch.from_numpy(x_test), torch.from_numpy(y_test).long())


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(dim=1) == y).sum().item()
    model.train()
    return correct / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NAS_TRIAL_SEED", "0")))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.seed)
    x_train, x_val, y_train, y_val = x_train[:-256], x_train[-256:], y_train[:-256], y_train[-256:]

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    val_generator = torch.Generator().manual_seed(args.seed + 1)

    def validation_loss() -> torch.Tensor:
        batch = torch.randint(len(x_val), (args.batch_size,), generator=val_generator)
        return loss_fn(model(x_val[batch]), y_val[batch])

    test_acc = 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
            """@nas.training_update(loss=validation_loss, epoch=epoch)"""
        test_acc = accuracy(model, x_test, y_test)
        """@nas.report_intermediate_result(test_acc)"""
    params = sum(p.numel() for p in model.parameters())
    print(f"test accuracy {test_acc:.4f}, {params} parameters in the model as built", flush=True)
    """@nas.report_final_result({"default": test_acc, "params": params})"""


if __name__ == "__main__":
    main()
