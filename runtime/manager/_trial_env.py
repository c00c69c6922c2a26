"""The environment a training service gives a trial (docs/internals.md, "The trial environment").

The names live here only; the training services build a trial's environment with `trial_environment`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from nasctl._nni_compat import with_nni_on_pythonpath

__all__ = [
    "NAS_ARCHITECTURE",
    "NAS_CHANNEL",
    "NAS_EXPERIMENT_ID",
    "NAS_MODE",
    "NAS_MODE_CONFIG",
    "NAS_OUTPUT_DIR",
    "NAS_PLATFORM",
    "NAS_TOKEN",
    "NAS_TRIAL_ID",
    "NAS_TRIAL_SEED",
    "NAS_TRIAL_SEQUENCE_ID",
    "TRIAL_VARIABLES",
    "derive_trial_seed",
    "trial_environment",
]

NAS_PLATFORM = "NAS_PLATFORM"
NAS_EXPERIMENT_ID = "NAS_EXPERIMENT_ID"
NAS_TRIAL_ID = "NAS_TRIAL_ID"
NAS_CHANNEL = "NAS_CHANNEL"
NAS_TOKEN = "NAS_TOKEN"
NAS_TRIAL_SEED = "NAS_TRIAL_SEED"
# Not yet in docs/internals.md; runtime.trial reads it (NNI's NNI_TRIAL_SEQ_ID).
NAS_TRIAL_SEQUENCE_ID = "NAS_TRIAL_SEQUENCE_ID"
NAS_MODE = "NAS_MODE"
NAS_MODE_CONFIG = "NAS_MODE_CONFIG"
NAS_ARCHITECTURE = "NAS_ARCHITECTURE"
NAS_OUTPUT_DIR = "NAS_OUTPUT_DIR"

TRIAL_VARIABLES = (NAS_PLATFORM, NAS_EXPERIMENT_ID, NAS_TRIAL_ID, NAS_CHANNEL, NAS_TOKEN, NAS_TRIAL_SEED,
                   NAS_TRIAL_SEQUENCE_ID, NAS_MODE, NAS_MODE_CONFIG, NAS_ARCHITECTURE, NAS_OUTPUT_DIR)


def derive_trial_seed(experiment_seed: int, sequence: int) -> int:
    """The seed of the trial with this sequence number: stable across runs, distinct per trial."""
    digest = hashlib.sha256(f"nasctl-trial:{experiment_seed}:{sequence}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def trial_environment(*, platform: str, experiment_id: str, trial_id: str, channel: str, token: str,
                      seed: int, sequence: int, mode: str, mode_config: Mapping[str, Any], output_dir: str,
                      cuda_visible_devices: str | None = None,
                      base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A trial's full environment: `base` (default os.environ) plus the NAS_* variables.

    The manager's interpreter directory goes first on PATH, so `python3 trial.py` in a trial command
    runs the interpreter nasctl is installed in. Where NNI is not installed, nasctl's `nni` module
    goes last on PYTHONPATH, so trial code written for NNI (`import nni`) runs unchanged.
    """
    env = dict(os.environ if base is None else base)
    for name in TRIAL_VARIABLES:
        env.pop(name, None)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]) if env.get("PATH") else bin_dir
    env.update({
        NAS_PLATFORM: platform,
        NAS_EXPERIMENT_ID: experiment_id,
        NAS_TRIAL_ID: trial_id,
        NAS_CHANNEL: channel,
        NAS_TOKEN: token,
        NAS_TRIAL_SEED: str(seed),
        NAS_TRIAL_SEQUENCE_ID: str(sequence),
        NAS_MODE: mode,
        NAS_MODE_CONFIG: json.dumps(dict(mode_config), sort_keys=True),
        NAS_OUTPUT_DIR: output_dir,
    })
    if cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    with_nni_on_pythonpath(env)
    return env
