"""A trial platform whose "dispatcher" is a tuner in this process: standalone enas trials and tests.

The one in-process ENAS driver, for every framework: `nasctl trial run --mode enas` has no experiment
to ask for subgraphs; with this platform the trial's `training_update()` asks the tuner (the ENAS
controller) directly, and each final result is passed to `receive_trial_result` as the dispatcher would. Results and the derived architecture are
printed like the standalone platform does, unless `echo=False`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from nasctl.runtime.trial._platform import Platform


class InProcessTunerPlatform(Platform):
    """`request_parameters` -> `tuner.generate_parameters`; a final metric -> `receive_trial_result`."""

    name = "standalone"

    def __init__(self, tuner: Any, search_space: Mapping[str, Any], *, seed: int = 0, echo: bool = True,
                 experiment_id: str = "STANDALONE", trial_id: str = "STANDALONE") -> None:
        super().__init__(experiment_id=experiment_id, trial_id=trial_id, seed=seed)
        self.tuner = tuner
        self.echo = echo
        tuner.update_search_space(dict(search_space))
        self._next_id = 0
        self.current: tuple[int, dict[str, Any]] | None = None
        self.metrics: list[tuple[str, Any, int | None]] = []
        self.architectures: list[dict[str, Any]] = []

    def request_parameters(self) -> tuple[int | None, dict[str, Any]] | None:
        from nasctl.tuners._errors import NoMoreTrialError

        parameter_id, self._next_id = self._next_id, self._next_id + 1
        try:
            parameters = self.tuner.generate_parameters(parameter_id)
        except NoMoreTrialError:
            return None
        self.current = (parameter_id, parameters)
        return parameter_id, json.loads(json.dumps(parameters))

    def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
        self.metrics.append((kind, value, parameter_id))
        if kind == "final" and self.current is not None and parameter_id == self.current[0]:
            self.tuner.receive_trial_result(parameter_id, self.current[1], value)
        if self.echo:
            print(f"{kind} result: {json.dumps(value)}", file=sys.stdout, flush=True)

    def send_architecture(self, architecture: dict[str, Any], parameter_id: int | None) -> None:
        self.architectures.append(architecture)
        if self.echo:
            print(f"derived architecture: {json.dumps(architecture)}", file=sys.stdout, flush=True)
