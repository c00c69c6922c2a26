"""Sub-one-shot search on planted CTR data (SiGeo, seed 001, item 4b): a NASRec-style space, proxies
against warm-up, then three searches at equal wall-clock.

The space (`nasctl.rec.NASRecNet`): 3 blocks, each choosing a sparse operator (embedded FC or identity)
and a dense operator (FC, dot-product interaction, sigmoid gating) with its dense connections to the
earlier blocks (4536 subnets). The data: `make_planted` (a DLRM-shaped teacher; the Bayes log loss is
known exactly).

1. Truth: `--subnets` subnets drawn uniformly, each trained alone (`--epochs` epochs of Adam) from the
   same initialisation; its test log loss is the truth.
2. Warm-up: one supernet trained with any-path sampling (`strategy: any_path`, p = 0.5) for one epoch
   (100%); after 0, 10, 20, 40, 60, 80 and 100% of it, each sampled subnet's proxies are computed with
   the inherited weights on K training batches. The table: Spearman / Kendall of each proxy against
   the truth, per level, beside SiGeo's Criteo numbers.
3. Search, at equal wall-clock `--budget` seconds per method: regularized evolution over the warmed-up
   supernet scored by SiGeo (ZiCo + log Fisher-Rao - training loss on K batches), the same evolution
   scored by the validation loss after a short fine-tune (the shared weights restored after each),
   and random search (subnets drawn uniformly and trained alone, the best by validation loss). Each
   evolution's budget pays for the warm-up and for training its top 3 alone (the best by validation
   loss is its answer); what is left is its search time. Random search then gets as long as the
   slower evolution really took. Printed: each method's best test log loss, the subnets it scored,
   and its time.

    python benchmarks/proxy_search_rec.py [--preset cpu --rows 60000] [--subnets 30] [--budget 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from nasctl.runtime import proxies
from nasctl.runtime.modes._spec import Architecture, evolve_architectures, sample_layers
from nasctl.runtime.modes.torch import OneShotBackend
from nasctl.runtime.modes.torch._supernet import active_parameter_count, finetune_scorer, proxy_scorer
from proxy_correlation import LEVELS, PROXIES, print_table  # the sibling script (benchmarks/)
from torch.nn import functional as F

from nasctl import rec


def per_example(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")


class Task:
    """The planted data as in-memory tensors (dense features standardised on the training rows)."""

    def __init__(self, preset: str, rows: int | None, seed: int, batch_size: int) -> None:
        self.planted = rec.make_planted(preset, seed=seed, rows=rows)
        data = self.planted.data
        self.splits = self.planted.splits()
        self.cardinalities = data.cardinalities
        dense = torch.as_tensor(np.asarray(data.dense, dtype=np.float32))
        mean, std = dense[self.splits["train"]].mean(0), dense[self.splits["train"]].std(0).clamp_min(1e-6)
        self.dense = (dense - mean) / std
        self.sparse = torch.as_tensor(np.asarray(data.sparse, dtype=np.int64))
        self.labels = torch.as_tensor(np.asarray(data.labels, dtype=np.float32))
        self.batch_size = batch_size
        self.bayes = self.planted.bayes_log_loss(self.splits["test"])

    def part(self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor(self.splits[name])
        return self.dense[rows], self.sparse[rows], self.labels[rows]

    def epoch(self, seed: int) -> list[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        dense, sparse, labels = self.part("train")
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        return [((dense[i], sparse[i]), labels[i]) for i in order.split(self.batch_size)]

    def loss(self, model: torch.nn.Module, name: str) -> float:
        dense, sparse, labels = self.part(name)
        model.eval()
        with torch.no_grad():
            value = float(per_example(model(dense, sparse), labels).mean())
        model.train()
        return value


def build(task: Task, options: dict[str, Any], seed: int) -> tuple[OneShotBackend, rec.NASRecNet]:
    torch.manual_seed(seed)
    backend = OneShotBackend(options, seed=seed)
    model = rec.NASRecNet(backend.layer, task.dense.shape[1], task.cardinalities)
    dense, sparse, _ = task.part("validation")
    model(dense[:2], sparse[:2])  # builds every candidate
    return backend, model


def train_alone(task: Task, arch: Architecture, epochs: int, lr: float, seed: int = 0) -> tuple[float, float]:
    """The subnet trained alone: (validation, test) log loss."""
    backend, model = build(task, {}, seed)
    backend.fix(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for (dense, sparse), labels in task.epoch(seed * 1000 + epoch):
            optimizer.zero_grad(set_to_none=True)
            per_example(model(dense, sparse), labels).mean().backward()
            optimizer.step()
    return task.loss(model, "validation"), task.loss(model, "test")


def correlations(task: Task, args: argparse.Namespace, archs: list[Architecture], truth: np.ndarray
                 ) -> tuple[OneShotBackend, rec.NASRecNet, float]:
    """Trains the supernet for one epoch, computing each subnet's proxies at every warm-up level; prints
    the table; returns the warmed-up supernet and the warm-up time (proxies excluded)."""
    backend, model = build(task, {"strategy": "any_path", "p": args.p}, args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    epoch = task.epoch(args.seed + 7)
    probe = epoch[: args.batches]
    at_step = {round(len(epoch) * level / 100): level for level in LEVELS}
    scores = {name: np.zeros((len(archs), len(LEVELS))) for name in PROXIES}
    warmup_time = 0.0
    for step in range(len(epoch) + 1):
        if step in at_step:
            column = LEVELS.index(at_step[step])
            for row, arch in enumerate(archs):
                backend.fix(arch)
                values = proxies.compute(model, probe, per_example, PROXIES[:-1])
                values["params"] = float(active_parameter_count(model, probe[0][0]))
                for name in PROXIES:
                    scores[name][row, column] = values[name]
            backend.fix(None)
        if step == len(epoch):
            break
        started = time.perf_counter()
        (dense, sparse), labels = epoch[step]
        optimizer.zero_grad(set_to_none=True)
        per_example(model(dense, sparse), labels).mean().backward()
        optimizer.step()
        warmup_time += time.perf_counter() - started
    print_table(scores, truth, "the subnets' test log loss")
    return backend, model, warmup_time


def evolution(task: Task, args: argparse.Namespace, backend: OneShotBackend, model: torch.nn.Module,
              scorer: Callable[[], float], seconds: float, seed: int) -> tuple[list[Architecture], int]:
    """Regularized evolution over the supernet within `seconds`; the top 3 and the number scored."""
    deadline = time.monotonic() + seconds
    scored = [0]

    def score(arch: Architecture) -> float:
        backend.fix(arch)
        scored[0] += 1
        return scorer()

    try:
        ranked = evolve_architectures(list(backend.specs.values()), score, rng=random.Random(seed),
                                      population=args.population, sample_size=args.sample_size,
                                      children=args.children, generations=10**6, mutations=1,
                                      stop=lambda: time.monotonic() >= deadline)
    finally:
        backend.fix(None)
    return [arch for arch, _ in ranked[:3]], scored[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=("ci", "cpu"))
    parser.add_argument("--rows", type=int, default=60_000, help="rows of planted data (train 80%%)")
    parser.add_argument("--subnets", type=int, default=30, help="subnets trained alone for the truth")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of a subnet trained alone")
    parser.add_argument("--batches", type=int, default=4, help="K: batches the proxies are computed on")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--p", type=float, default=0.5, help="any-path keep probability")
    parser.add_argument("--budget", type=float, default=60.0, help="wall-clock seconds per search method")
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--sample-size", type=int, default=4)
    parser.add_argument("--children", type=int, default=4)
    parser.add_argument("--finetune-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1, help="searches per method (seeds seed, seed+1, ...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    task = Task(args.preset, args.rows, args.seed, args.batch_size)
    rng = random.Random(args.seed)
    backend, _ = build(task, {}, args.seed)
    specs = list(backend.specs.values())
    archs: list[Architecture] = []
    while len(archs) < args.subnets:
        arch = sample_layers(specs, rng)
        if arch not in archs:
            archs.append(arch)
    truth_started = time.perf_counter()
    alone = [train_alone(task, arch, args.epochs, args.lr, args.seed) for arch in archs]
    per_subnet = (time.perf_counter() - truth_started) / len(archs)
    truth = np.array([test for _, test in alone])
    print(f"planted CTR '{args.preset}', {len(task.labels)} rows; {len(archs)} of 4536 subnets trained alone "
          f"({args.epochs} epochs, {per_subnet:.1f} s each): test log loss {truth.min():.4f}-{truth.max():.4f} "
          f"(Bayes {task.bayes:.4f}); load average {load:.1f} on {os.cpu_count()} cores")
    supernet, model, warmup_time = correlations(task, args, archs, truth)

    probe = task.epoch(args.seed + 11)[: args.batches]
    val = [((d, s), y) for d, s, y in [task.part("validation")]]
    tune_batches = task.epoch(args.seed + 13)
    sigeo = proxy_scorer(model, probe, per_example, {"zico": 1.0, "fisher_rao": 1.0, "loss": 1.0})
    finetune = finetune_scorer(model, tune_batches, val, per_example, steps=args.finetune_steps, lr=args.lr)
    retrain_cost = 3 * per_subnet
    search_seconds = max(args.budget - warmup_time - retrain_cost, 1.0)
    print(f"\nsearch at equal wall-clock, {args.budget:.0f} s per method (an evolution pays {warmup_time:.1f} s of "
          f"warm-up and ~{retrain_cost:.1f} s to train its top 3 alone: {search_seconds:.1f} s of search)")
    print(f"{'method':<26} | {'repeat':>6} | {'scored':>6} | {'best test log loss':>18} | {'time (s)':>8}")
    figures: dict[str, Any] = {"load": load, "bayes": task.bayes, "truth_best": float(truth.min()), "runs": []}
    methods = ("evolution, SiGeo proxies", "evolution, fine-tune loss", "random search (alone)")
    for repeat in range(args.repeats):
        run: dict[str, Any] = {}
        for name, scorer in zip(methods[:2], (sigeo, finetune), strict=True):
            clock = time.perf_counter()
            top, scored = evolution(task, args, supernet, model, scorer, search_seconds, args.seed + repeat)
            retrained = [train_alone(task, arch, args.epochs, args.lr, args.seed) for arch in top]
            run[name] = {"best_test": min(retrained)[1], "scored": scored,
                         "seconds": time.perf_counter() - clock + warmup_time, "top": top}
        # Random search gets as long as the slower evolution really took (the load varies on a shared machine).
        budget = max(args.budget, *(run[name]["seconds"] for name in methods[:2]))
        clock = time.perf_counter()
        search_rng = random.Random(args.seed + 1 + repeat)
        found: list[tuple[float, float]] = []
        seen: list[Architecture] = []
        while time.perf_counter() - clock < budget or not found:
            arch = sample_layers(specs, search_rng)
            if arch in seen:
                continue
            seen.append(arch)
            found.append(train_alone(task, arch, args.epochs, args.lr, args.seed))
        run[methods[2]] = {"best_test": min(found)[1], "scored": len(found), "seconds": time.perf_counter() - clock}
        for name in methods:
            print(f"{name:<26} | {repeat:>6} | {run[name]['scored']:>6} | {run[name]['best_test']:>18.4f} | "
                  f"{run[name]['seconds']:>8.1f}", flush=True)
        figures["runs"].append(run)
    if args.repeats > 1:
        for name in methods:
            values = [run[name]["best_test"] for run in figures["runs"]]
            print(f"{name:<26} | {'mean':>6} | {'':>6} | {np.mean(values):>18.4f} | "
                  f"{np.mean([run[name]['seconds'] for run in figures['runs']]):>8.1f}")
    print(f"(best of the {len(archs)} subnets of the truth sample: {truth.min():.4f}; Bayes: {task.bayes:.4f}; "
          f"total {time.perf_counter() - started:.0f} s, load average now {os.getloadavg()[0]:.1f})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
