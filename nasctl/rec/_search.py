"""What the DNAS-for-CTR trials share (`examples/dnas-ctr/`): data with its splits, the darts training loop
with the 80/20 weight/architecture split and a warm-up epoch, retraining, and a model's size.

The searched models themselves are annotated trial code; this module holds no choice.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasctl.rec._data import CTRData, day_split
from nasctl.rec._model import bce_with_logits
from nasctl.rec._train import evaluate, train_epoch

__all__ = ["CTRSplits", "darts_fit", "dot_interaction", "interaction_dim", "load_splits", "model_size",
           "retrain_fit", "run_trial", "trial_arguments", "uniform_embedding_init"]

_PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class CTRSplits:
    """Train, validation and test data; on planted data also the truth (`ranks`, `hash_sizes`,
    `cardinalities`), and the test set's Bayes-optimal log loss and the teacher's metrics."""

    train: CTRData
    validation: CTRData
    test: CTRData
    truth: dict[str, Any] | None = None

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return self.train.cardinalities


def load_splits(preset: str | None = "ci", *, data: str | Path | None = None, seed: int = 0,
                rows: int | None = None, cache: str | Path | None = None, hash_size: int = 2**20,
                spectrum: str = "gaussian") -> CTRSplits:
    """Planted data of `preset` (stratified 8/1/1 split with `seed`; `spectrum` as in `make_planted`) or
    a Criteo-format file `data` (DLRM's day split). With `cache` (a folder) planted data is generated
    once and memory-mapped after.
    """
    from nasctl.rec._criteo import read_criteo

    if data is not None:
        return CTRSplits(*day_split(read_criteo(data, hash_size=hash_size)))
    folder = None
    if cache is not None:
        # v2: an irrelevant feature's true hash size is 1 (earlier caches hold another truth)
        flat = "" if spectrum == "gaussian" else f"-{spectrum}"
        folder = Path(cache).expanduser() / f"planted-v2-{preset}-seed{seed}-rows{rows or 'preset'}{flat}"
        if (folder / "truth.json").is_file():
            return _read_cached(folder)
    splits = _planted(str(preset), seed, rows, spectrum)
    if folder is not None:
        _write_cached(folder, splits)
        return _read_cached(folder)
    return splits


def _planted(preset: str, seed: int, rows: int | None, spectrum: str) -> CTRSplits:
    from nasctl.rec._planted import make_planted

    planted = make_planted(preset, seed=seed, rows=rows, spectrum=spectrum)
    parts = planted.splits("random", seed=seed)
    truth = {"ranks": list(planted.truth.ranks), "hash_sizes": list(planted.truth.hash_sizes),
             "cardinalities": list(planted.truth.cardinalities),
             "bayes_test_log_loss": planted.bayes_log_loss(parts["test"]),
             "teacher_test": planted.teacher_metrics(parts["test"])}
    return CTRSplits(*(planted.data.subset(parts[name]) for name in _PARTS), truth=truth)


def _write_cached(folder: Path, splits: CTRSplits) -> None:
    temporary = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for name, part in zip(_PARTS, (splits.train, splits.validation, splits.test), strict=True):
        np.save(temporary / f"{name}_dense.npy", np.asarray(part.dense, dtype=np.float32))
        np.save(temporary / f"{name}_sparse.npy", np.asarray(part.sparse, dtype=np.int32))  # int64 per batch
        np.save(temporary / f"{name}_labels.npy", np.asarray(part.labels, dtype=np.float32))
    (temporary / "truth.json").write_text(json.dumps({**(splits.truth or {}),
                                                      "data_cardinalities": list(splits.cardinalities)}))
    try:
        os.replace(temporary, folder)
    except OSError:  # another trial cached it first
        shutil.rmtree(temporary, ignore_errors=True)


def _read_cached(folder: Path) -> CTRSplits:
    truth = json.loads((folder / "truth.json").read_text())
    cardinalities = tuple(truth.pop("data_cardinalities"))
    parts = [CTRData(*(np.load(folder / f"{name}_{what}.npy", mmap_mode="r") for what in ("dense", "sparse", "labels")),
                     cardinalities) for name in _PARTS]
    return CTRSplits(*parts, truth=truth or None)


def dot_interaction(bottom: torch.Tensor, embedded: Sequence[torch.Tensor]) -> torch.Tensor:
    """DLRM's dot interaction without self-interaction: `[bottom, <v_a, v_b> for a > b]`, v = (bottom, e_1, ...)."""
    stacked = torch.stack([bottom, *embedded], dim=1)                          # [B, F, d]
    products = torch.bmm(stacked, stacked.transpose(1, 2))                    # Z = T T^T
    rows, cols = torch.tril_indices(stacked.shape[1], stacked.shape[1], offset=-1, device=bottom.device)
    return torch.cat([bottom, products[:, rows, cols]], dim=1)


def uniform_embedding_init(weight: torch.Tensor) -> None:
    """DLRM's embedding initialisation, U(-sqrt(1/rows), sqrt(1/rows))."""
    bound = math.sqrt(1.0 / weight.shape[0])
    with torch.no_grad():
        weight.uniform_(-bound, bound)


def _optimizer(name: str, parameters: Any, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    raise ValueError(f"optimizer must be sgd, adagrad or adam, got {name!r}")


def _cycle(data: CTRData, batch_size: int, seed: int, device: Any) -> Iterator[tuple[torch.Tensor, ...]]:
    epoch = 0
    while True:
        yield from data.batches(batch_size, shuffle=True, seed=seed + epoch, device=device)
        epoch += 1


def darts_fit(model: nn.Module, train: CTRData, architecture_step: Callable[[Callable[[], torch.Tensor], int], None],
              *, epochs: int, lr: float, batch_size: int, optimizer: str = "adagrad", arch_fraction: float = 0.2,
              warmup_epochs: int = 1, max_steps: int | None = None, seed: int = 0, device: Any = "cpu",
              arch_batch_size: int | None = None, arch_every: int = 1,
              log: Callable[[str], None] | None = None) -> int:
    """Train a supernet: weights on the first `1 - arch_fraction` of `train`, and after `warmup_epochs`
    epochs one architecture step every `arch_every` weight steps on a batch (of `arch_batch_size`
    rows, default `batch_size`) of the rest.

    `architecture_step(loss, epoch)` is where the trial calls `nas.training_update(loss=loss, epoch=epoch)`;
    `loss()` is the model's loss on the next architecture batch. `max_steps` stops early (tests).
    Returns the number of weight steps taken.
    """
    if arch_every < 1:
        raise ValueError(f"arch_every (--arch-every) must be at least 1, got {arch_every}")
    cut = int(round(len(train) * (1 - arch_fraction)))
    weights_part, arch_part = train.subset(slice(0, cut)), train.subset(slice(cut, len(train)))
    arch_batches = _cycle(arch_part, arch_batch_size or batch_size, seed + 1, device)
    opt = _optimizer(optimizer, model.parameters(), lr)
    steps = 0
    for epoch in range(epochs):
        model.train()
        started, total, count = time.monotonic(), 0.0, 0
        for dense, sparse, labels in weights_part.batches(batch_size, shuffle=True, seed=seed + epoch, device=device):
            opt.zero_grad(set_to_none=True)
            loss = bce_with_logits(model.logits(dense, sparse), labels)
            loss.backward()
            opt.step()
            total, count, steps = total + float(loss.detach()) * len(labels), count + len(labels), steps + 1
            if epoch >= warmup_epochs and steps % arch_every == 0:  # the architecture moves after the warm-up
                batch = next(arch_batches)

                def arch_loss(batch: tuple[torch.Tensor, ...] = batch) -> torch.Tensor:
                    return bce_with_logits(model.logits(batch[0], batch[1]), batch[2])  # L_arch on the 20%

                architecture_step(arch_loss, epoch)
            if max_steps is not None and steps >= max_steps:
                return steps
        if log is not None:
            log(f"search epoch {epoch}: train loss {total / max(count, 1):.5f} ({time.monotonic() - started:.1f} s)")
    return steps


def retrain_fit(model: nn.Module, train: CTRData, validation: CTRData, *, epochs: int, lr: float, batch_size: int,
                optimizer: str = "adagrad", seed: int = 0, device: Any = "cpu", max_rows: int | None = None,
                on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, float]:
    """Train `model` and keep the weights of the epoch that validates best (log loss); returns its
    validation metrics. `max_rows` bounds the rows per epoch (tests)."""
    opt = _optimizer(optimizer, model.parameters(), lr)
    best: tuple[float, dict[str, Any], dict[str, float]] | None = None
    for epoch in range(epochs):
        train_epoch(model, train, opt, batch_size=batch_size, seed=seed + epoch, device=device, limit=max_rows)
        metrics = evaluate(model, validation, device=device)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if best is None or metrics["log_loss"] < best[0]:
            best = (metrics["log_loss"], {k: v.detach().clone() for k, v in model.state_dict().items()}, metrics)
    if best is None:
        return evaluate(model, validation, device=device)
    model.load_state_dict(best[1])
    return best[2]


def model_size(model: nn.Module, data: CTRData, device: Any = "cpu", batch: int = 64) -> dict[str, float]:
    """`params` (every parameter of the model as built) and `flops` per example of one forward
    (torch's operator counts: 2 per multiply-add; embedding lookups count 0)."""
    from torch.utils.flop_counter import FlopCounterMode

    dense, sparse, _ = next(data.batches(batch, device=device))
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.logits(dense, sparse)
    return {"params": float(sum(p.numel() for p in model.parameters())),
            "flops": counter.get_total_flops() / len(dense)}


# -- the trial scripts' common part -------------------------------------------------------------------


def trial_arguments(description: str, argv: Sequence[str] | None = None) -> Any:
    """The command line every DNAS-for-CTR trial takes (data, sizes of the run, device)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=("ci", "cpu", "gpu"), default="ci", help="planted data of this size")
    source.add_argument("--data", help="a Criteo-format file instead of planted data (DLRM's day split)")
    parser.add_argument("--rows", type=int, help="planted rows (default: the preset's)")
    from nasctl.rec._planted import SPECTRA

    parser.add_argument("--spectrum", choices=SPECTRA, default="gaussian",
                        help="planted data: how a rank-r table spreads its variance over its r directions "
                             "(nasctl.rec.make_planted)")
    parser.add_argument("--cache", default=os.environ.get("NASCTL_DATA_CACHE"),
                        help="a folder where planted data is kept after its first generation "
                             "(default: $NASCTL_DATA_CACHE; none: generated by every trial)")
    parser.add_argument("--dim", type=int, help="the interaction size d (default: the preset's, 16 for --data)")
    parser.add_argument("--search-epochs", type=int, default=3, help="darts: epochs, warm-up included")
    parser.add_argument("--warmup-epochs", type=int, default=1,
                        help="darts: epochs that train the weights only, before the architecture weights move")
    parser.add_argument("--epochs", type=int, default=4, help="classic (retrain): epochs; the best on validation is kept")
    parser.add_argument("--arch-batch-size", type=int, help="darts: rows of an architecture step's batch "
                                                            "(default: --batch-size)")
    parser.add_argument("--arch-every", type=int, default=1, help="darts: one architecture step every N weight steps")
    parser.add_argument("--lr", type=float, default=0.1, help="darts: the weights' learning rate (a retrain "
                                                               "takes its own from the lr choice)")
    parser.add_argument("--optimizer", choices=("sgd", "adagrad", "adam"), default="adagrad")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("NASCTL_THREADS", "1")),
                        help="CPU threads of torch (default 1, or $NASCTL_THREADS: trials run side by side)")
    parser.add_argument("--seed", type=int, default=0, help="the data's seed (the model's: NAS_TRIAL_SEED)")
    parser.add_argument("--max-steps", type=int, help="darts: stop after this many weight steps (tests)")
    parser.add_argument("--max-rows", type=int, help="classic: at most this many training rows an epoch (tests)")
    return parser.parse_args(argv)


def interaction_dim(args: Any) -> int:
    """`--dim`, else the planted preset's interaction size (16 for a Criteo file, as in DLRM's Kaggle run)."""
    if args.dim:
        return int(args.dim)
    if args.data:
        return 16
    from nasctl.rec._planted import PRESETS

    return PRESETS[args.preset].interaction_dim


def run_trial(args: Any, build: Callable[[CTRSplits], nn.Module], architecture_step: Callable[..., None],
              lr: float, on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Build the model, then search it (darts: it has architecture weights) or train it (classic).

    Returns the final result: `default` (the validation log loss, to minimise), validation and test
    metrics, `params` and `flops` per example of the model as built, and on planted data the test
    set's Bayes-optimal log loss and the teacher's AUC.
    """
    import nas

    torch.set_num_threads(max(1, args.threads))
    splits = load_splits(args.preset, data=args.data, seed=args.seed, rows=args.rows, cache=args.cache,
                         spectrum=args.spectrum)
    torch.manual_seed(int(os.environ.get("NAS_TRIAL_SEED", args.seed)))
    model = build(splits).to(args.device)
    dense, sparse, _ = next(splits.train.batches(2, device=args.device))
    model.logits(dense, sparse)  # the first forward registers the searched sizes and their costs
    searching = bool(nas.arch_parameters())
    print(f"{'darts search' if searching else 'training'}: {len(splits.train)} training rows, "
          f"{len(splits.validation)} validation, {len(splits.test)} test; device {args.device}", flush=True)
    if searching:
        darts_fit(model, splits.train, architecture_step, epochs=args.search_epochs, lr=args.lr,
                  batch_size=args.batch_size, optimizer=args.optimizer, seed=args.seed, device=args.device,
                  warmup_epochs=args.warmup_epochs, max_steps=args.max_steps, arch_batch_size=args.arch_batch_size,
                  arch_every=args.arch_every, log=lambda line: print(line, flush=True))
        validation = evaluate(model, splits.validation, device=args.device)
    else:
        validation = retrain_fit(model, splits.train, splits.validation, epochs=args.epochs, lr=float(lr),
                                 batch_size=args.batch_size, optimizer=args.optimizer, seed=args.seed,
                                 device=args.device, max_rows=args.max_rows, on_epoch=on_epoch)
    test = evaluate(model, splits.test, device=args.device)
    result: dict[str, Any] = {"default": validation["log_loss"], "val_log_loss": validation["log_loss"],
                              "val_auc": validation["auc"], "test_log_loss": test["log_loss"],
                              "test_auc": test["auc"], "test_accuracy": test["accuracy"], "test_ne": test["ne"],
                              "lr": float(lr) if not searching else float(args.lr)}
    if not searching:
        result.update(model_size(model, splits.test, args.device))
    if splits.truth is not None:
        result["bayes_test_log_loss"] = splits.truth["bayes_test_log_loss"]
        result["teacher_test_auc"] = splits.truth["teacher_test"]["auc"]
    print(json.dumps(result), flush=True)
    return result
