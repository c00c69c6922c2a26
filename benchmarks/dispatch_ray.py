"""Dispatch rate of the Ray training service against the local one: 200 trivial trials each.

A trivial trial imports `nas`, gets its parameters and reports them as its result. The same
experiment runs on `platform: local` and on `platform: ray` with an embedded one-node Ray
(`address: local`), one after the other in this process. For each, trials per second are printed
twice: over the whole run (for Ray this includes starting and stopping Ray) and over the trials'
own span, from the first trial's start to the last one's end.

    .venv/bin/python benchmarks/dispatch_ray.py [--trials 200] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TRIAL = """\
import nas

parameters = nas.get_next_parameter()
nas.report_final_result(float(parameters["x"]))
"""


def _run(root: Path, platform: dict[str, str], trials: int, concurrency: int) -> tuple[float, float]:
    """(trials/s over the whole run, trials/s from the first trial's start to the last one's end)."""
    from nasctl.runtime.manager import Experiment
    from nasctl.runtime.manager._ray import NODE_FOLDER

    config = {
        "trialCommand": f"{sys.executable} trial.py",
        "trialCodeDirectory": str(root / "code"),
        "searchSpace": {"x": {"_type": "randint", "_value": [0, 1_000_000]}},
        "trialConcurrency": concurrency,
        "maxTrialNumber": trials,
        "seed": 0,
        "tuner": {"name": "Random"},
        "trainingService": platform,
    }
    exp = Experiment(config, nas_home=root / "home")
    try:
        start = time.perf_counter()
        status = exp.run()
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(Path(tempfile.gettempdir(), NODE_FOLDER, exp.id), ignore_errors=True)
    records = exp.trials()
    succeeded = sum(t.status == "SUCCEEDED" for t in records)
    if status != "DONE" or succeeded != trials:
        failed = next((t for t in records if t.status != "SUCCEEDED"), None)
        raise SystemExit(f"benchmark failed on {platform['platform']}: {status}, {succeeded}/{trials} succeeded"
                         + (f"\n{failed.message}\n{failed.stderr_tail}" if failed else ""))
    span = max(t.end_time for t in records) - min(t.start_time for t in records)
    return trials / elapsed, trials / span


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    try:
        import ray  # noqa: F401
    except ImportError:
        print("Ray is not installed: pip install 'nasctl[ray]'", file=sys.stderr)
        return 2
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "code").mkdir()
        (root / "code" / "trial.py").write_text(TRIAL)
        local = _run(root, {"platform": "local"}, args.trials, args.concurrency)
        print(f"local: {local[0]:.2f} trials/s", flush=True)
        on_ray = _run(root, {"platform": "ray", "address": "local"}, args.trials, args.concurrency)
        print(f"ray: {on_ray[0]:.2f} trials/s", flush=True)

    print(f"{args.trials} trivial trials, concurrency {args.concurrency}, {os.cpu_count()} CPUs:")
    print(f"  {'':34}{'local':>10}{'ray (embedded)':>16}{'ray / local':>13}")
    print(f"  {'trials/s, whole run':34}{local[0]:10.2f}{on_ray[0]:16.2f}{on_ray[0] / local[0]:13.2f}")
    print(f"  {'trials/s, first start to last end':34}{local[1]:10.2f}{on_ray[1]:16.2f}{on_ray[1] / local[1]:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
