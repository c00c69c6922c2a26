"""SiGeo's sub-one-shot search (seed 001) on a NASRec-style space and planted CTR data.

The model: a stem, three searched blocks and a head. Each block chooses a sparse operator (NASRec's
embedded FC, or identity) and a dense operator (FC, DLRM's dot-product interaction, sigmoid gating)
with its dense connections: which earlier blocks' dense outputs it reads (`optional_inputs`).

What the script does depends on the mode:

- oneshot (`warmup.yml`, `search.yml`): a supernet. Without `--supernet` it trains for the
  `oneshot.warmup` budget with the configured sampling (`strategy: any_path`: each candidate and
  each connection kept with probability p) and saves the checkpoint `supernet.pt` in the trial's
  folder; with `--supernet PATH` it loads one instead (a warm-up of an earlier experiment). Then it
  runs the proxy-scored regularized evolution of `oneshot.evolution` over the subnets and writes the
  top-k as `architectures/arch-<rank>.json` in the trial's folder. The best subnet is the trial's
  derived architecture; the final result is its validation log loss with the inherited weights.
- classic (`retrain-*.yml`): the architecture it is given, trained alone for `--epochs`; the final
  result is its test log loss.

    nasctl trial run examples/sigeo/nasrec.py --mode oneshot -- --out /tmp/sigeo   # standalone
"""

# The layers' outputs (sparse1 ... dense3) are defined by the annotations, which a linter cannot see.
# ruff: noqa: F401, F821, F841
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from nasctl.runtime.errors import TrialError
from torch import nn
from torch.nn import functional as F

from nas import supernet
from nasctl import rec
from nasctl.rec import DenseDot, DenseFC, DenseGating, NASRecStem, SparseEFC, SparseIdentity


class Net(nn.Module):
    """stem -> three blocks (sparse operator, dense operator on its chosen connections) -> head."""

    def __init__(self, num_dense: int, cardinalities: tuple[int, ...], dim: int = 16, embed: int = 8) -> None:
        super().__init__()
        self.f, self.d, self.e = len(cardinalities), dim, embed
        self.stem = NASRecStem(num_dense, cardinalities, dim, embed)
        self.head = nn.Linear(dim, 1)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        f, d, e = self.f, self.d, self.e
        dense0, sparse0 = self.stem(dense, sparse)
        """@nas.mutable_layers(
            {
                layer_choice: [SparseEFC(f), SparseIdentity()],
                fixed_inputs: [sparse0],
                layer_output: sparse1
            },
            {
                layer_choice: [DenseFC(d), DenseDot(d, f, e), DenseGating(d)],
                fixed_inputs: [sparse1],
                optional_inputs: [dense0],
                optional_input_size: [1, 1],
                layer_output: dense1
            },
            {
                layer_choice: [SparseEFC(f), SparseIdentity()],
                fixed_inputs: [sparse1],
                layer_output: sparse2
            },
            {
                layer_choice: [DenseFC(d), DenseDot(d, f, e), DenseGating(d)],
                fixed_inputs: [sparse2],
                optional_inputs: [dense0, dense1],
                optional_input_size: [1, 2],
                layer_output: dense2
            },
            {
                layer_choice: [SparseEFC(f), SparseIdentity()],
                fixed_inputs: [sparse2],
                layer_output: sparse3
            },
            {
                layer_choice: [DenseFC(d), DenseDot(d, f, e), DenseGating(d)],
                fixed_inputs: [sparse3],
                optional_inputs: [dense0, dense1, dense2],
                optional_input_size: [1, 3],
                layer_output: dense3
            }
        )"""
        return self.head(dense3).squeeze(1)


