"""Per-trial overhead of the local training service: 50 trivial trials at concurrency 2.

A trivial trial imports `nas`, gets its parameters and reports them as its result. The experiment's
trials per second are printed beside two baselines run the same way (50 processes, 2 at a time) in
the same process: a bare interpreter start (`python -c pass`) and `python -c "import nas"`, so the
ratio shows what the manager adds (scheduling, channel, storage) on top of starting Python.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 50] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TRIAL = """\
import nas

parameters = nas.get_next_parameter()
nas.report_final_result(float(parameters["x"]))
"""


def _baseline(code: str, trials: int, concurrency: int) -> float:
    """Processes per second for `python -c code`, `concurrency` at a time."""
    def one(_: int) -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(trials)))
    return trials / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    from nasctl.runtime.manager import Experiment

    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(TRIAL)
        config = {
            "trialCommand": f"{sys.executable} trial.py",
            "trialCodeDirectory": str(root),
            "searchSpace": {"x": {"_type": "choice", "_value": list(range(100))}},
            "trialConcurrency": args.concurrency,
            "maxTrialNumber": args.trials,
            "seed": 0,
            "tuner": {"name": "Random"},
        }
        exp = Experiment(config, nas_home=root / "home")
        start = time.perf_counter()
        status = exp.run()
        elapsed = time.perf_counter() - start
        trials = exp.trials()
        succeeded = sum(t.status == "SUCCEEDED" for t in trials)
        if status != "DONE" or succeeded != args.trials:
            failed = next((t for t in trials if t.status != "SUCCEEDED"), None)
            print(f"benchmark failed: {status}, {succeeded}/{args.trials} succeeded"
                  + (f"\n{failed.stderr_tail}" if failed else ""), file=sys.stderr)
            return 1
        in_trial = sum(t.end_time - t.start_time for t in trials) / len(trials)

    bare = _baseline("pass", args.trials, args.concurrency)
    with_nas = _baseline("import nas", args.trials, args.concurrency)
    rate = args.trials / elapsed
    print(f"{args.trials} trivial trials, concurrency {args.concurrency}:")
    print(f"  experiment (create, run, store)     {rate:7.2f} trials/s   ({elapsed:.2f} s; "
          f"{in_trial * 1000:.0f} ms per trial from start to exit)")
    print(f"  baseline: python -c pass            {bare:7.2f} processes/s")
    print(f"  baseline: python -c 'import nas'    {with_nas:7.2f} processes/s")
    print(f"  experiment / import-nas baseline    {rate / with_nas:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
