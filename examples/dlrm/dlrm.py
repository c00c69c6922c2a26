"""DLRM on planted CTR data (or a Criteo-format file): train it, then set it beside the best possible.

On planted data (`--preset ci|cpu|gpu`) the teacher's click probabilities are known, so the test log
loss is printed beside the Bayes-optimal one and the AUC beside the teacher's. With `--data FILE` the
same code reads a Criteo-format file (Kaggle's train.txt, say) and uses DLRM's day split.

    python examples/dlrm/dlrm.py --preset cpu --config cpu          # minutes on 2 CPU cores
    python examples/dlrm/dlrm.py --preset ci --config cpu --epochs 1 # seconds
    python examples/dlrm/dlrm.py --data train.txt --config kaggle --device cuda

As a nasctl trial it reports the validation log loss each epoch and the test metrics at the end
(`default`: the test log loss, to minimise).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

import nas
from nasctl import rec

# The reference's Criteo Kaggle configuration, and a smaller one for CPUs.
CONFIGS = {
    "kaggle": {"dim": 16, "bottom": [512, 256, 64, 16], "top": [512, 256, 1], "lr": 0.1, "batch_size": 128,
               "optimizer": "sgd"},
    "cpu": {"dim": 8, "bottom": [32, 8], "top": [32, 1], "lr": 0.1, "batch_size": 2048, "optimizer": "adagrad"},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(rec.PRESETS), default="ci", help="planted data of this size")
    source.add_argument("--data", help="a Criteo-format file instead of planted data")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, help="learning rate (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="(default: the config's)")
    parser.add_argument("--optimizer", choices=("sgd", "adagrad"), help="(default: the config's)")
    parser.add_argument("--dim", type=int, help="embedding size (default: the config's)")
    parser.add_argument("--bottom", help="bottom MLP widths, e.g. 64-32-8 (default: the config's)")
    parser.add_argument("--top", help="top MLP widths ending in 1, e.g. 64-1 (default: the config's)")
    parser.add_argument("--hash-size", type=int, default=2**20, help="rows per table when reading --data")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torchrec-check", action="store_true",
                        help="also run the test set's first batch through TorchRec's EmbeddingBagCollection")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = dict(CONFIGS[args.config])
    config.update({key: value for key, value in (("dim", args.dim),
                                                 ("bottom", args.bottom and [int(w) for w in args.bottom.split("-")]),
                                                 ("top", args.top and [int(w) for w in args.top.split("-")]))
                   if value})
    lr = args.lr if args.lr is not None else config["lr"]
    batch_size = args.batch_size or config["batch_size"]
    optimizer_name = args.optimizer or config["optimizer"]
    torch.manual_seed(args.seed)
    planted = None
    if args.data:
        data = rec.read_criteo(args.data, hash_size=args.hash_size)
        train, validation, test = rec.day_split(data)
    else:
        planted = rec.make_planted(args.preset, seed=args.seed)
        data = planted.data
        rows = planted.splits("random", seed=args.seed)
        train, validation, test = (data.subset(rows[part]) for part in ("train", "validation", "test"))
    model = rec.DLRM(data.num_dense, data.cardinalities, config["dim"], bottom=config["bottom"],
                     top=config["top"]).to(args.device)
    optimizer = (torch.optim.SGD(model.parameters(), lr=lr) if optimizer_name == "sgd"
                 else torch.optim.Adagrad(model.parameters(), lr=lr))
    print(f"{len(train)} training rows, {len(validation)} validation, {len(test)} test; "
          f"{sum(p.numel() for p in model.parameters())} parameters ({args.config}, {optimizer_name} lr {lr}, "
          f"batch {batch_size}, {args.device})")
    best, best_state = float("inf"), None
    for epoch in range(args.epochs):
        started = time.perf_counter()
        loss = rec.train_epoch(model, train, optimizer, batch_size=batch_size, seed=args.seed * 1000 + epoch,
                               device=args.device)
        metrics = rec.evaluate(model, validation, device=args.device)
        print(f"epoch {epoch + 1}: train loss {loss:.4f}, validation log loss {metrics['log_loss']:.4f} "
              f"AUC {metrics['auc']:.4f} ({time.perf_counter() - started:.0f} s)")
        nas.report_intermediate_result(metrics["log_loss"])
        if metrics["log_loss"] < best:       # keep the epoch that validates best
            best, best_state = metrics["log_loss"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    result = rec.evaluate(model, test, device=args.device)
    print(f"test: log loss {result['log_loss']:.4f}, AUC {result['auc']:.4f}, accuracy {result['accuracy']:.4f}, "
          f"NE {result['ne']:.4f}")
    if args.torchrec_check:
        from nasctl.rec._torchrec import torchrec_logits

        dense, sparse, _ = next(test.batches(4096, device=args.device))
        with torch.no_grad():
            difference = (torchrec_logits(model, dense, sparse) - model.logits(dense, sparse)).abs().max()
        print(f"TorchRec EmbeddingBagCollection: largest logit difference {float(difference):.2e}")
    if planted is not None:
        teacher = planted.teacher_metrics(rows["test"])
        bayes = planted.bayes_log_loss(rows["test"])
        print(f"{'':10}{'log loss':>10}{'AUC':>8}")
        print(f"{'DLRM':10}{result['log_loss']:>10.4f}{result['auc']:>8.4f}")
        print(f"{'teacher':10}{teacher['log_loss']:>10.4f}{teacher['auc']:>8.4f}")
        print(f"{'Bayes':10}{bayes:>10.4f}{'':>8}")
        print(f"gap: log loss {result['log_loss'] - bayes:+.4f} to the Bayes-optimal (target <= 0.01), "
              f"AUC {result['auc'] - teacher['auc']:+.4f} to the teacher's (target >= -0.005)")
        result.update(bayes_log_loss=bayes, teacher_auc=teacher["auc"])
    nas.report_final_result({"default": result["log_loss"], **result})


if __name__ == "__main__":
    main()
