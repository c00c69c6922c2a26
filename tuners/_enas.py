"""The ENAS controller (Pham et al. 2018) as a tuner for enas mode: an LSTM policy trained by REINFORCE.

The controller walks the search space's decisions in order (`SearchSpace.dimensions`), one LSTM step
per decision, feeding each step the embedding of the previous choice:

- a layer's candidate: a categorical head over its `layer_choice`;
- a layer's inputs: first the number of inputs (a categorical head over `[low, high]`, skipped when
  `optional_input_size` is an int), then that many distinct inputs drawn one after the other from a
  softmax over attention scores `v . tanh(W_prev anchor_j + W_curr h)` (Pham et al.'s input choice of
  the micro search space) plus a per-input logit from a linear head on `h`, which learns the inputs
  that are not outputs of earlier layers much faster. An input's anchor is the LSTM output of the step that chose the layer
  producing it, when that layer is earlier in the same block; otherwise a learned vector;
- a `choice`, `randint`, `quniform` or `qloguniform` variable: a categorical head over its options;
  continuous variables (`uniform`, `normal`, ...) are drawn at random from their prior (not learned).

Logits are squashed to `tanh_constant * tanh(logits / temperature)` as in ENAS. Each `generate_parameters` samples a
subgraph; each received result is its reward (`value`, negated when `optimize_mode` is `minimize`).
Rewards are batched: once `batch_size` of them arrived, one Adam step on
`mean_b [-(R_b - baseline_b) * log p(a_b)] - entropy_weight * mean_b H_b`, with the moving-average
baseline `baseline <- decay * baseline + (1 - decay) * R` updated reward by reward.
`best_architecture()` decodes the controller greedily: its most likely architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ._base import Tuner, check_float, check_int, check_optimize_mode, check_seed, scalar_value
from ._errors import SearchSpaceError
from ._space import SearchSpace

__all__ = ["ENASTuner"]

_MAX_HEAD = 1024  # a finite variable with more options than this is drawn at random, not learned


class ENASTuner(Tuner):
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
        temperature: float = 5.0,
    ) -> None:
        self.optimize_mode = check_optimize_mode(optimize_mode)
        self.seed = check_seed(seed)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.lr = check_float("lr", lr, 0.0, open_low=True)
        self.baseline_decay = check_float("baseline_decay", baseline_decay, 0.0, 0.999999)
        self.entropy_weight = check_float("entropy_weight", entropy_weight, 0.0)
        self.tanh_constant = check_float("tanh_constant", tanh_constant, 0.0, open_low=True)
        self.temperature = check_float("temperature", temperature, 0.0, open_low=True)
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
            self.controller = Controller(self.space, self.hidden_size, self.tanh_constant, self.temperature,
                                         _MAX_HEAD)
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
        reward = self._reward(value, parameter_id)
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
            self._add(self._actions_of(entry["parameter"], where), self._reward(entry["value"], None))

    def best_architecture(self) -> dict[str, Any]:
        """The controller's most likely architecture (greedy decoding)."""
        self._require_space()
        return self._architecture(self.controller.sample(self.generator, greedy=True))

    # -- checkpoints (`Tuner.save_checkpoint(path)` / `load_checkpoint(path)` write and read these) ---

    def _checkpoint_state(self) -> dict[str, Any]:
        state = {name: value for name, value in vars(self).items()
                 if name not in ("space", "controller", "optimizer", "generator")}
        if self.space is not None:
            state["search_space"] = self.space.raw
            state["controller_state"] = self.controller.state_dict()
            state["optimizer_state"] = self.optimizer.state_dict()
            state["generator_state"] = self.generator.get_state()
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        space = state.pop("search_space", None)
        controller = state.pop("controller_state", None)
        optimizer = state.pop("optimizer_state", None)
        generator = state.pop("generator_state", None)
        self.__dict__.update(state)
        self.space = self.controller = self.optimizer = self.generator = None
        if space is not None:
            rng_state = self.rng.bit_generator.state
            kept = (dict(self.pending), list(self.batch), self.baseline)
            self.update_search_space(space)
            self.rng.bit_generator.state = rng_state
            self.pending, self.batch, self.baseline = kept
            self.controller.load_state_dict(controller)
            self.optimizer.load_state_dict(optimizer)
            self.generator.set_state(generator)

    def _require_space(self) -> None:
        if self.space is None:
            raise SearchSpaceError("ENAS: update_search_space() must be called before proposing or learning")

    def _reward(self, value: Any, parameter_id: int | None) -> float:
        number = scalar_value(value, parameter_id)
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

    def __init__(self, space: SearchSpace, hidden: int, tanh_constant: float, temperature: float,
                 max_head: int) -> None:
        super().__init__()
        self.tanh_constant = tanh_constant
        self.temperature = temperature
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
                head: nn.Module = nn.Linear(hidden, dim.high - dim.low + 1 + len(dim.inputs))
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
        return self.tanh_constant * torch.tanh(logits / self.temperature)

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
            raw = self.heads[index](h)[0]
            count_logits = self._squash(raw[: high - low + 1])
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
                # v . tanh(W_prev a_j + W_curr h), plus a per-input logit of this decision
                scores = self.v(torch.tanh(self.w_prev(anchors) + self.w_curr(h)))[:, 0] + raw[high - low + 1:]
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
