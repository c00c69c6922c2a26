"""The cost of an enas subgraph switch: `nas.training_update()` in a trial of a real experiment.

Runs an experiment (manager, the ENAS controller as its tuner, SQLite storage, the Unix-socket channel)
with one enas-mode trial. The trial is a small PyTorch supernet (3 layers x 4 candidates, optional
inputs); each step it reports a reward (`report_final_result`, which the dispatcher passes to the
controller) and switches subgraph (`training_update()`: one parameter request answered by the
controller's next sample, then the new subgraph is set for the next forward). The trial times both and
this script prints their medians and p99 in microseconds (target: `training_update` under 1 ms median).
The same loop then runs in this process against the controller directly (`InProcessTunerPlatform`, no
channel, no manager), which separates the trial and controller's share from the channel's. Last, the
controller's own work per step (its update from the reward, then its next sample: what a
`training_update` waits for in the manager) with torch's default intra-op threads and with one (what
the manager's tuner thread uses), p99 of each and their ratio.

    .venv/bin/python benchmarks/enas_switch.py [--steps 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

TRIAL = """
import json, os, sys, time
import torch
from torch import nn
import nas

class Op(nn.Module):
    def __init__(self, kernel):
        super().__init__()
        self.conv = nn.Conv1d(8, 8, kernel, padding=kernel // 2)
    def forward(self, inputs):
        fixed, chosen = inputs
        h = fixed[0]
        for x in chosen:
            h = h + x
        return torch.relu(self.conv(h))

OPS = {f"Op({k})": (Op, (), {"kernel": k}) for k in (1, 3, 5, 7)}

class Net(nn.Module):
    def forward(self, x):
        h0 = nas.mutable_layer("bench/Net.forward/h0", "h0", OPS, [x], {}, 0, "enas", self)
        h1 = nas.mutable_layer("bench/Net.forward/h0", "h1", OPS, [h0], {"x": x}, [0, 1], "enas", self)
        h2 = nas.mutable_layer("bench/Net.forward/h0", "h2", OPS, [h1], {"x": x, "h0": h0}, [0, 2], "enas", self)
        return h2.mean()

def setup():
    torch.set_num_threads(1)
    model = Net()
    x = torch.randn(4, 8, 16)
    model(x)
    return model, x, torch.optim.SGD(model.parameters(), lr=0.01)


if __name__ != "__main__":
    raise SystemExit  # imported by the benchmark for its definitions only
steps = int(sys.argv[1])
model, x, optimizer = setup()
switch, report = [], []
for step in range(steps):
    optimizer.zero_grad()
    loss = model(x) ** 2
    loss.backward()
    optimizer.step()
    start = time.perf_counter_ns()
    nas.report_final_result(-float(loss))
    report.append(time.perf_counter_ns() - start)
    start = time.perf_counter_ns()
    nas.training_update()
    switch.append(time.perf_counter_ns() - start)
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "timings.json"), "w") as handle:
    json.dump({"training_update": switch, "report_final_result": report}, handle)
"""

SPACE = {"bench/Net.forward/h0": {"_type": "mutable_layer", "_value": {
    "h0": {"layer_choice": [f"Op({k})" for k in (1, 3, 5, 7)], "optional_inputs": [], "optional_input_size": 0},
    "h1": {"layer_choice": [f"Op({k})" for k in (1, 3, 5, 7)], "optional_inputs": ["x"],
           "optional_input_size": [0, 1]},
    "h2": {"layer_choice": [f"Op({k})" for k in (1, 3, 5, 7)], "optional_inputs": ["x", "h0"],
           "optional_input_size": [0, 2]},
}}}


def _in_process(steps: int) -> dict[str, list[int]]:
    import time

    from nasctl.runtime.modes.torch import InProcessTunerPlatform
    from nasctl.runtime.trial._context import TrialContext, use_context
    from nasctl.tuners._enas import ENASTuner

    namespace: dict[str, object] = {"__name__": "enas_switch_trial"}
    try:
        exec(textwrap.dedent(TRIAL), namespace)
    except SystemExit:
        pass
    platform = InProcessTunerPlatform(ENASTuner(seed=0, batch_size=10), SPACE, echo=False)
    context = TrialContext(platform)
    timings: dict[str, list[int]] = {"training_update": [], "report_final_result": []}
    with use_context(context):
        model, x, optimizer = namespace["setup"]()
        for _ in range(steps):
            optimizer.zero_grad()
            loss = model(x) ** 2
            loss.backward()
            optimizer.step()
            start = time.perf_counter_ns()
            context.report_final_result(-float(loss.detach()))
            timings["report_final_result"].append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            context.training_update()
            timings["training_update"].append(time.perf_counter_ns() - start)
    return timings


def _controller_step(steps: int, threads: int) -> list[int]:
    """Nanoseconds of `receive_trial_result` + `generate_parameters` per step, at `threads` torch threads."""
    import time

    import torch
    from nasctl.tuners._enas import ENASTuner

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        tuner = ENASTuner(seed=0, batch_size=10)
        tuner.update_search_space(SPACE)
        architecture = tuner.generate_parameters(0)
        out = []
        for step in range(steps):
            start = time.perf_counter_ns()
            tuner.receive_trial_result(step, architecture, float(step % 7))
            architecture = tuner.generate_parameters(step + 1)
            out.append(time.perf_counter_ns() - start)
        return out
    finally:
        torch.set_num_threads(previous)


def _p99(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _print(title: str, timings: dict[str, list[int]]) -> None:
    print(title)
    for kind, values in timings.items():
        micro = sorted(v / 1000 for v in values)
        p99 = micro[min(len(micro) - 1, int(0.99 * len(micro)))]
        print(f"  {kind:22s} median {statistics.median(micro):8.1f}   p99 {p99:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    import torch
    from nasctl.runtime.manager import Experiment

    default_threads = torch.get_num_threads()  # before the manager's tuner thread sets one for the process

    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(textwrap.dedent(TRIAL))
        config = {
            "trialCommand": f"{sys.executable} trial.py {args.steps}",
            "trialCodeDirectory": str(root),
            "searchSpace": SPACE,
            "nasMode": "enas",
            "maxTrialNumber": 1,
            "tuner": {"className": "nasctl.tuners._enas:ENASTuner", "codeDirectory": str(root),
                      "classArgs": {"seed": 0, "batch_size": 10}},
        }
        exp = Experiment(config, nas_home=root / "home")
        status = exp.run()
        trial = exp.trials()[0]
        if status != "DONE" or trial.status != "SUCCEEDED":
            print(f"benchmark trial failed ({status}, {trial.status}):\n{trial.stderr_tail}", file=sys.stderr)
            return 1
        timings = json.loads((exp.dir / "trials" / trial.trial_id / "timings.json").read_text())
    _print(f"enas mode, one trial, {args.steps} steps, ENAS controller in the manager (microseconds):", timings)
    controller = {threads: _controller_step(args.steps, threads) for threads in (default_threads, 1)}
    local = _in_process(args.steps)
    _print("the same loop in this process, controller called directly (no channel, no manager):", local)
    median = statistics.median(timings["training_update"]) / 1e6
    share = statistics.median(local["training_update"]) / 1e6
    print(f"training_update median {median:.3f} ms over the channel (target < 1 ms); "
          f"{share:.3f} ms of it is the trial and controller")
    wide, one = _p99(controller[default_threads]) / 1e6, _p99(controller[1]) / 1e6
    print(f"ENAS controller per training_update (update + next sample), p99: {wide:.2f} ms at torch's default "
          f"{default_threads} threads, {one:.2f} ms at one thread (the manager's); ratio {wide / one:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
