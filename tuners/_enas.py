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

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ._base import Tuner, check_float, check_int, check_optimize_mode, check_seed, scalar_value
from ._errors import SearchSpaceError, TunerError
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

    # On-policy (the batch's log p(a) is taken under the current controller), and in enas mode the
    # trial asks for its next subgraph right after the reward that may update the controller.
    prepares_ahead = False

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
        self.ahead: list[list[Any]] = []
        self.updates = 0

    # -- NNI's interface ----------------------------------------------------------------------------

    def update_search_space(self, search_space: Mapping[str, Any]) -> None:
        """Build a fresh controller for `search_space` (NNI's JSON format); the same space again
        (a resumed experiment sends it after `load_checkpoint`) changes nothing."""
        space = SearchSpace(search_space)
        if self.space is not None and space == self.space:
            return
        self.space = space
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
        self.ahead = []

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        """Sample a subgraph (and the variables) from the controller."""
        self._require_space()
        if not self.ahead:
            # One batched LSTM pass for the next `batch_size` subgraphs: they are draws from the
            # current policy, and are dropped when the policy changes (`_update`).
            self.ahead = self.controller.sample(self.generator, self.batch_size)
        actions = self.ahead.pop(0)
        self.pending[parameter_id] = actions
        return self._architecture(actions)

    def receive_trial_result(self, parameter_id: int, parameters: Mapping[str, Any], value: Any, **kwargs: Any) -> None:
        """`value` (a number or `{"default": number}`) is the reward of the subgraph `parameter_id`."""
        self._require_space()
        reward = self._reward(value, parameter_id)
        actions = self.pending.pop(parameter_id, None)
        if actions is None:
            actions = self._actions_of(parameters, f"parameter {parameter_id}")
        if math.isfinite(reward):  # a diverged trial (nan, inf) teaches nothing
            self._add(actions, reward)

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """Forget a subgraph whose trial failed before reporting its reward."""
        if not success:
            self.pending.pop(parameter_id, None)

    def import_data(self, data: list[dict[str, Any]]) -> None:
        """Learn from past results `[{"parameter": architecture, "value": v}, ...]` as from rewards.

        Every entry is checked before any is used; results that are not finite are skipped.
        """
        self._require_space()
        learned = []
        for index, entry in enumerate(data):
            where = f"import_data entry {index}"
            if not isinstance(entry, Mapping) or "parameter" not in entry or "value" not in entry:
                raise SearchSpaceError(f"{where}: expected {{'parameter': ..., 'value': ...}}, got {entry!r}")
            actions = self._actions_of(entry["parameter"], where)
            try:
                reward = self._reward(entry["value"], None)
            except TunerError as error:
                raise type(error)(f"{where}: {error}") from None
            learned.append((actions, reward))
        for actions, reward in learned:
            if math.isfinite(reward):
                self._add(actions, reward)

    def best_architecture(self) -> dict[str, Any]:
        """The controller's most likely architecture (greedy decoding)."""
        self._require_space()
        return self._architecture(self.controller.sample(self.generator, greedy=True)[0])

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
            kept = (dict(self.pending), list(self.batch), list(self.ahead), self.baseline)
            self.update_search_space(space)
            self.rng.bit_generator.state = rng_state
            self.pending, self.batch, self.ahead, self.baseline = kept
            self.controller.load_state_dict(controller)
            self.optimizer.load_state_dict(optimizer)
            self.generator.set_state(generator)

    def _require_space(self) -> None:
        if self.space is None:
            raise SearchSpaceError("ENAS: update_search_space must be called before proposing or learning")

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
            raise SearchSpaceError(f"{where}: {error}") from None
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
        advantages = []
        for _, reward in self.batch:
            if self.baseline is None:
                self.baseline = reward
            self.baseline = self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * reward
            advantages.append(reward - self.baseline)
        log_prob, entropy = self.controller.evaluate([actions for actions, _ in self.batch])
        advantage = torch.tensor(advantages, dtype=log_prob.dtype)
        loss = (-advantage * log_prob - self.entropy_weight * entropy).mean()  # REINFORCE, entropy bonus
        self.batch.clear()
        self.ahead = []
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
        self, actions: list[list[Any]] | None, count: int, generator: torch.Generator | None, greedy: bool
    ) -> tuple[list[list[Any]], torch.Tensor, torch.Tensor]:
        """Sample `count` architectures (`actions` None) or score `actions`, all rows at once.

        Returns `(actions, log p, entropy)`, the last two with one entry per row.
        """
        rows = count if actions is None else len(actions)
        hidden = self.start.shape[1]
        state = (self.start.new_zeros(rows, hidden), self.start.new_zeros(rows, hidden))
        start = self.start.expand(rows, hidden)
        x = start
        log_prob = self.start.new_zeros(rows)
        entropy = self.start.new_zeros(rows)
        taken: list[list[Any]] = [[] for _ in range(rows)]
        outputs: dict[int, torch.Tensor] = {}
        for index, kind in enumerate(self.kinds):
            if kind == "random":
                for row in taken:
                    row.append(None)
                continue
            state = self.lstm(x, state)
            h = state[0]
            outputs[index] = h
            given = None if actions is None else [a[index] for a in actions]
            if kind == "categorical":
                logits = self._squash(self.heads[index](h))
                choice = _pick(logits, None if given is None else torch.tensor(given), generator, greedy)
                log_prob = log_prob + torch.log_softmax(logits, -1).gather(1, choice[:, None])[:, 0]
                entropy = entropy + _entropy(logits)
                for row, value in zip(taken, choice.tolist(), strict=True):
                    row.append(value)
                x = self.embeddings[index](choice)
                continue
            low, high = self.bounds[index]
            raw = self.heads[index](h)
            count_logits = self._squash(raw[:, : high - low + 1])
            counts = _pick(count_logits, None if given is None else torch.tensor([len(g) for g in given]) - low,
                           generator, greedy) + low
            if high > low:
                log_prob = log_prob + torch.log_softmax(count_logits, -1).gather(1, (counts - low)[:, None])[:, 0]
                entropy = entropy + _entropy(count_logits)
            sources = self.anchor_sources[index]
            if not sources or high == 0:
                for row in taken:
                    row.append(())
                x = start
                continue
            anchors = torch.stack([
                outputs[source] if source is not None and source in outputs
                else self.anchors[index][j].expand(rows, hidden)
                for j, source in enumerate(sources)
            ], dim=1)  # (rows, inputs, hidden)
            # v . tanh(W_prev a_j + W_curr h), plus a per-input logit of this decision
            scores = self.v(torch.tanh(self.w_prev(anchors) + self.w_curr(h)[:, None, :]))[..., 0]
            scores = self._squash(scores + raw[:, high - low + 1:])
            entropy = entropy + _entropy(scores)
            mask = torch.zeros_like(scores, dtype=torch.bool)
            picks: list[list[int]] = [[] for _ in range(rows)]
            for slot in range(high):
                active = slot < counts
                if not bool(active.any()):
                    break
                masked = scores.masked_fill(mask, float("-inf"))
                forced = None
                if given is not None:
                    forced = torch.tensor([g[slot] if slot < len(g) else 0 for g in given])
                pick = _pick(masked, forced, generator, greedy)
                step = torch.log_softmax(masked, -1).gather(1, pick[:, None])[:, 0]  # without replacement
                log_prob = log_prob + torch.where(active, step, torch.zeros_like(step))
                mask = mask | (torch.nn.functional.one_hot(pick, scores.shape[1]).bool() & active[:, None])
                for row, value, on in zip(picks, pick.tolist(), active.tolist(), strict=True):
                    if on:
                        row.append(value)
            for row, chosen in zip(taken, picks, strict=True):
                row.append(tuple(chosen))
            weights = mask.to(anchors.dtype)
            mean = (weights[..., None] * anchors).sum(1) / weights.sum(1, keepdim=True).clamp(min=1.0)
            x = torch.where((counts > 0)[:, None], mean, start)
        return taken, log_prob, entropy

    def sample(self, generator: torch.Generator, count: int = 1, *, greedy: bool = False) -> list[list[Any]]:
        """`count` architectures' actions: an index per categorical decision, a tuple of input
        positions in drawing order per input decision, None where the value is drawn from the prior."""
        with torch.no_grad():
            return self._run(None, count, generator, greedy)[0]

    def evaluate(self, actions: list[list[Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        """`(log p(actions), entropy)` per row under the current policy, differentiable."""
        _, log_prob, entropy = self._run(actions, len(actions), None, False)
        return log_prob, entropy


def _pick(logits: torch.Tensor, given: torch.Tensor | None, generator: torch.Generator | None,
          greedy: bool) -> torch.Tensor:
    if given is not None:
        return given.to(torch.long)
    if greedy:
        return torch.argmax(logits, -1)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits, -1)
    p = log_p.exp()
    return -(p * log_p.masked_fill(p == 0, 0.0)).sum(-1)
