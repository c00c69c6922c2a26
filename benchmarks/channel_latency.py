"""Round-trip latency of channel requests between a trial and its experiment's manager.

Runs a real experiment (manager, tuner, SQLite storage, channel server) with one trial that times
`N` parameter requests (each one a tuner call and a committed row: multi-phase, as enas trials do)
and `N` intermediate-metric requests, through the trial runtime's channel client. Prints the median
and p99 of each, in microseconds. Target (issue 3): median well under 1 ms.

    .venv/bin/python benchmarks/channel_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

TUNER = """
import random

class Trivial:
    def __init__(self, seed=0):
        self.rng = random.Random(seed)
    def update_search_space(self, space):
        self.space = space
    def generate_parameters(self, parameter_id, **kw):
        return {key: self.rng.choice(spec["_value"]) for key, spec in self.space.items()}
    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        pass
    def trial_end(self, parameter_id, success, **kw):
        pass
"""

TRIAL = """
import json, os, sys, time
from nasctl.runtime.trial import ChannelClient

client = ChannelClient(os.environ["NAS_CHANNEL"], os.environ["NAS_TOKEN"], os.environ["NAS_TRIAL_ID"])
n = int(sys.argv[1])
timings = {"get_parameter": [], "metric": []}
reply = client.request("get_parameter")
for _ in range(n):
    start = time.perf_counter_ns()
    reply = client.request("get_parameter")
    timings["get_parameter"].append(time.perf_counter_ns() - start)
pid = reply["parameter_id"]
for i in range(n):
    start = time.perf_counter_ns()
    client.request("metric", kind="intermediate", value=0.5, parameter_id=pid, sequence=i)
    timings["metric"].append(time.perf_counter_ns() - start)
client.request("metric", kind="final", value=1.0, parameter_id=pid)
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "timings.json"), "w") as handle:
    json.dump(timings, handle)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    from nasctl.runtime.manager import Experiment

    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(textwrap.dedent(TRIAL))
        (root / "trivial_tuner.py").write_text(textwrap.dedent(TUNER))
        space = {f"layer{i}": {"_type": "choice", "_value": ["conv3", "conv5", "pool"]} for i in range(8)}
        config = {
            "trialCommand": f"{sys.executable} trial.py {args.requests}",
            "trialCodeDirectory": str(root),
            "searchSpace": space,
            "maxTrialNumber": 1,
            "tuner": {"codeDirectory": str(root), "className": "trivial_tuner:Trivial"},
        }
        exp = Experiment(config, nas_home=root / "home")
        status = exp.run()
        trial = exp.trials()[0]
        if status != "DONE" or trial.status != "SUCCEEDED":
            print(f"benchmark trial failed ({status}, {trial.status}):\n{trial.stderr_tail}", file=sys.stderr)
            return 1
        timings = json.loads((exp.dir / "trials" / trial.trial_id / "timings.json").read_text())
    print(f"channel round trip over a Unix socket, {args.requests} requests each (microseconds):")
    for kind, values in timings.items():
        micro = sorted(v / 1000 for v in values)
        p99 = micro[min(len(micro) - 1, int(0.99 * len(micro)))]
        label = "get_parameter (tuner call + commit)" if kind == "get_parameter" else "metric (commit)"
        print(f"  {label:38s} median {statistics.median(micro):8.1f}   p99 {p99:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
