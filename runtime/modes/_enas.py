"""What enas does the same in every framework: subgraphs from the controller, their rewards, the
architecture derived from them (`EnasSubgraphs`, mixed into `torch._enas` and `tensorflow._enas`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasctl.runtime.modes._backend import Architecture, FrameworkBackend
from nasctl.runtime.modes._options import EnasOptions
from nasctl.runtime.modes._spec import RewardWindow, fetch_subgraph

__all__ = ["EnasSubgraphs"]


class EnasSubgraphs(FrameworkBackend):
    """enas's subgraph bookkeeping; a framework's `EnasBackend` puts it before its base class.

    `next_subgraph()` asks the controller (`fetch_parameters`) and runs its answer
    (`set_architecture`); `on_final_result(value)` is the reward of the subgraph that ran; the derived
    architecture is the best subgraph by mean reward over the last `window` rewards, counting only
    subgraphs seen at least twice there when any is (`RewardWindow`), else the current one.
    """

    mode = "enas"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None, **base: Any) -> None:
        self.config = EnasOptions.parse(options)
        self._rewards = RewardWindow(self.config.window, self.config.optimize_mode)
        #: The controller has no more subgraphs: the last one stays.
        self.exhausted = False
        super().__init__(options, seed=seed, **base)  # the framework base's own arguments follow

    def next_subgraph(self) -> None:
        """Run the controller's next subgraph (the trial's next parameter set)."""
        parameters = fetch_subgraph(self.fetch_parameters, self.architecture is not None)
        if parameters is None:
            self.exhausted = True
            return
        self.set_architecture(parameters)

    def on_final_result(self, value: Any) -> None:
        """Record `value` as the reward of the subgraph that ran."""
        if self.architecture is not None:
            self._rewards.add(self.layers_only(self.architecture), value)

    def layers_only(self, parameters: Mapping[str, Any]) -> Architecture:
        """The layer blocks of `parameters` (without the trial's other keys)."""
        blocks = {block for block, _ in self.specs}
        return {key: value for key, value in parameters.items() if key in blocks}

    def derived_architecture(self) -> Architecture | None:
        """The best subgraph by mean reward (see the class docstring); None before a layer ran."""
        if not self.specs:
            return None
        best = self._rewards.best()
        if best is not None:
            return best
        return None if self.architecture is None else self.layers_only(self.architecture)
