"""Slots left idle waiting for a slow suggestion, with and without prepare-ahead (`tuner: {prepareAhead}`).

The tuner is a stand-in for TPE at a large history: a seeded random choice whose
`generate_parameters` takes `--suggest-ms` (64 ms by default, TPE's suggestion at 5,000 trials in
issue 17). Trials are real processes (the fork server) that get their parameters and report them;
with `--trial-ms` they first sleep that long. Each configuration runs with prepare-ahead off (NNI's
order: a slot's parameters are asked for once it is free) and on (asked for while the trials run),
alternating, in one run. Printed for each: trials per second, and the slots' idle time per trial:
`(concurrency x (last end - first start) - sum of trial durations) / trials`, which counts the wait
for the tuner and the manager's own work between two trials; then the ratio off / on.

    .venv/bin/python benchmarks/tuner_prefetch.py [--trials 40] [--concurrency 2] [--suggest-ms 64]
        [--trial-ms 0 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

TRIAL = """\
import os, time
import nas

parameters = nas.get_next_parameter()
time.sleep(float(os.environ.get("BENCH_TRIAL_SECONDS", "0")))
nas.report_final_result(float(parameters["x"]))
"""

TUNER = """\
import random, time


class SlowTuner:
    def __init__(self, seconds, seed=0):
        self.seconds = seconds
        self.rng = random.Random(seed)

    def update_search_space(self, search_space):
        self.space = search_space

    def generate_parameters(self, parameter_id, **kw):
        time.sleep(self.seconds)
        return {key: self.rng.choice(spec["_value"]) for key, spec in sorted(self.space.items())}

    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        pass
"""


def _run(root: Path, tag: str, *, trials: int, concurrency: int, suggest: float, ahead: bool) -> tuple[float, float]:
    """(trials per second, idle slot seconds per trial) of one experiment."""
    from nasctl.runtime.manager import Experiment

    config = {
        "trialCommand": f"{sys.executable} trial.py",
        "trialCodeDirectory": str(root),
        "searchSpace": {"x": {"_type": "choice", "_value": list(range(1000))}},
        "trialConcurrency": concurrency,
        "maxTrialNumber": trials,
        "seed": 0,
        "tuner": {"className": "slowtuner:SlowTuner", "codeDirectory": str(root / "tuner"),
                  "classArgs": {"seconds": suggest}, "prepareAhead": ahead},
    }
    exp = Experiment(config, nas_home=root / "home", id=tag)
    status = exp.run()
    records = exp.trials()
    if status != "DONE" or any(t.status != "SUCCEEDED" for t in records) or len(records) != trials:
        raise SystemExit(f"benchmark failed: {status}, {[t.status for t in records]}")
    first = min(t.start_time for t in records)
    last = max(t.end_time for t in records)
    busy = sum(t.end_time - t.start_time for t in records)
    return trials / (last - first), (concurrency * (last - first) - busy) / trials


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--suggest-ms", type=float, default=64.0)
    parser.add_argument("--trial-ms", type=float, nargs="+", default=[0.0, 200.0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import os

    print(f"{args.trials} trials, concurrency {args.concurrency}, a {args.suggest_ms:g} ms suggestion "
          f"(stand-in tuner), median of {args.rounds} rounds:")
    print(f"  {'trial':>10}  {'prepare-ahead':>13}  {'trials/s':>8}  {'idle slot ms/trial':>18}")
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(TRIAL)
        (root / "tuner").mkdir()
        (root / "tuner" / "slowtuner.py").write_text(TUNER)
        for trial_ms in args.trial_ms:
            os.environ["BENCH_TRIAL_SECONDS"] = str(trial_ms / 1000)
            rows: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for number in range(args.rounds):
                for ahead in (False, True):
                    rows[ahead].append(_run(root, f"t{trial_ms:g}-{ahead}-{number}", trials=args.trials,
                                            concurrency=args.concurrency, suggest=args.suggest_ms / 1000,
                                            ahead=ahead))
            idle = {}
            label = "trivial" if trial_ms == 0 else f"{trial_ms:g} ms"
            for ahead in (False, True):
                rate = statistics.median(r[0] for r in rows[ahead])
                idle[ahead] = statistics.median(r[1] for r in rows[ahead])
                print(f"  {label:>10}  {'on' if ahead else 'off':>13}  {rate:8.1f}  {idle[ahead] * 1000:18.1f}")
            ratio = idle[False] / idle[True] if idle[True] > 0 else float("inf")
            print(f"  {label:>10}  idle time off / on: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
