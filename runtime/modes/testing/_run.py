"""What a framework's task module hands back after one search, and the checks every framework shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasctl.runtime.modes._backend import LayerRequest
from nasctl.tuners.testing import TunerConformanceError, check_proposal

from ._errors import BackendConformanceError

__all__ = ["CHANNELS", "LENGTH", "Run", "BackendFactory", "candidate_table", "run_layer", "summed", "task_space",
           "verify"]

CHANNELS = 2
LENGTH = 12
# The task's candidates, the same in every framework: label -> the arguments of its convolution.
_CONVOLUTIONS = {"Conv(3)": {"kernel": 3}, "Conv(3, dilation=2)": {"kernel": 3, "dilation": 2}, "Conv(1)": {"kernel": 1}}


def candidate_table(callee: Any) -> dict[str, tuple[Any, tuple[()], dict[str, int]]]:
    """The task layer's candidate table with `callee` (a framework's convolution) for each label."""
    return {label: (callee, (), dict(kwargs)) for label, kwargs in _CONVOLUTIONS.items()}


def task_space(block: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(TARGET, SEARCH_SPACE)` of the task's layer `h` in `block`: `Conv(3)` on the input `s2`."""
    target = {block: {"h": {"chosen_layer": "Conv(3)", "chosen_inputs": ["s2"]}}}
    space = {block: {"_type": "mutable_layer", "_value": {"h": {
        "layer_choice": list(_CONVOLUTIONS), "optional_inputs": ["s1", "s2"], "optional_input_size": [0, 1]}}}}
    return target, space


def summed(inputs: list[list[Any]]) -> Any:
    """A candidate's input in NNI's calling convention `[fixed, chosen]`: the fixed input plus each chosen one."""
    fixed, chosen = inputs
    h = fixed[0]
    for x in chosen:
        h = h + x
    return h

BackendFactory = Callable[..., Any]
"""`factory(options, seed=seed)` -> a `LayerBackend` of the mode (`resolve`, `training_update`, ...)."""


def run_layer(backend: Any, framework: str, block_key: str, layer_key: str, candidates: Any, fixed: list[Any],
              optional: dict[str, Any], size: Any, owner: Any) -> Any:
    """One call of a task's layer through the backend contract, as a trial runs it: `resolve` the
    layer, then call what it returns (a conforming backend builds nothing twice)."""
    request = LayerRequest(block_key, layer_key, candidates, fixed, optional, size, backend.mode, owner, framework)
    return backend.resolve(request)(candidates, fixed, optional)


@dataclass
class Run:
    """One search on the synthetic task: what the backend derived and what its candidates were.

    `candidates_before`/`candidates_after` map a candidate's key to the object the owner held after
    the first forward and at the end; `initial_weights` holds copies of each candidate's weights after
    the first forward, `final_weights` the same weights at the end (as numpy arrays), `weight_ids`
    their `id`s at the end; `trainable` is the set of `id`s of the weights the user's optimizer updates; `problems` are the mode's own
    findings (a darts weight on the wrong candidate, ...)."""

    derived: Any
    candidates_before: dict[str, Any]
    candidates_after: dict[str, Any]
    initial_weights: dict[str, list[Any]]
    final_weights: dict[str, list[Any]]
    weight_ids: dict[str, list[int]]
    trainable: set[int]
    problems: list[str] = field(default_factory=list)


def verify(framework: str, mode: str, run: Run, target: dict[str, Any], search_space: dict[str, Any],
           labels: list[str]) -> None:
    """Raise `BackendConformanceError` listing every property `run` breaks."""
    problems = list(run.problems)
    try:
        check_proposal(search_space, run.derived, "derived_architecture()")
    except TunerConformanceError as error:
        problems.append(f"the derived architecture is not an architecture of the task: {error}")
    else:
        if run.derived != target:
            problems.append(f"derived {run.derived} instead of the right candidate and input {target}")
    if len(run.candidates_before) != len(labels):
        problems.append(f"{len(run.candidates_before)} candidates were built on the first forward; expected "
                        f"{len(labels)}, one per label ({', '.join(labels)})")
    rebuilt = [k for k in run.candidates_before if run.candidates_after.get(k) is not run.candidates_before[k]]
    if rebuilt or set(run.candidates_after) != set(run.candidates_before):
        problems.append(f"the candidates were built again during the search ({', '.join(rebuilt) or 'new keys'}): "
                        "their weights are not shared across steps")
    for key, ids in run.weight_ids.items():
        if not set(ids) <= run.trainable:
            problems.append(f"candidate {key}'s weights are not among the model's trainable weights")
        initial, final = run.initial_weights[key], run.final_weights[key]
        if not final:
            problems.append(f"candidate {key} has no weights after the search: it never ran")
        # a lazily built layer (Keras) that did not run on the first forward has no initial weights
        elif len(initial) == len(final) and all((a == b).all() for a, b in zip(initial, final, strict=True)):
            problems.append(f"candidate {key}'s weights never changed: the steps did not train the shared weights")
    if problems:
        raise BackendConformanceError(f"{framework} {mode}: " + "; ".join(problems))
