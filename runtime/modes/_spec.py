"""What the one-shot backends of every framework share: a layer's spec, subgraphs, search, rewards.

Framework-free (stdlib only), so that the torch backends (`nasctl.runtime.modes.torch`) and the TensorFlow
backends (`nasctl.runtime.modes.tensorflow`) use the same definitions without loading each other's framework:

- `LayerSpec` (`nasctl.searchspace`'s): what the search space says about one layer, its subgraphs,
  decoding and encoding a layer's choice of an architecture;
- `drop_rate`, `kept_scale`: oneshot's path dropout, rate `r**(1/k)`, kept paths scaled by `1/(1-rate)`;
- `top_inputs`, `sample_architecture`, `mutate_architecture`: darts' input choice, uniform sampling,
  regularized evolution's mutation;
- `search_architecture`: oneshot's derivation, scoring subnets by random or evolutionary search;
- `evolve_architectures`: the regularized evolution behind both (generations, children, several
  mutations, a validity constraint), which SiGeo's proxy-scored search uses too;
- `fetch_subgraph`, `RewardWindow`: enas' next subgraph and the architecture derived from its rewards.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from nasctl.runtime.errors import ArchitectureError, TrialError

from nasctl.searchspace import Architecture, LayerSpec


def drop_rate(r: float, k: int) -> float:
    """The oneshot drop rate of each of `k` paths, `r**(1/k)`: all `k` drop together with probability `r`."""
    return r ** (1.0 / k)


def kept_scale(rate: float) -> float:
    """The scale of a kept path under inverted dropout, `1 / (1 - rate)` (0 when every path drops)."""
    return 1.0 / (1.0 - rate) if rate < 1.0 else 0.0


def remember_spec(specs: MutableMapping[tuple[str, str], LayerSpec], spec: LayerSpec) -> bool:
    """Record `spec` in `specs` (keyed by block and layer key); True when the layer is new.

    A layer key seen before with other candidates or inputs is an `ArchitectureError`.
    """
    key = (spec.block_key, spec.layer_key)
    known = specs.get(key)
    if known is None:
        specs[key] = spec
        return True
    if known != spec:
        raise ArchitectureError(
            "the same layer key is called with different candidates or inputs; "
            "give each mutable layer its own layer_output",
            spec.where,
        )
    return False


def top_inputs(spec: LayerSpec, scores: Sequence[float], threshold: float | None) -> list[int]:
    """The optional inputs to keep: by descending score, those above `threshold` clamped to the range.

    With `threshold=None` the count is the range's upper bound. Returns indices in code order.
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    count = spec.input_high if threshold is None else sum(1 for s in scores if s > threshold)
    count = min(max(count, spec.input_low), spec.input_high)
    return sorted(order[:count])


def sample_architecture(specs: Sequence[LayerSpec], rng: random.Random) -> Architecture:
    """A uniformly sampled architecture: per layer an input count in range, those inputs, a candidate."""
    arch: Architecture = {}
    for spec in specs:
        spec.put(arch, *spec.sample(rng))
    return arch


def mutate_architecture(specs: Sequence[LayerSpec], parent: Architecture, rng: random.Random,
                        count: int = 1) -> Architecture:
    """`parent` with `count` choices (a layer's candidate or its input set) each changed to another one.

    The choices are drawn without repetition among those that have an alternative (all of them when
    fewer than `count`), so the child always differs from its parent (unless the space holds a
    single architecture).
    """
    child = json.loads(json.dumps(parent))
    mutable = [(spec, what) for spec in specs
               for what, n in (("layer", len(spec.labels)), ("inputs", len(spec.subsets))) if n > 1]
    if not mutable:
        return child
    picked = [rng.choice(mutable)] if count <= 1 else rng.sample(mutable, min(count, len(mutable)))
    for spec, what in picked:
        candidate, inputs = spec.decode(child)
        if what == "layer":
            candidate = rng.choice([c for c in range(len(spec.labels)) if c != candidate])
        else:
            inputs = rng.choice([s for s in spec.subsets if s != tuple(sorted(inputs))])
        spec.put(child, candidate, inputs)
    return child


