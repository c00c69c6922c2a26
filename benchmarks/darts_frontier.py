"""One hypernet search against five fixed-penalty searches and random architectures (DARTS-CC, seed 003).

On `examples/darts-frontier/cells.py` (a four-layer cell network on scikit-learn's digits):

1. one darts search with `complexity.hypernet` (alpha(lambda) over K knots, lambda log-uniform in
   `[low, high]` each step), deriving the architecture at the normalised lambdas 0, 0.25, ..., 1;
2. five darts searches with a fixed penalty `lambda * E[params]`, one per lambda, the same options
   otherwise (epochs, warm-up, optimizer, temperature schedule, seed);
3. every derived architecture and `--random` uniformly drawn ones retrained in classic mode, each
   with the same `--seeds` seeds, its accuracy the mean over them (one protocol for every point).

The searches run one after the other in this process (`nasctl trial run`'s runner), so their times
compare; the retrains run in `--jobs` processes. The table gives lambda, the architecture (one letter
per layer), its parameters and its accuracy after retraining (mean and standard deviation over the
seeds), and the search time of each search; the targets are checked and a plot of both frontiers and
the random points is written beside the table in `--out` (retrains already in `--out/runs`, from an
earlier run with the same retrain epochs, are reused). `--accuracy val` reports the accuracy on the
validation split instead of the test split: search settings are chosen on that, never on the test.

    python benchmarks/darts_frontier.py [--epochs 16] [--retrain-epochs 20] [--seeds 5] [--random 20] \
        [--jobs 2] [--accuracy test|val] [--options search.yml] [--out DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scipy import stats

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "darts-frontier"
SCRIPT = EXAMPLE / "cells.py"
LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)
LETTERS = {"ConvBN(CHANNELS, 3)": "3", "ConvBN(CHANNELS, 5)": "5", "SepConv(CHANNELS, 3)": "s", "Pool()": "p",
           "Skip()": "-"}


def darts_options(path: Path) -> dict[str, Any]:
    """The `darts:` section of the example's search config."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))["darts"]


def run(mode: str, argv: list[str], options: dict[str, Any] | None, out: Path,
        architecture: Path | None = None) -> tuple[dict[str, Any], tuple[float, float]]:
    """Run cells.py in this process; its `--out` JSON, the wall time and this process's CPU time."""
    from nasctl.runtime.trial._runner import run_script

    os.environ["NAS_MODE_CONFIG"] = json.dumps(options or {})
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        status = run_script(SCRIPT, [*argv, "--out", str(out)], mode=mode, architecture_file=architecture, seed=0)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    if status != 0:
        raise SystemExit(f"cells.py ({mode}) exited with status {status}")
    return json.loads(out.read_text(encoding="utf-8")), seconds


def _warm_up(options: dict[str, Any], folder: Path) -> None:
    """One untimed 1-epoch search first, so that no timed search pays for the imports and the compile."""
    run("darts", ["--epochs", "1", "--derive", "0,1"], options, folder / "warm-up.json")


def blocks(architecture: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in architecture.items() if key.endswith("/h1")}


def name(architecture: dict[str, Any]) -> str:
    layers = next(iter(blocks(architecture).values()))
    return "".join(LETTERS[layers[f"h{i}"]["chosen_layer"]] for i in range(1, 5))


def _retrain(file: str, epochs: int, seed: int, out: str) -> dict[str, Any]:
    """One classic retrain of the architecture in `file` (in a worker process)."""
    return run("classic", ["--epochs", str(epochs), "--seed", str(seed)], None, Path(out), architecture=Path(file))[0]


class Retrainer:
    """Classic retrains, each distinct architecture once per seed (the same seeds for all), in parallel."""

    def __init__(self, folder: Path, epochs: int, seeds: int, split: str, jobs: int) -> None:
        self.folder, self.epochs, self.seeds, self.jobs = folder, epochs, seeds, jobs
        self.field = "accuracy" if split == "test" else "val_accuracy"
        self.pending: dict[str, Path] = {}
        #: name -> (mean accuracy, standard deviation over the seeds, parameters)
        self.done: dict[str, tuple[float, float, int]] = {}

    def add(self, architecture: dict[str, Any]) -> str:
        """Queue `architecture` (once per distinct one); its name."""
        key = name(architecture)
        if key not in self.done and key not in self.pending:
            file = self.folder / f"arch-{key}.json"
            file.write_text(json.dumps(blocks(architecture)), encoding="utf-8")
            self.pending[key] = file
        return key

    def run(self) -> None:
        """Retrain everything queued: `seeds` runs of each, `jobs` at a time."""
        tasks = {(key, seed): (str(file), self.epochs, seed,
                               str(self.folder / f"retrain-{key}-e{self.epochs}-s{seed}.json"))
                 for key, file in self.pending.items() for seed in range(self.seeds)}
        results = {task: json.loads(Path(arguments[3]).read_text(encoding="utf-8"))
                   for task, arguments in tasks.items() if Path(arguments[3]).exists()}  # an earlier run's
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            futures = {task: pool.submit(_retrain, *arguments) for task, arguments in tasks.items()
                       if task not in results}
            results.update({task: future.result() for task, future in futures.items()})
        for key in self.pending:
            runs = [results[(key, seed)] for seed in range(self.seeds)]
            accuracies = [r[self.field] for r in runs]
            spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
            self.done[key] = (statistics.fmean(accuracies), spread, runs[0]["params"])
        self.pending.clear()

    def __getitem__(self, architecture: dict[str, Any]) -> tuple[float, float, int]:
        return self.done[name(architecture)]