def per_example(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One loss per example, as the proxies and the fine-tune scoring want it."""
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")


def load(preset: str, rows: int | None, seed: int) -> dict[str, tuple[torch.Tensor, ...]]:
    """The planted data's splits as tensors, dense features standardised on the training rows."""
    planted = rec.make_planted(preset, seed=seed, rows=rows)
    data = planted.data
    dense = torch.as_tensor(np.asarray(data.dense, dtype=np.float32))
    sparse = torch.as_tensor(np.asarray(data.sparse, dtype=np.int64))
    labels = torch.as_tensor(np.asarray(data.labels, dtype=np.float32))
    splits = {name: torch.as_tensor(rows) for name, rows in planted.splits().items()}
    train = splits["train"]
    mean, std = dense[train].mean(0), dense[train].std(0).clamp_min(1e-6)
    dense = (dense - mean) / std
    parts = {name: (dense[rows], sparse[rows], labels[rows]) for name, rows in splits.items()}
    parts["cardinalities"] = data.cardinalities  # type: ignore[assignment]
    return parts


def batches(part: tuple[torch.Tensor, ...], size: int, seed: int) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
    """A shuffled epoch as `((dense, sparse), labels)` batches, the proxies' batch format."""
    dense, sparse, labels = part
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return [((dense[i], sparse[i]), labels[i]) for i in order.split(size)]


def log_loss(model: nn.Module, part: tuple[torch.Tensor, ...]) -> float:
    dense, sparse, labels = part
    training = model.training
    model.eval()
    with torch.no_grad():
        value = float(per_example(model(dense, sparse), labels).mean())
    model.train(training)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="ci", choices=("ci", "cpu"))
    parser.add_argument("--rows", type=int, default=None, help="rows of planted data (default: the preset's)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs: of a retrain; at most, of a warm-up")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--supernet", type=Path, default=None, help="load this supernet checkpoint, skip the warm-up")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("NAS_OUTPUT_DIR") or "sigeo-output"),
                        help="where the checkpoint and the architectures go (default: the trial's folder)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NAS_TRIAL_SEED", "0")))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    data = load(args.preset, args.rows, args.seed)
    dense, sparse, _ = data["validation"]
    model = Net(dense.shape[1], data["cardinalities"])
    model(dense[:2], sparse[:2])  # the first forward builds the candidates; the optimizer comes after it
    try:
        backend = supernet.oneshot_backend()
    except TrialError:
        backend = None  # classic mode: a retrain of one architecture
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    started = time.monotonic()

    if backend is None:
        for epoch in range(args.epochs):
            for (d, s), y in batches(data["train"], args.batch_size, args.seed * 1000 + epoch):
                optimizer.zero_grad(set_to_none=True)
                per_example(model(d, s), y).mean().backward()
                optimizer.step()
            """@nas.report_intermediate_result(log_loss(model, data["validation"]))"""
        test = log_loss(model, data["test"])
        print(f"retrained: test log loss {test:.4f} in {time.monotonic() - started:.1f}s", flush=True)
        """@nas.report_final_result(test)"""
        return

    if args.supernet is not None:
        supernet.load_supernet(model, args.supernet)
        print(f"loaded the supernet {args.supernet}", flush=True)
    else:
        # The warm-up: `oneshot.warmup` counted in samples (a fraction of an epoch), never more than
        # --epochs epochs; the last batch is cut to the budget.
        warmup = supernet.warmup(epoch_samples=len(data["train"][2]))
        for epoch in range(args.epochs):
            for (d, s), y in batches(data["train"], args.batch_size, args.seed * 1000 + epoch):
                n = warmup.take(len(y))
                if n == 0:
                    break
                optimizer.zero_grad(set_to_none=True)
                per_example(model(d[:n], s[:n]), y[:n]).mean().backward()
                optimizer.step()
            if warmup.done:
                break
        path = supernet.save_supernet(model, args.out / supernet.CHECKPOINT_NAME, warmup=warmup)
        print(f"warm-up: {warmup.samples} samples in {warmup.steps} steps ({time.monotonic() - started:.1f}s); "
              f"checkpoint {path}", flush=True)

    # The search: regularized evolution of `oneshot.evolution`, each subnet scored with the inherited
    # weights (proxies on the first proxy_batches batches; fine-tunes on these batches, validated on the
    # validation split; the shared weights are restored after each candidate).
    top = supernet.evolve(model, batches(data["train"], args.batch_size, args.seed + 99)[:40], per_example,
                          val_batches=[((data["validation"][0], data["validation"][1]), data["validation"][2])])
    paths = supernet.export_architectures(top, args.out / "architectures")
    for candidate, path in zip(top, paths, strict=True):
        print(f"{path.name}: score {candidate['score']:.4f}, {candidate['params']} parameters", flush=True)
    backend.fix(top[0]["architecture"])
    best = log_loss(model, data["validation"])
    backend.fix(None)
    print(f"search done in {time.monotonic() - started:.1f}s; best subnet's validation log loss with the "
          f"supernet's weights: {best:.4f}", flush=True)
    """@nas.report_final_result(best)"""


if __name__ == "__main__":
    main()
