"""NNI's mnist-nas example in PyTorch, on scikit-learn's digits (8x8 images, 10 classes).

A small CNN whose layers are open choices: each `mutable_layers` annotation chooses an operation
(a conv, a separable conv, a pooling) and, for the deeper layers, which earlier outputs to add as skip
connections. The learning rate is a `variable`. Each epoch reports the test accuracy; the last
report is the final result. The same script searches in every mode: `training_update` steps the
architecture weights (darts) or switches to the next subgraph (enas) on a validation batch, and
`derive_architecture` ranks subnets on the validation split (oneshot); in classic mode both do nothing.

    nasctl trial run examples/mnist-nas/mnist.py -- --epochs 4      # one trial, standalone
    nasctl search-space examples/mnist-nas                          # its search space
    nasctl run examples/mnist-nas/config.yml                        # a whole experiment
"""

# The layers' outputs (conv1 ... conv4) are defined by the annotations, which a linter cannot see.
# ruff: noqa: F401, F821, F841
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from ops import Conv, Pool, SepConv, identity
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


class Net(nn.Module):
    """stem -> two searched layers at 8x8 -> downsample -> two searched layers at 4x4 -> classifier."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.down = nn.MaxPool2d(2)
        self.head = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.channels
        stem = self.stem(x)
        """@nas.mutable_layers(
            {
                layer_choice: [Conv(size=3, channels=c), Conv(size=5, channels=c), SepConv(size=3, channels=c),
                               Pool(size=3, kind="max")],
                fixed_inputs: [stem],
                layer_output: conv1
            },
            {
                layer_choice: [Conv(size=3, channels=c), Conv(size=3, channels=c, dilation=2),
                               SepConv(size=5, channels=c), identity()],
                fixed_inputs: [conv1],
                optional_inputs: [stem],
                optional_input_size: [0, 1],
                layer_output: conv2
            }
        )"""
        down = self.down(conv2)
        """@nas.mutable_layers(
            {
                layer_choice: [Conv(size=3, channels=c), SepConv(size=3, channels=c), Pool(size=3, kind="avg")],
                fixed_inputs: [down],
                layer_output: conv3
            },
            {
                layer_choice: [Conv(size=1, channels=c), Conv(size=3, channels=c), identity()],
                fixed_inputs: [conv3],
                optional_inputs: [down],
                optional_input_size: [0, 1],
                layer_output: conv4
            }
        )"""
        return self.head(conv4.mean(dim=(2, 3)))


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    """Digits as float images in [0, 1], split 80/20 with `seed`."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2, random_state=seed,
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
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NAS_TRIAL_SEED", "0")))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (trials run side by side)")
    parser.add_argument("--save", type=Path, default=None, help="write the trained state_dict here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.seed)
    x_train, x_val, y_train, y_val = x_train[:-256], x_train[-256:], y_train[:-256], y_train[-256:]

    # @nas.variable(nas.choice(0.01, 0.003, 0.001), name=learning_rate)
    learning_rate = 0.003

    model = Net(args.channels)
    model(x_train[:2])  # the first forward creates the chosen candidates; build the optimizer after it
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    val_generator = torch.Generator().manual_seed(args.seed + 1)

    def validation_loss() -> torch.Tensor:
        batch = torch.randint(len(x_val), (args.batch_size,), generator=val_generator)
        return loss_fn(model(x_val[batch]), y_val[batch])

    start = time.monotonic()
    test_acc = 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            """@nas.training_update(loss=validation_loss)"""
        test_acc = accuracy(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}, test accuracy {test_acc:.4f}, "
              f"{time.monotonic() - start:.1f}s", flush=True)
        """@nas.report_intermediate_result(test_acc)"""
    """@nas.derive_architecture(lambda: accuracy(model, x_val, y_val))"""
    if args.save is not None:
        torch.save(model.state_dict(), args.save)
    """@nas.report_final_result(test_acc)"""


if __name__ == "__main__":
    main()
