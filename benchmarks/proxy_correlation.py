"""How well zero-cost proxies rank architectures as the warm-up grows (SiGeo's table, re-run on digits).

MLPs over a grid of widths and depths, each from several random initialisations, are trained on
scikit-learn's digits for a fixed budget; their test log loss after the whole budget is the truth.
Along the way, after 0, 10, 20, 40, 60, 80 and 100% of the budget ("warm-up"), each network's proxies
are computed on K training batches with its current weights. The table gives, per warm-up level, the
Spearman and Kendall rank correlations between each proxy and the final test log loss, beside the
numbers SiGeo reports for its supernet on Criteo (seed 001). Signs read as in SiGeo: a positive
correlation with the test loss means "lower proxy, better network".

    python benchmarks/proxy_correlation.py [--seeds 3] [--epochs 40] [--batches 4]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import numpy as np
import torch
from nasctl.runtime import proxies
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

LEVELS = (0, 10, 20, 40, 60, 80, 100)
WIDTHS = (4, 8, 16, 32, 64, 128)
DEPTHS = (1, 2, 3)
PROXIES = ("train_loss", "fisher_rao", "mean_abs_grad", "zico", "params")
# SiGeo (seed 001): Spearman / Kendall at each warm-up level, for loss, Fisher-Rao, mean |gradient|.
REFERENCE = {
    0: ((0.30, 0.21), (-0.31, -0.21), (-0.48, -0.34)),
    10: ((0.71, 0.52), (-0.61, -0.44), (-0.54, -0.40)),
    20: ((0.79, 0.61), (-0.70, -0.52), (-0.57, -0.42)),
    40: ((0.80, 0.61), (-0.71, -0.53), (-0.58, -0.43)),
    60: ((0.82, 0.63), (-0.71, -0.52), (-0.58, -0.44)),
    80: ((0.83, 0.64), (-0.71, -0.51), (-0.58, -0.44)),
    100: ((0.85, 0.66), (-0.69, -0.51), (-0.59, -0.44)),
}


def per_example_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def mlp(width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = 64
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 10))


def data(seed: int = 0) -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_train)
    as_x = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
    return as_x(x_train), torch.tensor(y_train), as_x(x_test), torch.tensor(y_test)


def shuffled_batches(n: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Index batches of a new shuffle every epoch, endlessly."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from torch.randperm(n, generator=generator).split(batch_size)


def run(seeds: int, epochs: int, n_batches: int, batch_size: int, lr: float, weight_decay: float) -> dict[str, np.ndarray]:
    """Trains every (width, depth, seed) network; returns the proxies per level and the final test loss."""
    x_train, y_train, x_test, y_test = data()
    steps_per_epoch = (len(x_train) + batch_size - 1) // batch_size
    total_steps = epochs * steps_per_epoch
    at_step = {round(total_steps * level / 100): level for level in LEVELS}
    probe_rng = torch.Generator().manual_seed(1234)
    probe = [(x_train[idx], y_train[idx])
             for idx in torch.randperm(len(x_train), generator=probe_rng)[: n_batches * batch_size].split(batch_size)]
    scores = {name: [] for name in PROXIES}
    truth = []
    for width in WIDTHS:
        for depth in DEPTHS:
            for seed in range(seeds):
                torch.manual_seed(seed)
                model = mlp(width, depth)
                optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
                stream = shuffled_batches(len(x_train), batch_size, seed)
                row = {name: [] for name in PROXIES}
                for step in range(total_steps + 1):
                    if step in at_step:
                        for name, value in proxies.compute(model, probe, per_example_loss, PROXIES).items():
                            row[name].append(value)
                    if step == total_steps:
                        break
                    idx = next(stream)
                    optimizer.zero_grad()
                    F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
                    optimizer.step()
                with torch.no_grad():
                    truth.append(float(F.cross_entropy(model(x_test), y_test)))
                for name in PROXIES:
                    scores[name].append(row[name])
    result = {name: np.array(values) for name, values in scores.items()}   # [network, level]
    result["truth"] = np.array(truth)
    return result


def print_table(scores: dict[str, np.ndarray], truth: np.ndarray, against: str) -> None:
    """The rank-correlation table: a row per warm-up level, a column per proxy ([network, level] arrays),
    SiGeo's numbers in brackets beside the three proxies it reports."""
    print(f"Spearman / Kendall of each proxy against {against} (SiGeo's Criteo numbers in brackets)")
    header = (f"{'warm-up':>7} | {'train loss':^25} | {'Fisher-Rao':^25} | {'mean |grad|':^25} | "
              f"{'ZiCo':^11} | {'params':^11}")
    print(header)
    print("-" * len(header))
    for column, level in enumerate(LEVELS):
        cells = []
        for index, name in enumerate(PROXIES):
            rho = stats.spearmanr(scores[name][:, column], truth).statistic
            tau = stats.kendalltau(scores[name][:, column], truth).statistic
            if index < 3:
                ref_rho, ref_tau = REFERENCE[level][index]
                cells.append(f"{rho:+.2f}/{tau:+.2f} ({ref_rho:+.2f}/{ref_tau:+.2f})")
            else:
                cells.append(f"{rho:+.2f}/{tau:+.2f}")
        print(f"{level:>6}% | " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="random initialisations per architecture")
    parser.add_argument("--epochs", type=int, default=40, help="the full training budget (100%% warm-up)")
    parser.add_argument("--batches", type=int, default=4, help="K: batches each proxy is computed on")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=5e-3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    result = run(args.seeds, args.epochs, args.batches, args.batch_size, args.lr, args.weight_decay)
    truth = result["truth"]
    n = len(truth)
    print(f"{n} networks ({len(WIDTHS)} widths x {len(DEPTHS)} depths x {args.seeds} initialisations) on digits, "
          f"{args.epochs} epochs each, proxies on {args.batches} batches of {args.batch_size}; "
          f"truth: test log loss after the full budget (range {truth.min():.3f}-{truth.max():.3f}); "
          f"{time.perf_counter() - started:.0f} s")
    print_table(result, truth, "the final test log loss")


if __name__ == "__main__":
    main()
