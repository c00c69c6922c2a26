"""Where a trial gets its parameters and sends its results: standalone, or an experiment's channel.

`platform_from_environment` picks one from the variables of docs/internals.md ("The trial
environment"): no `NAS_PLATFORM` is standalone; `local` and `ray` talk to the dispatcher over
`NAS_CHANNEL`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from nasctl.runtime.errors import ChannelError, TrialError
from nasctl.runtime.trial._architecture import load_architecture_file
from nasctl.runtime.trial._channel import ChannelClient

from nasctl.searchspace import sample_architecture

__all__ = ["ChannelPlatform", "Platform", "StandalonePlatform", "platform_from_environment"]

CHANNEL_PLATFORMS = ("local", "ray")


class Platform:
    """The trial's link to whoever chose its architecture.

    `request_parameters` returns `(parameter_id, parameters)` or None when there are no more;
    `send_metric` and `send_architecture` return once the result is delivered.
    """

    name = ""
    #: Whether a key missing from the parameters is sampled on demand (else it is an error).
    samples_missing = False
    #: Whether a second final result for one parameter is ignored (with a warning) instead of sent.
    one_final_per_parameter = False

    def __init__(self, *, experiment_id: str, trial_id: str, sequence_id: int = 0, seed: int = 0) -> None:
        self.experiment_id = experiment_id
        self.trial_id = trial_id
        self.sequence_id = sequence_id
        self.seed = seed

    def request_parameters(self) -> tuple[int | None, dict[str, Any]] | None:
        raise NotImplementedError

    def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
        raise NotImplementedError

    def send_architecture(self, architecture: dict[str, Any], parameter_id: int | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection, if any."""


class StandalonePlatform(Platform):
    """No experiment: the architecture comes from a file or is sampled with the seed; results are printed.

    With `architecture`, a key it lacks is an error. Without it, the whole `search_space` (if given)
    is sampled up front, and any other key is sampled when first used, from the same per-key
    generators, so both ways give the same values for a seed. One parameter set per run.
    """

    name = "standalone"

    def __init__(self, *, architecture: Mapping[str, Any] | None = None,
                 search_space: Mapping[str, Any] | None = None, seed: int = 0,
                 experiment_id: str = "STANDALONE", trial_id: str = "STANDALONE", sequence_id: int = 0) -> None:
        super().__init__(experiment_id=experiment_id, trial_id=trial_id, sequence_id=sequence_id, seed=seed)
        self.architecture = dict(architecture) if architecture is not None else None
        self.search_space = search_space
        self.samples_missing = architecture is None
        self._served = False
        self.final_result: Any = None

    def request_parameters(self) -> tuple[int | None, dict[str, Any]] | None:
        if self._served:
            return None
        self._served = True
        if self.architecture is not None:
            return 0, json.loads(json.dumps(self.architecture))
        return 0, sample_architecture(self.search_space or {}, self.seed)

    def _print(self, what: str, value: Any) -> None:
        print(f"{what}: {json.dumps(value)}", file=sys.stdout, flush=True)

    def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
        if kind == "final":
            self.final_result = value
        self._print(f"{kind} result", value)

    def send_architecture(self, architecture: dict[str, Any], parameter_id: int | None) -> None:
        self._print("derived architecture", architecture)


class ChannelPlatform(Platform):
    """A trial of an experiment (`local`, `ray`): every call is a request to the dispatcher."""

    one_final_per_parameter = True

    def __init__(self, client: ChannelClient, *, name: str, experiment_id: str, trial_id: str,
                 sequence_id: int = 0, seed: int = 0) -> None:
        super().__init__(experiment_id=experiment_id, trial_id=trial_id, sequence_id=sequence_id, seed=seed)
        self.name = name
        self.client = client

    def request_parameters(self) -> tuple[int | None, dict[str, Any]] | None:
        reply = self.client.request("get_parameter")
        if reply.get("type") == "no_more_parameters":
            return None
        parameters = reply.get("parameters")
        if reply.get("type") != "parameter" or not isinstance(parameters, dict):
            raise ChannelError(f"the experiment answered a parameter request with {reply!r}")
        return reply.get("parameter_id"), parameters

    def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
        fields: dict[str, Any] = {"kind": kind, "value": value, "parameter_id": parameter_id}
        if sequence is not None:
            fields["sequence"] = sequence
        reply = self.client.request("metric", **fields)
        if isinstance(reply.get("warning"), str):
            print(f"nasctl: warning: trial {self.trial_id}: {reply['warning']}", file=sys.stderr, flush=True)

    def send_architecture(self, architecture: dict[str, Any], parameter_id: int | None) -> None:
        self.client.request("architecture", architecture=architecture, parameter_id=parameter_id)

    def close(self) -> None:
        self.client.close()


def _required(environ: Mapping[str, str], name: str, platform: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise TrialError(f"NAS_PLATFORM={platform} needs {name} in the trial's environment; it is not set")
    return value


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise TrialError(f"{name}={text!r} in the trial's environment is not an integer") from None


def platform_from_environment(environ: Mapping[str, str]) -> Platform:
    """The platform the variables in `environ` describe (docs/internals.md, "The trial environment")."""
    name = environ.get("NAS_PLATFORM", "").strip()
    seed = _int(environ, "NAS_TRIAL_SEED", 0)
    sequence_id = _int(environ, "NAS_TRIAL_SEQUENCE_ID", 0)
    if not name or name == "standalone":
        path = environ.get("NAS_ARCHITECTURE", "").strip()
        architecture = load_architecture_file(path) if path else None
        return StandalonePlatform(architecture=architecture, seed=seed,
                                  experiment_id=environ.get("NAS_EXPERIMENT_ID") or "STANDALONE",
                                  trial_id=environ.get("NAS_TRIAL_ID") or "STANDALONE", sequence_id=sequence_id)
    if name not in CHANNEL_PLATFORMS:
        raise TrialError(f"NAS_PLATFORM={name!r} is not a platform nasctl knows "
                         f"(unset for standalone, or one of {', '.join(CHANNEL_PLATFORMS)})")
    trial_id = _required(environ, "NAS_TRIAL_ID", name)
    client = ChannelClient(_required(environ, "NAS_CHANNEL", name), _required(environ, "NAS_TOKEN", name), trial_id)
    return ChannelPlatform(client, name=name, experiment_id=environ.get("NAS_EXPERIMENT_ID", ""),
                           trial_id=trial_id, sequence_id=sequence_id, seed=seed)
