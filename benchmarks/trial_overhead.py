"""Per-trial overhead of the local training service: trivial trials against a bare `python -c pass`.

A trivial trial imports `nas`, gets its parameters and reports them as its result. In one run, in
alternating rounds (the machine may be shared: each round measures both sides close together),
this prints:

- the experiment's trivial trials per second (create, run, store) at the given concurrency, with
  the fork server (the default) and with every trial a subprocess (`NASCTL_FORK_SERVER=0`);
- `python -c pass` processes per second, started the same way (as many, as many at a time);
- the cost ratio: the baseline's rate over the experiment's (target: at most 1.3), and the
  medians of a trial's time from start to recorded end and of a bare `python -c pass`;
- the load average and the cores this process may use, since other work changes every figure.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 100] [--concurrency 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def _baseline(trials: int, concurrency: int) -> tuple[float, float]:
    """(processes per second, median seconds per process) for `python -c pass`, `concurrency` at a time."""
    times: list[float] = []

    def one(_: int) -> None:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(trials)))
    return trials / (time.perf_counter() - start), statistics.median(times)


def _experiment(root: Path, trials: int, concurrency: int, fork_server: bool, tag: str) -> tuple[float, float]:
    """(trials per second, median seconds from a trial's start to its recorded end)."""
    from nasctl.runtime.manager import Experiment

    config = {
        "trialCommand": f"{sys.executable} trial.py",
        "trialCodeDirectory": str(root),
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(100))}},
        "trialConcurrency": concurrency,
        "maxTrialNumber": trials,
        "seed": 0,
        "tuner": {"name": "Random"},
    }
    previous = os.environ.get("NASCTL_FORK_SERVER")
    os.environ["NASCTL_FORK_SERVER"] = "1" if fork_server else "0"
    try:
        exp = Experiment(config, nas_home=root / "home", id=tag)
        start = time.perf_counter()
        status = exp.run()
        elapsed = time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("NASCTL_FORK_SERVER")
        else:
            os.environ["NASCTL_FORK_SERVER"] = previous
    records = exp.trials()
    succeeded = sum(t.status == "SUCCEEDED" for t in records)
    if status != "DONE" or succeeded != trials:
        failed = next((t for t in records if t.status != "SUCCEEDED"), None)
        raise SystemExit(f"benchmark failed: {status}, {succeeded}/{trials} succeeded"
                         + (f"\n{failed.stderr_tail}" if failed else ""))
    return trials / elapsed, statistics.median(t.end_time - t.start_time for t in records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rows: dict[str, list[tuple[float, float]]] = {"pass": [], "fork": [], "subprocess": []}
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(TRIAL)
        for number in range(args.rounds):
            rows["pass"].append(_baseline(args.trials, args.concurrency))
            rows["fork"].append(_experiment(root, args.trials, args.concurrency, True, f"fork{number}"))
            rows["subprocess"].append(_experiment(root, args.trials, args.concurrency, False, f"sub{number}"))

    def median(name: str, index: int) -> float:
        return statistics.median(row[index] for row in rows[name])

    bare = median("pass", 0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{args.trials} trivial trials, concurrency {args.concurrency}, median of {args.rounds} rounds "
          f"({cores} cores; load average {load}):")
    print(f"  python -c pass                   {bare:7.1f} processes/s   {median('pass', 1) * 1000:6.1f} ms each")
    for name, label in (("fork", "experiment, fork server"), ("subprocess", "experiment, subprocesses")):
        rate = median(name, 0)
        print(f"  {label:<32} {rate:7.1f} trials/s      {median(name, 1) * 1000:6.1f} ms each (start to "
              f"recorded end)   cost vs python -c pass: {bare / rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