def all_architectures(specs: Sequence[LayerSpec]) -> Iterator[Architecture]:
    """Every architecture of the layers `specs`, one subgraph per layer (in subgraph order)."""
    for picks in itertools.product(*(spec.subgraphs for spec in specs)):
        arch: Architecture = {}
        for spec, (candidate, inputs) in zip(specs, picks, strict=True):
            spec.put(arch, candidate, inputs)
        yield arch


def checked_score(value: Any) -> float:
    """`value`, what a derivation's `evaluate()` returned, as a float; a `TrialError` unless a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TrialError(f"derive_architecture(): evaluate() must return a number, got {value!r}")
    return float(value)


def search_architecture(
    specs: Sequence[LayerSpec],
    evaluate: Callable[[Architecture], Any],
    *,
    budget: int,
    search: str,
    maximize: bool,
    rng: random.Random,
    population: int = 10,
    sample_size: int = 3,
    feasible: Callable[[Architecture], bool] | None = None,
) -> tuple[Architecture, float]:
    """The best architecture by `evaluate(arch)` (a number; the backend fixes `arch` while it runs).

    - `search="random"`: `budget` DISTINCT architectures, uniformly sampled (a repeat is not scored
      again and does not count); every architecture when the space has at most `budget`.
    - `search="evolution"`: regularized evolution (Real et al. 2019): `population` random ones, then
      `budget - population` children, each a mutation of the best of `sample_size` random members,
      replacing the oldest member; an architecture seen before is not scored again.

    With `feasible` (a budget such as `max_params`), only architectures it accepts are scored: the
    samplers redraw (at most 100 times per draw) until one fits. Returns the best architecture and its
    score (higher is better unless `maximize=False`, in which case the score is the negated value).
    Bad arguments, non-numeric scores and a budget nothing fits are `TrialError`s.
    """
    if not specs:
        raise TrialError("oneshot mode: derive_architecture() was called before any mutable layer ran; "
                         "train (or run one forward pass) first")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise TrialError(f"derive_architecture(): budget must be a positive int, got {budget!r}")
    if search not in ("random", "evolution"):
        raise TrialError(f"derive_architecture(): search must be 'random' or 'evolution', got {search!r}")
    sign = 1.0 if maximize else -1.0
    scores: dict[str, tuple[Architecture, float]] = {}
    fits = feasible or (lambda arch: True)

    def draw(make: Callable[[], Architecture]) -> Architecture | None:
        for _ in range(100):
            arch = make()
            if fits(arch):
                return arch
        return None

    def score(arch: Architecture) -> float:
        key = json.dumps(arch, sort_keys=True)
        if key not in scores:
            scores[key] = (arch, sign * checked_score(evaluate(arch)))
        return scores[key][1]

    if search == "random":
        size = math.prod(len(spec.subgraphs) for spec in specs)
        if size <= budget:
            for arch in all_architectures(specs):
                if fits(arch):
                    score(arch)
        else:
            for _ in range(100 * budget):  # `budget` distinct ones, unless few fit
                if len(scores) >= budget:
                    break
                found = draw(lambda: sample_architecture(specs, rng))
                if found is None:
                    break
                score(found)
    else:
        evolve_architectures(specs, score, rng=rng, population=min(population, budget), sample_size=sample_size,
                             children=1, generations=budget - min(population, budget), valid=feasible,
                             max_draws=100)
    if not scores:
        raise TrialError("derive_architecture(): no architecture fits the budget (max_params); raise it or "
                         "add smaller options")
    return max(scores.values(), key=lambda item: item[1])


def evolve_architectures(
    specs: Sequence[LayerSpec],
    evaluate: Callable[[Architecture], Any],
    *,
    rng: random.Random,
    population: int,
    sample_size: int,
    children: int = 1,
    generations: int,
    mutations: int = 1,
    valid: Callable[[Architecture], bool] | None = None,
    max_draws: int = 100,
    stop: Callable[[], bool] | None = None,
) -> list[tuple[Architecture, float]]:
    """Regularized evolution (Real et al. 2019; NASRec's and SiGeo's search): every architecture scored,
    best first, as `(architecture, score)` (higher is better).

    `population` valid architectures drawn uniformly, then `generations` generations: each makes
    `children` children, each a mutation (`mutations` choices) of the best of `sample_size` members
    drawn at random (a tournament), then the children replace the `children` oldest members (ageing).
    An architecture seen before is not scored again. `valid(arch)`, when given, is a constraint (a
    cost budget): an invalid draw or child is redrawn, at most `max_draws` times, and then skipped
    (an empty result: nothing met it). A child drawn while no member is left is drawn uniformly.
    `stop()`, when given, is asked after each generation (a time budget): True ends the search early.
    """
    if valid is not None and not callable(valid):
        raise TrialError(f"evolution: valid must be a function of an architecture, got {valid!r}")
    scores: dict[str, tuple[Architecture, float]] = {}

    def score(arch: Architecture) -> float:
        key = json.dumps(arch, sort_keys=True)
        if key not in scores:
            scores[key] = (arch, checked_score(evaluate(arch)))
        return scores[key][1]

    def draw(make: Callable[[], Architecture]) -> Architecture | None:
        for _ in range(max_draws):
            arch = make()
            if valid is None or valid(arch):
                return arch
        return None

    members: deque[Architecture] = deque()
    for _ in range(population):
        child = draw(lambda: sample_architecture(specs, rng))
        if child is not None:
            score(child)
            members.append(child)
    for _ in range(generations):
        born: list[tuple[Architecture, bool]] = []
        for _ in range(children):
            if not members:
                child, mutated = draw(lambda: sample_architecture(specs, rng)), False
            else:
                contenders = rng.sample(list(members), min(sample_size, len(members)))
                parent = max(contenders, key=score)
                child, mutated = draw(lambda parent=parent: mutate_architecture(specs, parent, rng, mutations)), True
            if child is not None:
                score(child)
                born.append((child, mutated))
        for child, mutated in born:
            if mutated and len(members) >= population:  # a child replaces the oldest member (ageing)
                members.popleft()
            members.append(child)
        if stop is not None and stop():
            break
    return sorted(scores.values(), key=lambda item: -item[1])


def fetch_subgraph(fetch: Callable[[], Mapping[str, Any] | None] | None,
                   has_current: bool) -> Mapping[str, Any] | None:
    """enas: the next subgraph from the controller (`fetch`); None when it has no more and one runs."""
    if fetch is None:
        raise TrialError("enas mode needs a controller to send subgraphs: run the trial in an experiment "
                         "with `tuner: {name: ENAS}`, or standalone where the ENAS tuner runs in-process")
    parameters = fetch()
    if parameters is None and not has_current:
        raise TrialError("enas mode: the tuner sent no subgraph (no more parameters)")
    return parameters


class RewardWindow:
    """enas: the last `size` rewarded subgraphs, and the best of them by mean reward.

    Only subgraphs rewarded at least twice in the window compete when any is, so that one lucky batch
    does not decide.
    """

    def __init__(self, size: int, optimize_mode: str = "maximize") -> None:
        self._rewards: deque[tuple[str, Architecture, float]] = deque(maxlen=size)
        self._sign = 1.0 if optimize_mode == "maximize" else -1.0

    def __len__(self) -> int:
        return len(self._rewards)

    def add(self, architecture: Architecture, value: Any) -> None:
        """Record `value` (a number or `{"default": number}`) as the reward of `architecture`;
        anything else is ignored (a script may report other final results)."""
        reward = value.get("default") if isinstance(value, Mapping) else value
        if isinstance(reward, bool) or not isinstance(reward, (int, float)):
            return
        self._rewards.append((json.dumps(architecture, sort_keys=True), architecture, float(reward)))

    def best(self) -> Architecture | None:
        """The subgraph with the best mean reward (see the class docstring); None without rewards."""
        groups: dict[str, tuple[Architecture, list[float]]] = {}
        for key, architecture, reward in self._rewards:
            groups.setdefault(key, (architecture, []))[1].append(reward)
        pool = [group for group in groups.values() if len(group[1]) >= 2] or list(groups.values())
        if not pool:
            return None
        return max(pool, key=lambda group: self._sign * sum(group[1]) / len(group[1]))[0]
