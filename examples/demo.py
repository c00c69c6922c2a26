"""`make demo`: a real NAS experiment on scikit-learn's digits, start to finish, in a few minutes on 2 cores.

Runs examples/mnist-nas/ (an annotated PyTorch CNN; classic mode, TPE, 16 trials, 2 at a time)
with `nasctl run`, then prints the best architecture, its accuracy, and the command that writes
its code as plain Python. Experiments go to $NAS_HOME, or ./.nas-demo when it is not set.

    .venv/bin/python examples/demo.py
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "mnist-nas" / "config.yml"


def _nasctl() -> str:
    """How to call `nasctl` from the current folder: by name when it is on PATH, else the venv's."""
    script = Path(sys.executable).parent / "nasctl"
    if shutil.which("nasctl") == str(script) or not script.exists():
        return "nasctl"
    return os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)


def main() -> int:
    home = Path(os.environ.get("NAS_HOME") or Path.cwd() / ".nas-demo").resolve()
    env = dict(os.environ, NAS_HOME=str(home))
    experiment_id = time.strftime("demo-%Y%m%d-%H%M%S")
    print(f"nasctl run {CONFIG.relative_to(Path.cwd()) if CONFIG.is_relative_to(Path.cwd()) else CONFIG} "
          f"--id {experiment_id}   (NAS_HOME={home})", flush=True)
    start = time.monotonic()
    manager = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "run", str(CONFIG), "--id", experiment_id],
                               env=env)
    try:
        status = manager.wait()
    except KeyboardInterrupt:
        # Ctrl-C: the manager stops its trials and records where it was, so it can be resumed.
        manager.send_signal(signal.SIGINT)
        status = manager.wait()
    minutes, seconds = divmod(int(time.monotonic() - start), 60)
    if status != 0:
        print(f"demo: the experiment did not finish (exit status {status}); see "
              f"NAS_HOME={home} nasctl trial ls {experiment_id}", file=sys.stderr)
        return status

    from nasctl.runtime.manager import Experiment

    exp = Experiment.load(experiment_id, nas_home=home)
    best = exp.best()
    if best is None:
        print("demo: no trial reported an accuracy", file=sys.stderr)
        return 1
    trials = exp.trials()
    architecture = best.derived_architecture or best.parameters
    print(f"\n{sum(t.status == 'SUCCEEDED' for t in trials)}/{len(trials)} trials succeeded in {minutes}m{seconds:02d}s")
    print(f"best trial {best.trial_id}: accuracy {best.default_value:.4f}")
    print("best architecture:")
    print(json.dumps(architecture, indent=2))
    prefix = "" if os.environ.get("NAS_HOME") else f"NAS_HOME={shlex.quote(str(home))} "
    print("\nits code, as plain Python that runs without nasctl:")
    print(f"  {prefix}{_nasctl()} trial codegen {experiment_id} --trial_id {best.trial_id} -o best-cnn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
