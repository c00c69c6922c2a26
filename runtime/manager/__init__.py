"""The experiment manager: configs, storage, the channel server, the local training service, the CLI.

>>> from nasctl.runtime.manager import Experiment
>>> exp = Experiment.from_yaml("examples/mnist-nas/config.yml")   # doctest: +SKIP
>>> exp.run(); exp.best()                                          # doctest: +SKIP
"""

from __future__ import annotations

from nasctl.runtime.manager._config import ExperimentConfig, TunerSpec, load_config, parse_duration
from nasctl.runtime.manager._experiment import Experiment, experiment_ids, nas_home
from nasctl.runtime.manager._kinds import (
    FINISHED_STATUSES,
    TRIAL_STATUSES,
    ExperimentStatus,
    MetricKind,
    TrialStatus,
)
from nasctl.runtime.manager._storage import TrialRecord
from nasctl.runtime.manager._trial_env import TRIAL_VARIABLES, derive_trial_seed, trial_environment

__all__ = [
    "FINISHED_STATUSES",
    "TRIAL_STATUSES",
    "TRIAL_VARIABLES",
    "Experiment",
    "ExperimentConfig",
    "ExperimentStatus",
    "MetricKind",
    "TrialRecord",
    "TrialStatus",
    "TunerSpec",
    "derive_trial_seed",
    "experiment_ids",
    "load_config",
    "nas_home",
    "parse_duration",
    "trial_environment",
]
