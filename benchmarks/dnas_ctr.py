"""DNAS for CTR prediction on planted data: does the search find what was planted?

Runs the three search spaces of `examples/dnas-ctr/` on planted data (`nasctl.rec.make_planted`), whose
true embedding ranks and hash sizes are known, and prints:

- embedding dimension: the Spearman correlation between each feature's chosen dimension and its
  planted rank (target >= 0.8), and the dimensions given to the irrelevant features (rank 0; target:
  the smallest option);
- embedding cardinality: the share of features whose chosen number of rows is at least the planted
  hash size (target >= 90%; an irrelevant feature's is 1), and of the relevant features alone;
- MLP: the whole pipeline (`pipeline:` config: darts search -> K samples -> retrain each over the lr
  grid -> best on validation), its best's test log loss and FLOPs against the teacher-size DLRM
  (bottom 13-32-d, top 32-1, the same lr grid; target: within 0.005 at no more FLOPs);
- a penalty sweep on the embedding-dimension search: three `coef` values of `coef * log(E[cost])`
  (`--dim-cost params`, or `flops`: the projections', proportional to the sum of the dimensions, i.e.
  each feature's parameters normalised by its number of rows), each derived architecture retrained,
  its parameters and test log loss (the size/quality trade-off).

    python benchmarks/dnas_ctr.py --preset cpu --jobs 3              # 3M rows: about 25 minutes on 2 CPU cores
    python benchmarks/dnas_ctr.py --preset cpu --rows 300000 --jobs 2 --arch-batch-size 2048 --arch-every 2
    python benchmarks/dnas_ctr.py --preset gpu --device cuda --jobs 8  # the prepared GPU run

Each section has its own search settings unless a flag overrides them (`SECTION_DEFAULTS`, those of the
figures in examples/dnas-ctr/README.md): the embedding-dimension search runs with hard samples, no
weight decay on its architecture weights and architecture steps of 24576 rows every 24 weight steps
(scaled to 3M rows: with fewer, give smaller ones as above), on planted data of the flat spectrum
(`--dim-spectrum`: each of a table's r directions carries 1/r of its variance).

`--jobs N` runs N trials at a time: the sections, the penalty sweep's searches, the MLP baselines and
the pipeline's retrains side by side (a GPU takes several: each trial is a process of one CPU thread).

Every trial is a real nasctl trial (`nasctl trial run`, or the pipeline's experiments in a temporary
NAS_HOME); the planted data is generated once and cached (`--cache`).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "dnas-ctr"
TEACHER_SIZE = {"mlp/bottom_depth/choice": 1, "mlp/top_depth/choice": 1,
                **{f"mlp/{part}_width/choice[{i}]": 32 for part in ("bottom", "top") for i in range(3)}}


# Each section's settings where a flag is not given: those of the figures in examples/dnas-ctr/README.md.
SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "emb_dim": {"search_epochs": 5, "arch_lr": 0.02, "arch_weight_decay": 0.0, "hard": True, "arch_batch_size": 24576,
                "arch_every": 24, "dim_cost": "flops", "coefs": "0.002,0.005,0.01", "epochs": 3},
    "emb_card": {"search_epochs": 4, "arch_lr": 0.03, "arch_weight_decay": 1e-3, "hard": False, "arch_batch_size": None,
                 "arch_every": 1, "coef": 0.001, "epochs": 3},
    "mlp": {"search_epochs": 4, "arch_lr": 0.03, "arch_weight_decay": 1e-3, "hard": False, "arch_batch_size": None,
            "arch_every": 1, "coef": 1.0, "samples": 1, "epochs": 2},
}


def section_args(space: str, args: argparse.Namespace) -> argparse.Namespace:
    """`args` with the section's defaults where a flag was not given."""
    merged = argparse.Namespace(**vars(args))
    for name, value in SECTION_DEFAULTS[space].items():
        if getattr(merged, name, None) is None:
            setattr(merged, name, value)
    if isinstance(merged.coefs, str):
        merged.coefs = [float(c) for c in merged.coefs.split(",")]
    return merged


