"""A small cell network on scikit-learn's digits whose operations are searched under a parameter budget.

A stem convolution, four searched residual layers `h = x + op(x)` (op one of: 3x3 conv, 5x5 conv,
3x3 separable conv, 3x3 max pool; or `Skip()`, `h = x`; 16 channels, 8x8 images), global average pooling and a
linear head. The convs cost parameters (2.3k, 6.4k, 0.4k), pool and none cost nothing: the darts
parameter penalty trades capacity for accuracy.

In darts mode with `darts.complexity.hypernet`, one search learns the architecture weights as a
function of the penalty's coefficient, alpha(lambda) (DARTS-CC); `--derive 0,0.5,1` writes the
architectures at those normalised lambdas (`nas.derive_architecture(lam=...)`) to `--out`. After
an experiment, `nasctl experiment export ID --lambdas ... -o DIR` does the same from what the trial
reported. In classic mode the script trains the architecture it is given (a retrain).

Data: the digits are split 70/30 into train and test (540 test images); the last 300 training
images are the validation split, on which the architecture weights step in darts mode and which a
classic retrain does not train on. `--out` records the accuracy on both (`accuracy`: test,
`val_accuracy`: validation).

    NAS_MODE_CONFIG='{"complexity": {"hypernet": {"knots": 8}, "lambda": [1e-5, 1e-2]}}' \\
        nasctl trial run examples/darts-frontier/cells.py --mode darts -- --derive 0,0.5,1 --out derived.json
    nasctl trial run examples/darts-frontier/cells.py --arch frontier/lambda-0.5.json -- --epochs 30
"""

# `epoch`, `h0` and `h4` are used or defined by annotations, which a linter cannot see.
# ruff: noqa: B007, F821, F841
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import nas

CHANNELS = 16
TEST_SIZE = 0.3  # of the 1797 digits
VALIDATION = 300  # the last training images


def _input(inputs: list[list[torch.Tensor]]) -> torch.Tensor:
    fixed, chosen = inputs
    return fixed[0] + sum(chosen) if chosen else fixed[0]


class ConvBN(nn.Module):
    """x + relu(bn(conv(size)(x))), `channels` in and out."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, size, padding=size // 2, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        x = _input(inputs)
        return x + self.body(x)


class SepConv(nn.Module):
    """x + relu(bn(pointwise(depthwise conv(size)(x))))."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, size, padding=size // 2, groups=channels, bias=False),
                                  nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        x = _input(inputs)
        return x + self.body(x)


class Pool(nn.Module):
    """x + 3x3 max pool of x, stride 1 (no parameters)."""

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        x = _input(inputs)
        return x + nn.functional.max_pool2d(x, 3, stride=1, padding=1)


class Skip(nn.Module):
    """No operation: the layer passes its input through (no parameters)."""

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return _input(inputs)


class Net(nn.Module):
    """digits (1x8x8) -> stem -> four searched residual layers -> average pool -> 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, CHANNELS, 3, padding=1, bias=False), nn.BatchNorm2d(CHANNELS),
                                  nn.ReLU())
        self.head = nn.Linear(CHANNELS, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.stem(x)
        """@nas.mutable_layers(
            {layer_choice: [ConvBN(CHANNELS, 3), ConvBN(CHANNELS, 5), SepConv(CHANNELS, 3), Pool(), Skip()],
             fixed_inputs: [h0], layer_output: h1},
            {layer_choice: [ConvBN(CHANNELS, 3), ConvBN(CHANNELS, 5), SepConv(CHANNELS, 3), Pool(), Skip()],
             fixed_inputs: [h1], layer_output: h2},
            {layer_choice: [ConvBN(CHANNELS, 3), ConvBN(CHANNELS, 5), SepConv(CHANNELS, 3), Pool(), Skip()],
             fixed_inputs: [h2], layer_output: h3},
            {layer_choice: [ConvBN(CHANNELS, 3), ConvBN(CHANNELS, 5), SepConv(CHANNELS, 3), Pool(), Skip()],
             fixed_inputs: [h3], layer_output: h4}
        )"""
        return self.head(h4.mean(dim=(2, 3)))


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=TEST_SIZE, random_state=0,
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
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NAS_TRIAL_SEED", "0")))
    parser.add_argument("--derive", help="darts with complexity.hypernet: normalised lambdas to derive at, e.g. 0,0.5,1")
    parser.add_argument("--out", help="write the results (accuracy, parameters, derived architectures) here, as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    x_train, y_train, x_test, y_test = load_data(args.seed)
    x_train, x_val = x_train[:-VALIDATION], x_train[-VALIDATION:]
    y_train, y_val = y_train[:-VALIDATION], y_train[-VALIDATION:]

    model = Net()
    nas.materialize(model, x_train[:2])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
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
        schedule.step()
        test_acc = accuracy(model, x_test, y_test)
        """@nas.report_intermediate_result(test_acc)"""
    val_acc = accuracy(model, x_val, y_val)
    params = sum(p.numel() for p in model.parameters())
    derived = {}
    if args.derive:
        derived = {t: nas.derive_architecture(lam=float(t)) for t in args.derive.split(",")}
    seconds = time.perf_counter() - start
    print(f"test accuracy {test_acc:.4f}, {params} parameters in the model as built, {seconds:.1f} s", flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"accuracy": test_acc, "val_accuracy": val_acc, "params": params, "seconds": seconds, "derived": derived,
                       "architecture": nas.derive_architecture()}, out, indent=2)
    """@nas.report_final_result({"default": test_acc, "params": params})"""


if __name__ == "__main__":
    main()
