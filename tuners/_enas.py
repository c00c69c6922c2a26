"""The ENAS controller (Pham et al. 2018) as a tuner for enas mode: an LSTM policy trained by REINFORCE.

The controller walks the search space's decisions in order (`SearchSpace.dimensions`), one LSTM step
per decision, feeding each step the embedding of the previous choice:

- a layer's candidate: a categorical head over its `layer_choice`;
- a layer's inputs: first the number of inputs (a categorical head over `[low, high]`, skipped when
  `optional_input_size` is an int), then that many distinct inputs drawn one after the other from a
  softmax over attention scores `v . tanh(W_prev anchor_j + W_curr h)` (Pham et al.'s input choice of
  the micro search space). An input's anchor is the LSTM output of the step that chose the layer
  producing it, when that layer is earlier in the same block; otherwise a learned vector;
- a `choice`, `randint`, `quniform` or `qloguniform` variable: a categorical head over its options;
  continuous variables (`uniform`, `normal`, ...) are drawn at random from their prior (not learned).

Logits are squashed to `tanh_constant * tanh(logits)` as in ENAS. Each `generate_parameters` samples a
subgraph; each received result is its reward (`value`, negated when `optimize_mode` is `minimize`).
Rewards are batched: once `batch_size` of them arrived, one Adam step on
`mean_b [-(R_b - baseline_b) * log p(a_b)] - entropy_weight * mean_b H_b`, with the moving-average
baseline `baseline <- decay * baseline + (1 - decay) * R` updated reward by reward.
`best_architecture()` decodes the controller greedily: its most likely architecture.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._errors import CheckpointError, SearchSpaceError, TunerArgumentError
from ._space import SearchSpace

__all__ = ["ENASTuner"]

_MAX_HEAD = 1024  # a finite variable with more options than this is drawn at random, not learned


class ENASTuner:
    """The ENAS controller; NNI's tuner interface. See the module docstring.

    >>> tuner = ENASTuner(optimize_mode="maximize", seed=0)
    >>> tuner.update_search_space({"m/f/h": {"_type": "mutable_layer", "_value": {"h": {
    ...     "layer_choice": ["a()", "b()"], "optional_inputs": ["x", "y"], "optional_input_size": 1}}}})
    >>> arch = tuner.generate_parameters(0)
    >>> tuner.receive_trial_result(0, arch, 1.0)
    >>> arch["m/f/h"]["h"]["chosen_layer"] in ("a()", "b()")
    True
    """

    def __init__(
        self,
        optimize_mode: str = "maximize",
        seed: int | None = None,
        *,
        hidden_size: int = 64,
        lr: float = 3.5e-4,
        batch_size: int = 10,
        baseline_decay: float = 0.99,
        entropy_weight: float = 1e-4,
        tanh_constant: float = 1.5,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if optimize_mode not in ("maximize", "minimize"):
            raise TunerArgumentError(f"ENAS: optimize_mode must be 'maximize' or 'minimize', got {optimize_mode!r}")
        for name, value, low, high in (("hidden_size", hidden_size, 1, 1 << 16), ("batch_size", batch_size, 1, 1 << 20)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise TunerArgumentError(f"ENAS: {name} must be an int in [{low}, {high}], got {value!r}")
        for name, value in (("lr", lr), ("tanh_constant", tanh_constant)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise TunerArgumentError(f"ENAS: {name} must be a positive number, got {value!r}")
        if isinstance(baseline_decay, bool) or not isinstance(baseline_decay, (int, float)) or not 0 <= baseline_decay < 1:
            raise TunerArgumentError(f"ENAS: baseline_decay must be in [0, 1), got {baseline_decay!r}")
        if isinstance(entropy_weight, bool) or not isinstance(entropy_weight, (int, float)) or entropy_weight < 0:
            raise TunerArgumentError(f"ENAS: entropy_weight must be a number >= 0, got {entropy_weight!r}")
        self.optimize_mode = optimize_mode
        self.seed = seed
        self.hidden_size = hidden_size
        self.lr = float(lr)
        self.batch_size = batch_size
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.tanh_constant = float(tanh_constant)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.rng = np.random.default_rng(seed)
        self.space: SearchSpace | None = None
        self.controller: Any = None
        self.optimizer: Any = None
        self.generator: Any = None
        self.baseline: float | None = None
        self.pending: dict[int, list[Any]] = {}
        self.batch: list[tuple[list[Any], float]] = []
        self.updates = 0

    # -- NNI's interface ----------------------------------------------------------------------------

    def update_search_space(self, search_space: Mapping[str, Any]) -> None:
        """Build a fresh controller for `search_space` (NNI's JSON format)."""
        self.space = SearchSpace(search_space)
        torch_seed = int(self.rng.integers(2**63))
        self.generator = torch.Generator()
        self.generator.manual_seed(torch_seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            self.controller = Controller(self.space, self.hidden_size, self.tanh_constant, _MAX_HEAD)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.lr)
        self.baseline = None
        self.pending.clear()
        self.batch.clear()

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        """Sample a subgraph (and the variables) from the controller."""
        self._require_space()
        actions = self.controller.sample(self.generator)
        self.pending[parameter_id] = actions
        return self._architecture(actions)

    def receive_trial_result(self, parameter_id: int, parameters: Mapping[str, Any], value: Any, **kwargs: Any) -> None:
        """`value` (a number or `{"default": number}`) is the reward of the subgraph `parameter_id`."""
        self._require_space()
        reward = self._reward(value, f"parameter {parameter_id}")
        actions = self.pending.pop(parameter_id, None)
        if actions is None:
            actions = self._actions_of(parameters, f"parameter {parameter_id}")
        self._add(actions, reward)

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """Forget a subgraph whose trial failed before reporting its reward."""
        if not success:
            self.pending.pop(parameter_id, None)

    def import_data(self, data: list[dict[str, Any]]) -> None:
        """Learn from past results `[{"parameter": architecture, "value": v}, ...]` as from rewards."""
        self._require_space()
        for index, entry in enumerate(data):
            where = f"import_data entry {index}"
            if not isinstance(entry, Mapping) or "parameter" not in entry or "value" not in entry:
                raise SearchSpaceError(f"{where}: expected {{'parameter': ..., 'value': ...}}, got {entry!r}")
            self._add(self._actions_of(entry["parameter"], where), self._reward(entry["value"], where))

    def best_architecture(self) -> dict[str, Any]:
        """The controller's most likely architecture (greedy decoding)."""
        self._require_space()
        return self._architecture(self.controller.sample(self.generator, greedy=True))

    # -- checkpoints --------------------------------------------------------------------------------

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the controller, its optimizer, the baseline and the random states to `path`."""
        target = self._checkpoint(path)
        self._require_space()
        state = {
            "kind": "ENASTuner",
            "search_space": self.space.raw,
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "baseline": self.baseline,
            "pending": self.pending,
            "batch": self.batch,
            "updates": self.updates,
        }
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, target)
        except OSError as error:
            raise CheckpointError(f"ENAS: cannot write checkpoint {target}: {error}") from None

    def load_checkpoint(self, path: str | os.PathLike[str] | None = None) -> None:
        """Restore what `save_checkpoint` wrote; the search space comes with it."""
        source = self._checkpoint(path)
        try:
            state = torch.load(source, weights_only=False)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
            raise CheckpointError(f"ENAS: cannot read checkpoint {source}: {error}") from None
        if not isinstance(state, dict) or state.get("kind") != "ENASTuner":
            raise CheckpointError(f"ENAS: {source} is not an ENAS tuner checkpoint")
        self.update_search_space(state["search_space"])
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.baseline = state["baseline"]
        self.pending = dict(state["pending"])
        self.batch = list(state["batch"])
        self.updates = state["updates"]

    # -- internals ----------------------------------------------------------------------------------

    def _checkpoint(self, path: str | os.PathLike[str] | None) -> Path:
        if path is not None:
            return Path(path)
        if self.checkpoint_path is None:
            raise CheckpointError("ENAS: no checkpoint path given (pass one, or checkpoint_path= to the tuner)")
        return self.checkpoint_path

    def _require_space(self) -> None:
        if self.space is None:
            raise SearchSpaceError("ENAS: update_search_space() must be called before proposing or learning")

    def _reward(self, value: Any, where: str) -> float:
        number = value.get("default") if isinstance(value, Mapping) else value
        if isinstance(number, bool) or not isinstance(number, (int, float, np.integer, np.floating)):
            raise TunerArgumentError(f"ENAS: {where}: the result must be a number or {{'default': number}}, "
                                     f"got {value!r}")
        number = float(number)
        return number if self.optimize_mode == "maximize" else -number

    def _architecture(self, actions: list[Any]) -> dict[str, Any]:
        point = []
        for dim, action in zip(self.space.dimensions, actions, strict=True):
            if action is None:
                point.append(dim.sample(self.rng))
            elif dim.part == "chosen_inputs":
                point.append(dim.encode([dim.inputs[i] for i in sorted(action)]))
            else:
                point.append(action)
        return self.space.to_architecture(point)

    def _actions_of(self, parameters: Mapping[str, Any], where: str) -> list[Any]:
        try:
            point = self.space.from_architecture(parameters)
        except SearchSpaceError as error:
            raise SearchSpaceError(f"ENAS: {where}: {error.detail}", error.key) from None
        actions: list[Any] = []
        for dim, coordinate in zip(self.space.dimensions, point, strict=True):
            if dim.part == "chosen_inputs":
                # The drawing order is unknown here; the search-space order stands in for it.
                actions.append(tuple(dim.inputs.index(label) for label in dim.value(coordinate)))
            elif self.controller.learns(dim):
                actions.append(coordinate)
            else:
                actions.append(None)
        return actions

    def _add(self, actions: list[Any], reward: float) -> None:
        self.batch.append((actions, reward))
        if len(self.batch) >= self.batch_size:
            self._update()

    def _update(self) -> None:
        with torch.enable_grad():  # a trial may report (and so run the tuner in-process) under no_grad
            self._update_impl()

    def _update_impl(self) -> None:
        losses = []
        for actions, reward in self.batch:
            if self.baseline is None:
                self.baseline = reward
            self.baseline = self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * reward
            log_prob, entropy = self.controller.evaluate(actions)
            advantage = reward - self.baseline
            losses.append(-advantage * log_prob - self.entropy_weight * entropy)  # REINFORCE, entropy bonus
        self.batch.clear()
        loss = torch.stack(losses).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1


class Controller(nn.Module):
    """The LSTM policy over a search space's decisions; see the module docstring."""

    def __init__(self, space: SearchSpace, hidden: int, tanh_constant: float, max_head: int) -> None:
        super().__init__()
        self.tanh_constant = tanh_constant
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.start = nn.Parameter(0.1 * torch.randn(1, hidden))  # g_emb of ENAS: the first step's input
        self.w_prev = nn.Linear(hidden, hidden, bias=False)
        self.w_curr = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.kinds: list[str] = []
        self.heads = nn.ModuleList()
        self.embeddings = nn.ModuleList()
        self.anchors = nn.ParameterList()
        self.anchor_sources: list[list[int | None]] = []
        self.bounds: list[tuple[int, int]] = []
        producer: dict[tuple[str, str], int] = {}
        for index, dim in enumerate(space.dimensions):
            sources: list[int | None] = []
            bounds = (0, 0)
            if dim.part == "chosen_inputs":
                kind = "inputs"
                bounds = (dim.low, dim.high)
                sources = [producer.get((dim.key, label)) for label in dim.inputs]
                head: nn.Module = nn.Linear(hidden, dim.high - dim.low + 1)
                embedding: nn.Module = nn.Identity()
                anchor = nn.Parameter(0.1 * torch.randn(max(len(dim.inputs), 1), hidden))
            elif dim.size is not None and 1 <= dim.size <= max_head:
                kind = "categorical"
                head = nn.Linear(hidden, dim.size)
                embedding = nn.Embedding(dim.size, hidden)
                anchor = nn.Parameter(torch.zeros(0, hidden), requires_grad=False)
                if dim.part == "chosen_layer":
                    producer[(dim.key, dim.layer)] = index
            else:
                kind = "random"
                head, embedding = nn.Identity(), nn.Identity()
                anchor = nn.Parameter(torch.zeros(0, hidden), requires_grad=False)
            self.kinds.append(kind)
            self.heads.append(head)
            self.embeddings.append(embedding)
            self.anchors.append(anchor)
            self.anchor_sources.append(sources)
            self.bounds.append(bounds)

    def learns(self, dim: Any) -> bool:
        """Whether the controller has a head for `dim` (else its value is drawn from the prior)."""
        return dim.part == "chosen_inputs" or (dim.size is not None and 1 <= dim.size <= _MAX_HEAD)

    def _squash(self, logits: torch.Tensor) -> torch.Tensor:
        return self.tanh_constant * torch.tanh(logits)

    def _run(
        self, actions: list[Any] | None, generator: torch.Generator | None, greedy: bool
    ) -> tuple[list[Any], torch.Tensor, torch.Tensor]:
        """Sample (`actions` None) or score `actions`; returns `(actions, log p, entropy)`."""
        hidden = self.start.shape[1]
        state = (torch.zeros(1, hidden), torch.zeros(1, hidden))
        x = self.start
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        taken: list[Any] = []
        outputs: dict[int, torch.Tensor] = {}
        for index, kind in enumerate(self.kinds):
            if kind == "random":
                taken.append(None)
                continue
            state = self.lstm(x, state)
            h = state[0]
            outputs[index] = h
            given = None if actions is None else actions[index]
            if kind == "categorical":
                logits = self._squash(self.heads[index](h))[0]
                choice = _pick(logits, given, generator, greedy)
                log_prob = log_prob + torch.log_softmax(logits, -1)[choice]
                entropy = entropy + _entropy(logits)
                taken.append(choice)
                x = self.embeddings[index](torch.tensor([choice]))
                continue
            low, high = self.bounds[index]
            count_logits = self._squash(self.heads[index](h))[0]
            if given is None:
                count = low + _pick(count_logits, None, generator, greedy)
            else:
                count = len(given)
            if high > low:
                log_prob = log_prob + torch.log_softmax(count_logits, -1)[count - low]
                entropy = entropy + _entropy(count_logits)
            anchors = torch.stack([
                outputs[source][0] if source is not None and source in outputs else self.anchors[index][j]
                for j, source in enumerate(self.anchor_sources[index])
            ]) if self.anchor_sources[index] else torch.zeros(0, hidden)
            chosen: list[int] = []
            if len(anchors):
                scores = self.v(torch.tanh(self.w_prev(anchors) + self.w_curr(h)))[:, 0]  # v.tanh(W a_j + W h)
                scores = self._squash(scores)
                entropy = entropy + _entropy(scores)
                mask = torch.zeros_like(scores, dtype=torch.bool)
                for slot in range(count):
                    masked = scores.masked_fill(mask, float("-inf"))
                    pick = _pick(masked, None if given is None else given[slot], generator, greedy)
                    log_prob = log_prob + torch.log_softmax(masked, -1)[pick]  # without replacement
                    mask = mask.clone()
                    mask[pick] = True
                    chosen.append(pick)
            taken.append(tuple(chosen))
            x = anchors[chosen].mean(0, keepdim=True) if chosen else self.start
        return taken, log_prob, entropy

    def sample(self, generator: torch.Generator, *, greedy: bool = False) -> list[Any]:
        """One architecture's actions: an index per categorical decision, a tuple of input positions in
        drawing order per input decision, None where the value is drawn from the prior."""
        with torch.no_grad():
            return self._run(None, generator, greedy)[0]

    def evaluate(self, actions: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """`(log p(actions), entropy)` under the current policy, differentiable."""
        _, log_prob, entropy = self._run(actions, None, False)
        return log_prob, entropy


def _pick(logits: torch.Tensor, given: int | None, generator: torch.Generator | None, greedy: bool) -> int:
    if given is not None:
        return int(given)
    if greedy:
        return int(torch.argmax(logits))
    return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits, -1)
    p = log_p.exp()
    return -(p * log_p.masked_fill(p == 0, 0.0)).sum()