def describe(space: str, args: argparse.Namespace) -> str:
    return (f"  [{space}: search {args.search_epochs} epochs ({args.warmup_epochs} warm-up), arch lr {args.arch_lr}, "
            f"weight decay {args.arch_weight_decay}, {'hard' if args.hard else 'soft'} samples, temperature "
            f"{args.temperature_decay}^epoch, batch {args.batch_size}, an architecture step of "
            f"{args.arch_batch_size or args.batch_size} rows every {args.arch_every}; retrain {args.epochs} epochs]")


def darts_config(metric: str, coef: float, args: argparse.Namespace) -> dict[str, Any]:
    """The darts options of a search here (as in the examples' pipeline.yml, with the section's settings)."""
    return {"sampler": "gumbel", "per_example": True, "hard": args.hard,
            "temperature": {"start": 1.0, "decay": args.temperature_decay},
            "optimizer": {"name": "adam", "lr": args.arch_lr, "weight_decay": args.arch_weight_decay},
            "complexity": {"metric": metric, "weight": coef, "form": "log"}, "report_every": 5}


def spectrum(space: str, args: argparse.Namespace) -> str:
    """The planted data's spectrum of a section: --dim-spectrum for the embedding-dimension search, whose
    figure reads the planted ranks; the preset's own (gaussian) for the others."""
    return args.dim_spectrum if space == "emb_dim" else "gaussian"


def trial_args(args: argparse.Namespace, space: str) -> list[str]:
    out = ["--preset", args.preset, "--device", args.device, "--batch-size", str(args.batch_size),
           "--cache", str(args.cache), "--seed", str(args.seed), "--spectrum", spectrum(space, args)]
    return out + (["--rows", str(args.rows)] if args.rows else [])


def nasctl_trial(space: str, args: argparse.Namespace, extra: list[str], *, mode: str = "classic",
                 darts: dict[str, Any] | None = None, arch: dict[str, Any] | None = None) -> dict[str, Any]:
    """One standalone trial of `examples/dnas-ctr/<space>`: its final result and derived architecture."""
    command = [sys.executable, "-m", "nasctl.runtime.cli", "trial", "run", str(EXAMPLES / space / f"{space}.py"),
               "--mode", mode]
    env = dict(os.environ, NAS_MODE_CONFIG=json.dumps(darts or {}))
    with tempfile.TemporaryDirectory() as folder:
        if arch is not None:
            path = Path(folder) / "arch.json"
            path.write_text(json.dumps(arch))
            command += ["--arch", str(path)]
        run = subprocess.run([*command, "--", *trial_args(args, space), *extra], capture_output=True, text=True, env=env,
                             cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"trial of {space} ({mode}) failed:\n{run.stderr[-3000:]}")
    found: dict[str, Any] = {}
    for line in run.stdout.splitlines():
        for tag in ("derived architecture: ", "final result: "):
            if line.startswith(tag):
                found[tag.split()[0]] = json.loads(line[len(tag):])
    return found


def search(space: str, metric: str, coef: float, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    found = nasctl_trial(space, args, ["--search-epochs", str(args.search_epochs), "--warmup-epochs",
                                       str(args.warmup_epochs), "--lr", "0.1", "--arch-every", str(args.arch_every),
                                       "--arch-batch-size", str(args.arch_batch_size or args.batch_size)], mode="darts",
                         darts=darts_config(metric, coef, args))
    print(f"  [{space} search, coef {coef}: {time.monotonic() - started:.0f} s]", flush=True)
    return found["derived"]


def retrain(space: str, arch: dict[str, Any], args: argparse.Namespace, lr: float = 0.1) -> dict[str, Any]:
    fixed = {**arch, f"{space}/lr/choice": lr}
    return nasctl_trial(space, args, ["--epochs", str(args.epochs)], arch=fixed)["final"]


def per_feature(arch: dict[str, Any], name: str) -> list[Any]:
    return [arch[f"{name}[{j}]"] for j in range(26)]


def in_parallel(jobs: int, calls: list[Callable[[], Any]]) -> list[Any]:
    """The calls' results in order, `jobs` at a time (each trial is its own process)."""
    if jobs <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda call: call(), calls))


