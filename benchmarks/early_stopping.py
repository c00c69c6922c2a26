"""Early stopping on a tabular benchmark of learning curves: epochs spent and best final value,
with and without each built-in assessor, at equal trial count.

The table is synthetic and seeded: `--configs` configurations, each with a learning curve of
`--epochs` epochs, y(t) = a0 + (a_final - a0) * (1 - exp(-(t / tau)^beta)) plus Gaussian noise
(sd `--noise`). Final accuracies are skewed so that good configurations are rare, and their speed
(tau, beta) is drawn independently of their quality, so slow starters that end well exist. The
curve's shape is none of the families the Curvefitting assessor fits. The known final ranking is
that of the noise-free y(epochs).

For each of `--repeats` seeds, `--trials` configurations are drawn at random (a random tuner) and
run `--concurrency` at a time, one epoch per tick; after every epoch the assessor is called
(`assess_trial`) as the experiment manager calls it, and a `Bad` verdict stops the trial there
(its epochs so far are spent; it gives no final value). A trial that runs all its epochs ends with
`trial_end(success=True)`. The assessors are driven directly over the table, not through the
experiment manager (the manager path is tested in tests/runtime/manager/test_early_stopping.py).

Target (issue 16): at least 40% fewer epochs with the best final value within 0.5% of no early
stopping.

    .venv/bin/python benchmarks/early_stopping.py [--trials 100] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasctl.tuners import assessors  # noqa: E402


def make_table(configs: int, epochs: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(curves: configs x epochs as reported, noise-free final values)."""
    rng = np.random.default_rng(seed)
    final = 0.97 - 0.55 * rng.beta(1.2, 3.0, configs)          # most configurations are mediocre
    start = rng.uniform(0.08, 0.3, configs)
    tau = np.exp(rng.uniform(np.log(1.0), np.log(10.0), configs))  # epochs to ~63% of the way
    beta = rng.uniform(0.7, 1.6, configs)
    t = np.arange(1, epochs + 1, dtype=float)
    clean = start[:, None] + (final - start)[:, None] * (1 - np.exp(-(t[None, :] / tau[:, None]) ** beta[:, None]))
    curves = clean + rng.normal(0.0, noise, clean.shape)
    return curves, clean[:, -1]


@dataclass
class Outcome:
    epochs: int
    best: float
    stopped: int
    seconds: float


def simulate(curves: np.ndarray, order: list[int], concurrency: int, factory) -> Outcome:
    """Run the trials in `order`, `concurrency` at a time, under the assessor `factory()` (None: none)."""
    assessor = factory() if factory is not None else None
    epochs_total = curves.shape[1]
    queue = list(order)
    running: dict[str, tuple[int, int]] = {}   # trial id -> (configuration, epochs done)
    spent, stopped, finals = 0, 0, []
    started = time.perf_counter()
    serial = 0
    while queue or running:
        while len(running) < concurrency and queue:
            running[f"t{serial}"] = (queue.pop(0), 0)
            serial += 1
        for trial_id in list(running):
            config, done = running[trial_id]
            done += 1
            spent += 1
            history = [float(v) for v in curves[config, :done]]
            verdict = assessor.assess_trial(trial_id, history) if assessor is not None else None
            if done == epochs_total:
                finals.append(history[-1])
                if assessor is not None:
                    assessor.trial_end(trial_id, True)
                del running[trial_id]
            elif verdict is assessors.AssessResult.Bad:
                stopped += 1
                assessor.trial_end(trial_id, False)
                del running[trial_id]
            else:
                running[trial_id] = (config, done)
    return Outcome(spent, max(finals) if finals else float("nan"), stopped, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1000, help="configurations in the table")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--noise", type=float, default=0.005)
    parser.add_argument("--trials", type=int, default=100, help="trials per run (equal for every assessor)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    curves, clean_final = make_table(args.configs, args.epochs, args.noise, args.seed)
    ranking = np.argsort(-clean_final)
    print(f"table: {args.configs} configurations x {args.epochs} epochs, noise sd {args.noise}; "
          f"final values: best {clean_final[ranking[0]]:.4f}, median {np.median(clean_final):.4f}")
    print(f"each run: {args.trials} trials, {args.concurrency} at a time; {args.repeats} runs (seeds "
          f"{args.seed}..{args.seed + args.repeats - 1})\n")

    e = args.epochs
    # Two settings per rule where the setting matters: a cautious one and an aggressive one.
    contenders = {
        "none": None,
        "Medianstop(start_step=5)": lambda: assessors.create("Medianstop", start_step=5),
        "Medianstop(start_step=3)": lambda: assessors.create("Medianstop", start_step=3),
        f"Curvefitting(epoch_num={e}, start_step=6, gap=3)":
            lambda: assessors.create("Curvefitting", epoch_num=e, start_step=6, threshold=0.95, gap=3),
        "SuccessiveHalving(min_resource=4, reduction_factor=3)":
            lambda: assessors.create("SuccessiveHalving", min_resource=4, reduction_factor=3),
        "SuccessiveHalving(min_resource=1, reduction_factor=3)":
            lambda: assessors.create("SuccessiveHalving", min_resource=1, reduction_factor=3),
        f"Hyperband(min_resource=3, max_resource={e}, reduction_factor=3)":
            lambda: assessors.create("Hyperband", min_resource=3, max_resource=e, reduction_factor=3),
        f"Hyperband(min_resource=1, max_resource={e}, reduction_factor=3)":
            lambda: assessors.create("Hyperband", min_resource=1, max_resource=e, reduction_factor=3),
    }
    results: dict[str, list[Outcome]] = {name: [] for name in contenders}
    for repeat in range(args.repeats):
        rng = np.random.default_rng(args.seed + 1000 + repeat)
        order = [int(i) for i in rng.choice(args.configs, size=args.trials, replace=False)]
        for name, factory in contenders.items():
            results[name].append(simulate(curves, order, args.concurrency, factory))

    baseline = results["none"]
    header = ["assessor", "epochs (mean)", "epochs saved", "stopped", "best final (mean)", "best vs none: mean",
              "worst run", "meets target", "s/run"]
    rows = [header]
    for name, outcomes in results.items():
        saved = [1 - o.epochs / b.epochs for o, b in zip(outcomes, baseline, strict=True)]
        gaps = [(o.best - b.best) / b.best for o, b in zip(outcomes, baseline, strict=True)]
        worst = min(gaps)
        meets = "-" if name == "none" else ("yes" if statistics.mean(saved) >= 0.40 and worst >= -0.005 else "no")
        rows.append([name, f"{statistics.mean(o.epochs for o in outcomes):.0f}", f"{statistics.mean(saved):.1%}",
                     f"{statistics.mean(o.stopped for o in outcomes):.1f}",
                     f"{statistics.mean(o.best for o in outcomes):.4f}", f"{statistics.mean(gaps):+.2%}",
                     f"{worst:+.2%}", meets,
                     f"{statistics.mean(o.seconds for o in outcomes):.2f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("\nepochs saved: mean over runs of 1 - epochs / epochs without early stopping (same trials);"
          "\nbest vs none: the relative change of the best final value, on average and in the run where it fell"
          "\nfurthest; meets target: at least 40% fewer epochs and the worst run within 0.5%.")


if __name__ == "__main__":
    main()