def random_architectures(count: int, seed: int) -> list[dict[str, Any]]:
    from nasctl import annotator

    space = annotator.generate_search_space(EXAMPLE)
    rng = random.Random(seed)
    found: list[dict[str, Any]] = []
    while len(found) < count:
        arch = {key: {layer: {"chosen_layer": rng.choice(spec["layer_choice"]), "chosen_inputs": []}
                      for layer, spec in entry["_value"].items()} for key, entry in space.items()}
        if arch not in found:
            found.append(arch)
    return found


def dominated(point: tuple[int, float], others: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The points of `others` that dominate `point`: fewer parameters (strictly) and a higher accuracy."""
    params, acc = point
    return [(p, a) for p, a in others if p < params and a > acc]


def tied(point: tuple[int, float], others: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The points of `others` with as many parameters and a higher accuracy (not dominating: listed)."""
    params, acc = point
    return [(p, a) for p, a in others if p == params and a > acc]


def plot(path: Path, hyper: list[tuple[float, int, float]], separate: list[tuple[float, int, float]],
         randoms: list[tuple[int, float]], split: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[dev]'): no plot", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([p for p, _ in randoms], [a for _, a in randoms], c="lightgray", label="random architectures")
    for points, style, label, offset in ((separate, "s--", "5 fixed-penalty searches", (5, -11)),
                                         (hyper, "o-", "one hypernet search", (5, 4))):
        ordered = sorted(points, key=lambda r: r[1])
        ax.plot([r[1] for r in ordered], [r[2] for r in ordered], style, label=label)
        labels: dict[tuple[int, float], list[str]] = {}  # the lambdas that gave each point
        for t, params, acc in points:
            labels.setdefault((params, acc), []).append(f"{t:g}")
        for (params, acc), ts in labels.items():
            ax.annotate(",".join(ts), (params, acc), textcoords="offset points", xytext=offset, fontsize=7,
                        color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_xlabel("parameters after retraining (log scale); labels: normalised lambda")
    ax.set_ylabel(f"{split} accuracy after retraining (mean over seeds)")
    ax.set_title("digits: one alpha(lambda) search vs fixed penalties", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16, help="search epochs (every search)")
    parser.add_argument("--retrain-epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5, help="retrain seeds averaged per architecture")
    parser.add_argument("--random", type=int, default=20, help="random architectures to retrain")
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 16), help="retrains in parallel")
    parser.add_argument("--accuracy", choices=("test", "val"), default="test",
                        help="the split the retrained accuracy is measured on (val: to choose search settings)")
    parser.add_argument("--options", type=Path, default=EXAMPLE / "search.yml",
                        help="the config whose darts: section every search uses")
    parser.add_argument("--out", default=None, help="folder for the plot and the table (default: a temporary one)")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="darts-frontier-"))
    out.mkdir(parents=True, exist_ok=True)
    work = out / "runs"
    work.mkdir(exist_ok=True)

    hyper_options = darts_options(args.options)
    low, high = hyper_options["complexity"]["lambda"]
    lambdas = ",".join(f"{t:g}" for t in LAMBDAS)
    epochs = ["--epochs", str(args.epochs)]
    print(f"search: {args.epochs} epochs each, darts {json.dumps(hyper_options)}; retrain: {args.retrain_epochs} "
          f"epochs x {args.seeds} seed(s), {args.accuracy} accuracy; normalised lambdas {lambdas}", flush=True)

    _warm_up(hyper_options, work)
    hyper, (hyper_time, hyper_cpu) = run("darts", [*epochs, "--derive", lambdas], hyper_options,
                                         work / "hypernet.json")
    print(f"hypernet search: {hyper_time:.1f} s ({hyper_cpu:.1f} s CPU)", flush=True)
    separate: dict[float, tuple[dict[str, Any], tuple[float, float]]] = {}
    for t in LAMBDAS:
        fixed = {key: value for key, value in hyper_options.items()}
        complexity = {k: v for k, v in hyper_options["complexity"].items() if k not in ("hypernet", "lambda")}
        fixed["complexity"] = {**complexity, "weight": low * (high / low) ** t}
        result, seconds = run("darts", epochs, fixed, work / f"fixed-{t:g}.json")
        separate[t] = (result["architecture"], seconds)
        print(f"fixed-penalty search at lambda {t:g}: {seconds[0]:.1f} s ({seconds[1]:.1f} s CPU)", flush=True)
    separate_time = sum(seconds[0] for _, seconds in separate.values())
    separate_cpu = sum(seconds[1] for _, seconds in separate.values())

    retrain = Retrainer(work, args.retrain_epochs, args.seeds, args.accuracy, args.jobs)
    randoms_arch = random_architectures(args.random, seed=1)
    for arch in [*(hyper["derived"][f"{t:g}"] for t in LAMBDAS), *(a for a, _ in separate.values()), *randoms_arch]:
        retrain.add(arch)
    start = time.perf_counter()
    retrain.run()
    print(f"retrained {len(retrain.done)} distinct architectures x {args.seeds} seeds in "
          f"{time.perf_counter() - start:.0f} s ({args.jobs} jobs)", flush=True)

    def cell(acc: float, spread: float) -> str:
        return f"{acc:.4f} ±{spread:.4f}"

    rows = [["lambda", "raw lambda", "hypernet arch", "params", f"{args.accuracy} acc ±sd", "separate arch", "params",
             f"{args.accuracy} acc ±sd", "search s (CPU)"]]
    hyper_points, separate_points = [], []
    for t in LAMBDAS:
        h_arch = hyper["derived"][f"{t:g}"]
        s_arch, seconds = separate[t]
        h_acc, h_sd, h_params = retrain[h_arch]
        s_acc, s_sd, s_params = retrain[s_arch]
        hyper_points.append((t, h_params, h_acc))
        separate_points.append((t, s_params, s_acc))
        rows.append([f"{t:g}", f"{low * (high / low) ** t:.3g}", name(h_arch), str(h_params), cell(h_acc, h_sd),
                     name(s_arch), str(s_params), cell(s_acc, s_sd), f"{seconds[0]:.1f} ({seconds[1]:.1f})"])
    randoms = [(retrain[arch][2], retrain[arch][0]) for arch in randoms_arch]

    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"search time: hypernet {hyper_time:.1f} s (one search), separate {separate_time:.1f} s (5 searches), "
                 f"ratio {hyper_time / separate_time:.2f}; CPU: {hyper_cpu:.1f} s vs {separate_cpu:.1f} s, ratio "
                 f"{hyper_cpu / separate_cpu:.2f}")
    lines.append("architecture letters per layer: 3 = 3x3 conv, 5 = 5x5 conv, s = separable conv, p = max pool, "
                 "- = skip (every op is residual, x + op(x))")
    lines.append(f"accuracy: {args.accuracy} split, mean over {args.seeds} retrain seeds (the same seeds for every "
                 f"architecture); random architectures (arch, params, accuracy): "
                 + ", ".join(f"({name(arch)}, {retrain[arch][2]}, {retrain[arch][0]:.4f})"
                             for arch in sorted(randoms_arch, key=lambda a: (retrain[a][2], retrain[a][0]))))

    distinct = len({name(hyper["derived"][f"{t:g}"]) for t in LAMBDAS})
    rho = stats.spearmanr(list(LAMBDAS), [p for _, p, _ in hyper_points]).statistic
    # hypernet minus separate, in accuracy points: the hypernet is within 1 point unless it is worse by more
    gaps = [(h[2] - s[2]) * 100 for h, s in zip(hyper_points, separate_points, strict=True)]
    above = [f"{t:g}" for t, g in zip(LAMBDAS, gaps, strict=True) if g > 1.0]
    beaten = {t: dominated((p, a), randoms) for t, p, a in hyper_points}
    ties = {t: tied((p, a), randoms) for t, p, a in hyper_points}

    def listing(found: dict[float, list[tuple[int, float]]]) -> str:
        return ", ".join(f"lambda {t:g} by " + ", ".join(f"({p}, {a:.4f})" for p, a in b)
                         for t, b in found.items() if b) or "none"

    checks = [
        (distinct >= 3, f"distinct architectures over the 5 lambdas: {distinct} (target >= 3)"),
        (rho <= -0.9, f"Spearman(lambda, params): {rho:.3f} (target <= -0.9)"),
        (min(gaps) >= -1.0, "hypernet minus separate search accuracy at the same lambda, points: "
                            + ", ".join(f"{g:+.2f}" for g in gaps) + " (target: none below -1"
                            + (f"; above by more than 1 at lambda {', '.join(above)}" if above else "") + ")"),
        (hyper_cpu / separate_cpu <= 0.25, f"search CPU time ratio {hyper_cpu / separate_cpu:.2f}, wall "
                                           f"{hyper_time / separate_time:.2f} (target about 1/5)"),
        (not any(beaten.values()), "hypernet points dominated by a random architecture (fewer params, higher "
                                   f"accuracy): {listing(beaten)}"),
    ]
    lines += [f"[{'ok' if ok else 'MISSED'}] {text}" for ok, text in checks]
    lines.append(f"(not dominating) random architectures with as many params and a higher accuracy: {listing(ties)}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (out / "darts_frontier.txt").write_text(text, encoding="utf-8")
    if plot(out / "darts_frontier.png", hyper_points, separate_points, randoms, args.accuracy):
        print(f"plot: {out / 'darts_frontier.png'}; table: {out / 'darts_frontier.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