def emb_dim_figures(truth: dict[str, Any], args: argparse.Namespace) -> list[str]:
    args = section_args("emb_dim", args)
    print(describe("emb_dim", args), flush=True)
    if args.dim_spectrum != "gaussian":  # the same ranks and rows; another teacher, so another best loss
        from nasctl import rec

        truth = rec.load_splits(args.preset, seed=args.seed, rows=args.rows, cache=args.cache,
                                spectrum=args.dim_spectrum).truth or {}
    def one(coef: float) -> tuple[list[int], dict[str, Any]]:
        arch = search("emb_dim", args.dim_cost, coef, args)
        dims = per_feature(arch, "emb_dim/dim/choice")
        print(f"  [emb_dim, {args.dim_cost} coef {coef}: Spearman {spearmanr(dims, truth['ranks']).statistic:.3f}, "
              f"dims {dims}]", flush=True)
        return dims, retrain("emb_dim", arch, args)

    out = [f"\n## Embedding dimension search (cost: {args.dim_cost}, coef * log(E[{args.dim_cost}]); planted "
           f"spectrum: {args.dim_spectrum})",
           f"planted ranks:    {truth['ranks']}"]
    sweep = in_parallel(args.jobs, [lambda coef=coef: one(coef) for coef in args.coefs])
    for coef, (dims, _) in zip(args.coefs, sweep, strict=True):
        rho = spearmanr(dims, truth["ranks"]).statistic
        # a feature of h values holds at most rank h: the rank the data can show
        shown = [min(r, h) for r, h in zip(truth["ranks"], truth["hash_sizes"], strict=True)]
        rho_shown = spearmanr(dims, shown).statistic
        irrelevant = [d for d, r in zip(dims, truth["ranks"], strict=True) if r == 0]
        out.append(f"coef {coef:<6g} dims: {dims}")
        out.append(f"  Spearman(dim, planted rank) = {rho:.3f} (target >= 0.8), with min(rank, hash size) "
                   f"{rho_shown:.3f}; irrelevant features' dims {irrelevant}: "
                   f"{sum(d == 1 for d in irrelevant)}/{len(irrelevant)} at the smallest option (1)")
    out.append("\n## Penalty sweep (emb_dim): size against quality, each derived architecture retrained (lr 0.1)")
    out.append(f"{'coef':>8}  {'params':>8}  {'test log loss':>13}  {'test AUC':>8}   (Bayes-optimal log loss "
               f"{truth['bayes_test_log_loss']:.4f}, teacher AUC {truth['teacher_test']['auc']:.4f})")
    for coef, (_, result) in zip(args.coefs, sweep, strict=True):
        out.append(f"{coef:>8g}  {result['params']:>8.0f}  {result['test_log_loss']:>13.4f}  {result['test_auc']:>8.4f}")
    return out


def emb_card_figures(truth: dict[str, Any], args: argparse.Namespace) -> list[str]:
    args = section_args("emb_card", args)
    print(describe("emb_card", args), flush=True)
    arch = search("emb_card", "params", args.coef, args)
    fractions = per_feature(arch, "emb_card/hash_fraction/choice")
    rows = [max(1, math.ceil(round(f * (c - 1), 9))) for f, c in zip(fractions, truth["cardinalities"], strict=True)]
    enough = [r >= h for r, h in zip(rows, truth["hash_sizes"], strict=True)]
    lossless = [r % h == 0 for r, h in zip(rows, truth["hash_sizes"], strict=True)]
    relevant = [ok for ok, rank in zip(enough, truth["ranks"], strict=True) if rank > 0]
    smallest = [max(1, math.ceil(round(0.001 * (c - 1), 9))) for c in truth["cardinalities"]]
    irrelevant = [(r, s) for r, s, rank in zip(rows, smallest, truth["ranks"], strict=True) if rank == 0]
    return ["\n## Embedding cardinality search (cost: params, coef * log(E[params]))",
            f"planted hash sizes: {truth['hash_sizes']}   (1: an irrelevant feature, which the teacher never reads)",
            f"chosen rows:        {rows}",
            f"features whose chosen rows >= planted hash size: {sum(enough)}/26 = {sum(enough) / 26:.0%} "
            f"(target >= 90%); a multiple of it (lossless): {sum(lossless)}/26",
            f"  of the {len(relevant)} relevant features (planted rank > 0): {sum(relevant)}/{len(relevant)} = "
            f"{sum(relevant) / len(relevant):.0%}",
            f"rows of the irrelevant features: {[r for r, _ in irrelevant]}: "
            f"{sum(r == s for r, s in irrelevant)}/{len(irrelevant)} at the smallest option (0.001 x values)"]


