"""The manager's cost per trial as an experiment grows: 1,000, 10,000 and 100,000 trials.

At each size N the experiment's database first gets N - W finished trials (W = --window, 1,000 by
default), written straight into storage as the manager would have left them: parameters, 10
intermediate results and a final one per trial, and the tuner's generate/result/end events. The
real manager (`Manager`, its storage, tuner thread and channel request path) then runs the last W
trials. Trials are in-process stand-ins, not processes: each sends its parameter request, 10
intermediate results and a final result as channel lines through a channel session
(`ChannelServer.open_session(...).feed`: JSON, token, validation, the manager's handler) and exits
with code 0, so the figure is the manager's own work. Printed per size:

- manager CPU per trial: CPU time of the manager's loop thread over the W trials, divided by W
  (the tuner runs on its own thread and is not counted; the stand-ins' few lines are);
- export: `nasctl experiment export --format json` (read every trial, encode) as it is now, and
  the same records encoded with `json.dumps(indent=2)` (the pure-Python encoder) beside it;
- the database's size.

The target: the 100k figure within 2x of the 1k one.

    .venv/bin/python benchmarks/manager_scale.py [--sizes 1000 10000 100000] [--window 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager import _manager as manager_module
from nasctl.runtime.manager._cli import _json_array
from nasctl.runtime.manager._manager import Manager
from nasctl.runtime.manager._storage import Storage
from nasctl.runtime.manager._tuner import checkpoint_tuner, create_tuner

SPACE = {
    "conv": {"_type": "choice", "_value": ["3x3", "5x5", "sep3x3", "sep5x5", "pool"]},
    "width": {"_type": "choice", "_value": [16, 32, 64, 128]},
    "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
}
INTERMEDIATE = 10


class InProcessTrials:
    """A training service whose trials are in-process stand-ins (see the module docstring).

    It has the methods and attributes of `LocalTrainingService` that the manager uses.
    """

    manager: Manager | None = None

    def __init__(self, *, experiment_dir: Path, concurrency: int, on_exit: Any, **_: Any) -> None:
        self.dir = experiment_dir
        self.concurrency = concurrency
        self.on_exit = on_exit
        self.running: dict[str, Any] = {}
        self._started: deque[Any] = deque()

    def free_slots(self) -> int:
        return self.concurrency - len(self.running)

    def prepare_folder(self, trial_id: str) -> Path:
        return self.dir / "trials" / trial_id  # not created: a stand-in writes no files

    def reserve_gpus(self) -> tuple[int, ...]:
        return ()

    def cuda_visible_devices(self, gpus: tuple[int, ...]) -> str | None:
        return None

    def start(self, trial_id: str, env: dict[str, str], gpus: tuple[int, ...]) -> Any:
        # pid 0: the stored process group is "none", so no recovery ever signals anything.
        trial = SimpleNamespace(trial_id=trial_id, token=env["NAS_TOKEN"], folder=self.prepare_folder(trial_id),
                                process=SimpleNamespace(pid=0, returncode=0), canceled=False, timed_out=False)
        self.running[trial_id] = trial
        self._started.append(trial)
        return trial

    def poll(self) -> None:
        while self._started:
            trial = self._started.popleft()
            self._run(trial)
            self.running.pop(trial.trial_id, None)
            self.on_exit(trial)

    def _run(self, trial: Any) -> None:
        session = self.manager.channel.open_session(lambda: None)  # type: ignore[union-attr]
        head = f'{{"token":"{trial.token}","trial_id":"{trial.trial_id}",'
        [reply] = session.feed((head + '"type":"get_parameter","seq":0}\n').encode())
        parameter_id = json.loads(reply)["parameter_id"]
        lines = [head + f'"type":"metric","seq":{step + 1},"kind":"intermediate","value":{step / 10},'
                 f'"parameter_id":{parameter_id},"sequence":{step}}}' for step in range(INTERMEDIATE)]
        lines.append(head + f'"type":"metric","seq":{INTERMEDIATE + 1},"kind":"final",'
                     f'"value":{parameter_id % 97 / 100},"parameter_id":{parameter_id}}}')
        for line in lines:
            session.feed(line.encode() + b"\n")
        session.close()

    def next_wakeup(self) -> float | None:
        return 0.0 if self._started else None

    def stop_all(self, timeout: float | None = None) -> list[Any]:
        stopped = list(self.running.values())
        self.running.clear()
        self._started.clear()
        return stopped

    def close(self) -> None:
        pass


def prefill(storage: Storage, count: int) -> None:
    """`count` finished trials, as the manager stores them (rows only: no trial folders)."""
    now = time.time()
    trials, parameters, metrics, events = [], [], [], []
    for sequence in range(count):
        trial_id = f"p{sequence:07d}"
        params = json.dumps({"conv": "3x3", "width": 32, "lr": 0.01 + sequence % 7 / 1000})
        value = sequence % 97 / 100
        trials.append((trial_id, sequence, now, now + 1))
        parameters.append((sequence, trial_id, params, now))
        metrics.extend((trial_id, sequence, "intermediate", step, json.dumps(step / 10), now)
                       for step in range(INTERMEDIATE))
        metrics.append((trial_id, sequence, "final", None, json.dumps(value), now))
        events.append(("generate", sequence, params))
        events.append(("result", sequence, json.dumps({"parameters": json.loads(params), "value": value})))
        events.append(("end", sequence, "true"))
    with storage.transaction() as db:
        db.executemany("INSERT INTO trials(trial_id, sequence, status, start_time, end_time, attempts) "
                       "VALUES (?, ?, 'SUCCEEDED', ?, ?, 1)", trials)
        db.executemany("INSERT INTO parameters(parameter_id, trial_id, phase, parameters, created) "
                       "VALUES (?, ?, 0, ?, ?)", parameters)
        db.executemany("INSERT INTO metrics(trial_id, parameter_id, kind, sequence, value, time) "
                       "VALUES (?, ?, ?, ?, ?, ?)", metrics)
        db.executemany("INSERT INTO tuner_events(kind, parameter_id, payload) VALUES (?, ?, ?)", events)


def measure(size: int, window: int, home: Path) -> dict[str, float]:
    config = {
        "trialCommand": "python3 trial.py", "trialCodeDirectory": str(home), "searchSpace": SPACE,
        "trialConcurrency": 4, "maxTrialNumber": size, "seed": 0, "tuner": {"name": "Random"},
    }
    exp = Experiment(config, nas_home=home, id=f"scale-{size}")
    exp.create()
    storage = Storage(exp.db_path)
    prefilled = size - window
    prefill(storage, prefilled)
    # A checkpoint at the last event: the manager starts without replaying the synthetic history.
    tuner = create_tuner(exp.config.tuner, 0)
    tuner.update_search_space(SPACE)
    checkpoint_tuner(tuner, storage, exp.dir)

    marks: list[tuple[float, int]] = []

    def on_progress(progress: Any) -> None:
        if progress.done > prefilled:
            marks.append((time.thread_time(), progress.done))

    manager = Manager(exp.dir, storage, exp.config, on_progress=on_progress)
    InProcessTrials.manager = manager
    manager_module.LocalTrainingService = InProcessTrials  # type: ignore[misc, assignment]
    status = manager.run()
    storage.close()
    done = exp.info()["counts"]["SUCCEEDED"]
    if status != "DONE" or done != size:
        raise SystemExit(f"size {size}: the experiment ended {status} with {done} succeeded trials")
    (t0, d0), (t1, d1) = marks[0], marks[-1]
    cpu_per_trial = (t1 - t0) / max(d1 - d0, 1)

    start = time.perf_counter()
    records = [record.to_dict() for record in Experiment.load(exp.id, nas_home=home).trials()]
    read = time.perf_counter() - start
    start = time.perf_counter()
    text = _json_array(records)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    json.dumps(records, indent=2)
    indented = time.perf_counter() - start
    database = sum(path.stat().st_size for path in exp.dir.glob("experiment.db*"))
    return {"cpu_ms": cpu_per_trial * 1000, "read_s": read, "encode_s": encode, "indent_s": indented,
            "export_mb": len(text) / 1e6, "db_mb": database / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--window", type=int, default=1000, help="trials run through the manager at each size")
    args = parser.parse_args()
    if min(args.sizes) < args.window:
        parser.error("every size must be at least --window")
    results = {}
    with tempfile.TemporaryDirectory(prefix="nas-scale-") as tmp:
        for size in args.sizes:
            results[size] = measure(size, args.window, Path(tmp))
            row = results[size]
            print(f"{size:>7} trials: manager CPU {row['cpu_ms']:6.3f} ms/trial | export {row['read_s'] + row['encode_s']:6.2f} s "
                  f"(read {row['read_s']:.2f} s, encode {row['encode_s']:.2f} s; indent=2 would encode in "
                  f"{row['indent_s']:.2f} s, {row['indent_s'] / row['encode_s']:.1f}x) {row['export_mb']:.1f} MB | "
                  f"database {row['db_mb']:.1f} MB", flush=True)
    first, last = min(args.sizes), max(args.sizes)
    print(f"manager CPU per trial at {last} / at {first}: {results[last]['cpu_ms'] / results[first]['cpu_ms']:.2f} "
          "(target: within 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
