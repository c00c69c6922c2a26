"""Search quality of the tuners on a tabular benchmark: the best metric found after N queries.

    python benchmarks/tuner_quality.py                          # the shipped synthetic table
    python benchmarks/tuner_quality.py --table my.csv --search-space my.json --metric top1
    python benchmarks/tuner_quality.py --tuners Random,Evolution,my_tuner:MyTuner --code-dir .

Each tuner runs for `--queries` trials on each of `--seeds` seeds (seed s gives `seed=s`); for
every checkpoint (default 10, 30, 100 queries) it prints the mean and standard deviation over
seeds of the best metric found so far, and the difference of the means to Random (always run,
in the same process). The table format is described in `tuners/_tabular.py`: a CSV with one
column per dimension (or an `architecture` JSON column) and a metric column, covering every
architecture of a finite search space. `benchmarks/data/make_synthetic_table.py` writes the
shipped table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from nasctl import tuners

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_TUNERS = "Random,GridSearch,Evolution,TPE,Reinforce,PPO"


def best_so_far(values: list[float], maximize: bool) -> np.ndarray:
    """best[i] = the best of values[: i + 1]; padded with the last best when a tuner stopped early."""
    array = np.asarray(values, dtype=float)
    return np.maximum.accumulate(array) if maximize else np.minimum.accumulate(array)


def run(name: str, class_args: dict, objective: tuners.TabularObjective, queries: int, seeds: int,
        optimize_mode: str, code_dir: str | None) -> tuple[np.ndarray, float]:
    """best-so-far curves (seeds x queries) and the mean seconds per seed."""
    curves = np.empty((seeds, queries))
    start = time.perf_counter()
    for seed in range(seeds):
        tuner = tuners.create(name, code_dir=code_dir, **{"optimize_mode": optimize_mode, "seed": seed, **class_args})
        values = tuners.run_search(tuner, objective, queries)
        curve = best_so_far(values, optimize_mode == "maximize")
        curves[seed, : len(curve)] = curve
        curves[seed, len(curve):] = curve[-1]
    return curves, (time.perf_counter() - start) / seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(DATA / "synthetic_table.csv"))
    parser.add_argument("--search-space", default=str(DATA / "synthetic_search_space.json"))
    parser.add_argument("--metric", default="accuracy", help="the table's metric column (default accuracy)")
    parser.add_argument("--optimize-mode", default="maximize", choices=("maximize", "minimize"))
    parser.add_argument("--tuners", default=DEFAULT_TUNERS, help=f"comma-separated (default {DEFAULT_TUNERS})")
    parser.add_argument("--class-args", default="{}",
                        help='JSON: tuner name -> classArgs, e.g. {"Evolution": {"population_size": 10}}')
    parser.add_argument("--code-dir", default=None, help="code directory of custom module:Class tuners")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--at", default="10,30,100", help="query counts to report (default 10,30,100)")
    args = parser.parse_args(argv)

    try:
        class_args = json.loads(args.class_args)
        checkpoints = [int(n) for n in args.at.split(",")]
    except ValueError as error:
        parser.error(f"--class-args/--at: {error}")
    checkpoints = [n for n in checkpoints if 0 < n <= args.queries] or [args.queries]
    names = [n.strip() for n in args.tuners.split(",") if n.strip()]
    if not any(n.lower() in ("random", "randomtuner", "randomsearch") for n in names):
        names.insert(0, "Random")
    try:
        objective = tuners.TabularObjective(args.table, args.search_space, args.metric)
        maximize = args.optimize_mode == "maximize"
        print(f"table {args.table}: {len(objective.values)} architectures, best {args.metric} "
              f"{objective.best(args.optimize_mode):.4f}; {args.queries} queries x {args.seeds} seeds")
        print(f"mean ± std over seeds of the best {args.metric} found after n queries; "
              f"'vs Random' is the difference of the means")
        width = max(12, *(len(n) + 2 for n in names))
        header = f"{'tuner':<{width}}" + "".join(f"{'@' + str(n):>18}" for n in checkpoints) + \
            "".join(f"{'vs Random @' + str(n):>16}" for n in checkpoints) + f"{'s/seed':>9}"
        print(header)
        random_means = None
        for name in names:
            curves, seconds = run(name, class_args.get(name, {}), objective, args.queries, args.seeds,
                                  args.optimize_mode, args.code_dir)
            means = [float(curves[:, n - 1].mean()) for n in checkpoints]
            stds = [float(curves[:, n - 1].std()) for n in checkpoints]
            if random_means is None:
                random_means = means
            sign = 1 if maximize else -1
            print(f"{name:<{width}}" + "".join(f"{m:>10.4f} ± {s:.4f}" for m, s in zip(means, stds, strict=True))
                  + "".join(f"{sign * (m - r):>+16.4f}" for m, r in zip(means, random_means, strict=True))
                  + f"{seconds:>9.2f}", flush=True)
    except tuners.TunerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