def mlp_figures(truth: dict[str, Any], args: argparse.Namespace) -> list[str]:
    from nasctl.runtime.manager._pipeline import Pipeline

    args = section_args("mlp", args)
    print(describe("mlp", args), flush=True)
    common = {"trialCodeDirectory": str(EXAMPLES / "mlp"), "useAnnotation": True, "seed": args.seed,
              "trainingService": {"platform": "local"}}
    flags = " ".join(trial_args(args, "mlp"))
    document = {"pipeline": {
        "name": "bench-mlp",
        "search": {**common, "trialCommand": f"{sys.executable} mlp.py {flags} --search-epochs {args.search_epochs} "
                                             f"--warmup-epochs {args.warmup_epochs} --arch-every {args.arch_every} "
                                             f"--arch-batch-size {args.arch_batch_size or args.batch_size}",
                   "nasMode": "darts", "darts": darts_config("flops", args.coef, args),
                   "maxTrialNumber": 1},
        "sample": {"count": args.samples, "seed": 0},
        "retrain": {**common, "trialCommand": f"{sys.executable} mlp.py {flags} --epochs {args.epochs}",
                    "tuner": {"name": "GridSearch", "classArgs": {"optimize_mode": "minimize"}}, "maxTrialNumber": 3,
                    "trialConcurrency": min(3, args.jobs)},
        "select": "val_log_loss", "optimize_mode": "minimize",
        "columns": ["lr", "params", "flops", "val_log_loss", "test_log_loss", "test_auc"]}}

    def pipeline_rows() -> tuple[str, list[dict[str, Any]]]:
        with tempfile.TemporaryDirectory() as home:
            config = Path(home) / "pipeline.yml"
            config.write_text(yaml.safe_dump(document))
            started = time.monotonic()
            pipeline = Pipeline.from_yaml(config, id="bench", nas_home_dir=home)
            table = io.StringIO()
            status = pipeline.run(out=table)
            if status != "DONE":
                raise SystemExit(f"the MLP pipeline ended {status}: {pipeline.record.get('message')}")
            print(f"  [mlp pipeline: {time.monotonic() - started:.0f} s]", flush=True)
            return table.getvalue(), json.loads((pipeline.dir / "results.json").read_text())

    # the pipeline's manager handles signals, so it runs in this thread; the baselines beside it
    with ThreadPoolExecutor(max_workers=max(1, args.jobs - 1)) as pool:
        pending = [pool.submit(retrain, "mlp", TEACHER_SIZE, args, lr) for lr in (0.03, 0.1, 0.3)]
        if args.jobs <= 1:
            baselines = [future.result() for future in pending]
        table, rows = pipeline_rows()
        baselines = [future.result() for future in pending]
    best = next(row for row in rows if row["best"])
    teacher = min(baselines, key=lambda r: r["val_log_loss"])
    gap = best["test_log_loss"] - teacher["test_log_loss"]
    return ["\n## MLP search: the pipeline (search -> sample -> retrain over the lr grid -> best on validation)",
            table.rstrip(),
            f"\n{'':<28}{'test log loss':>14}{'test AUC':>10}{'FLOPs/example':>15}{'params':>9}",
            f"{'searched (retrained best)':<28}{best['test_log_loss']:>14.4f}{best['test_auc']:>10.4f}"
            f"{best['flops']:>15.0f}{best['params']:>9.0f}   lr {best['lr']}: {best['architecture']}",
            f"{'teacher-size DLRM':<28}{teacher['test_log_loss']:>14.4f}{teacher['test_auc']:>10.4f}"
            f"{teacher['flops']:>15.0f}{teacher['params']:>9.0f}   lr {teacher['lr']}: bottom 13-32-d, top 32-1",
            f"{'Bayes-optimal':<28}{truth['bayes_test_log_loss']:>14.4f}{truth['teacher_test']['auc']:>10.4f}",
            f"gap {gap:+.4f} (target <= +0.005); FLOPs ratio searched/teacher-size "
            f"{best['flops'] / teacher['flops']:.2f} (target <= 1)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("ci", "cpu", "gpu"), default="cpu")
    parser.add_argument("--rows", type=int, help="planted rows (default: the preset's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1024)
    # Unset, the flags below take each section's own settings (SECTION_DEFAULTS: those of the README's figures).
    parser.add_argument("--search-epochs", type=int, help="search epochs (emb_dim 5, others 4)")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="search epochs before the architecture moves")
    parser.add_argument("--epochs", type=int, help="retrain epochs (3; the MLP pipeline 2)")
    parser.add_argument("--samples", type=int, help="K architectures sampled for the MLP pipeline (1)")
    parser.add_argument("--coef", type=float, help="the penalty's coef (0.001 for the cardinality search, 1 for "
                                                     "the MLP search)")
    parser.add_argument("--coefs", help="the penalty sweep of the embedding-dimension search (0.002,0.005,0.01)")
    parser.add_argument("--dim-cost", choices=("params", "flops"),
                        help="the embedding-dimension search's cost: parameters (tables and projections), or "
                             "FLOPs (the projections': the sum of the dimensions, each feature's cost normalised; "
                             "the default)")
    parser.add_argument("--arch-lr", type=float, help="the architecture weights' Adam learning rate (emb_dim 0.02, "
                                                      "others 0.03)")
    parser.add_argument("--arch-weight-decay", type=float,
                        help="the architecture weights' weight decay (emb_dim 0; others darts' default 1e-3, which "
                             "pulls them to uniform)")
    parser.add_argument("--hard", action=argparse.BooleanOptionalAction,
                        help="straight-through Gumbel samples, each example at real sizes (emb_dim: on)")
    parser.add_argument("--arch-batch-size", type=int,
                        help="rows of an architecture step (emb_dim 24576; others --batch-size)")
    parser.add_argument("--arch-every", type=int, help="one architecture step every N weight steps (emb_dim 24, "
                                                       "others 1)")
    parser.add_argument("--temperature-decay", type=float, default=0.7,
                        help="the Gumbel temperature is decay^epoch")
    parser.add_argument("--dim-spectrum", choices=("flat", "gaussian"), default="flat",
                        help="the embedding-dimension search's planted data: flat (each of a table's r directions "
                             "carries 1/r of its variance, so the planted rank is what a model needs) or gaussian "
                             "(the preset's, whose leading directions carry most of it); the others use gaussian")
    parser.add_argument("--spaces", default="emb_dim,emb_card,mlp")
    parser.add_argument("--jobs", type=int, default=1,
                        help="trials at a time (searches, retrains and spaces side by side; a GPU takes several)")
    parser.add_argument("--cache", default=os.environ.get("NASCTL_DATA_CACHE") or str(Path(tempfile.gettempdir())
                                                                                       / "nasctl-data"))
    args = parser.parse_args()
    from nasctl import rec

    started = time.monotonic()
    splits = rec.load_splits(args.preset, seed=args.seed, rows=args.rows, cache=args.cache)
    truth = splits.truth or {}
    print(f"planted data, preset {args.preset}: {len(splits.train)} training rows (80% weights, 20% architecture), "
          f"{len(splits.validation)} validation, {len(splits.test)} test; device {args.device}; Bayes-optimal test "
          f"log loss {truth['bayes_test_log_loss']:.4f}, teacher AUC {truth['teacher_test']['auc']:.4f} "
          f"[{time.monotonic() - started:.0f} s]", flush=True)
    figures = {"emb_dim": emb_dim_figures, "emb_card": emb_card_figures, "mlp": mlp_figures}
    spaces = [space for space in args.spaces.split(",") if space]
    unknown = sorted(set(spaces) - set(figures))
    if unknown:
        raise SystemExit(f"--spaces: unknown {', '.join(unknown)}; known: {', '.join(figures)}")
    # sections side by side with --jobs; the MLP pipeline's in this thread (its manager handles signals)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        pending = {space: pool.submit(figures[space], truth, args) for space in spaces if space != "mlp"}
        if args.jobs <= 1:
            for future in pending.values():
                future.result()
        done = {"mlp": mlp_figures(truth, args)} if "mlp" in spaces else {}
        done.update({space: future.result() for space, future in pending.items()})
    for space in spaces:
        print("\n".join(done[space]), flush=True)
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
