"""Trial-side functions of the one-shot modes, for every framework: `arch_parameters()`, `derive_architecture()`.

They work on the current trial context's backends and never import a framework themselves, so the
`nas` facade can expose them lazily. Any backend object with the same hooks (the tensorflow package's
too) is served: `arch_parameters()`, `derive(evaluate, budget, search, maximize=)`,
`derived_architecture()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from nasctl.runtime.errors import ArchitectureError, TrialError

from nasctl.searchspace import input_size_bounds


def _engines(context: Any) -> Iterator[Any]:
    for backend in context.backends:
        engine = getattr(backend, "inner", backend)
        if getattr(engine, "mode", getattr(backend, "mode", "classic")) != "classic":
            yield engine


def _context(context: Any) -> Any:
    if context is not None:
        return context
    from nasctl.runtime.trial._context import current_context

    return current_context()


def arch_parameters(context: Any = None) -> list[Any]:
    """The architecture weights of the trial's layers (darts); `[]` in modes without any.

    They are kept out of `model.parameters()`; a script that wants its own architecture optimizer
    builds it over this list (and then need not call `training_update`).
    """
    params: list[Any] = []
    for engine in _engines(_context(context)):
        hook = getattr(engine, "arch_parameters", None)
        if callable(hook):
            params.extend(hook())
    return params


def derive_architecture(
    evaluate: Callable[[], float] | None = None,
    budget: int | None = None,
    search: str | None = None,
    *,
    maximize: bool | None = None,
    lam: float | None = None,
    context: Any = None,
) -> dict[str, Any]:
    """The architecture this trial derives, in the format of DESIGN.md §3, variables included.

    - oneshot: scores subnets with the shared weights through `evaluate()` (no argument, returns a
      number, higher is better unless `maximize=False` or `oneshot: {optimize_mode: minimize}`);
      `budget` and `search` (`"random"` or `"evolution"`) default to the `oneshot:` options.
    - darts: the argmax of the architecture weights; enas: the best-rewarded subgraph
      (`evaluate` is not needed and not called).
    - classic: the trial's current architecture, so one script runs in every mode.
    - darts with `complexity.hypernet`: `lam`, the normalised complexity parameter in [0, 1] (0: the
      low end of `darts.complexity.lambda`, 1: the high end), picks the budget: the argmax of
      alpha(lambda) there (default 0.5). The last `lam` given is also what the trial reports.

    The result is also what the trial reports as its derived architecture with its final result, so
    call this before `report_final_result`.
    """
    from nasctl.runtime.trial._context import use_context

    ctx = _context(context)
    derived: dict[str, Any] = {}
    engines = list(_engines(ctx))
    if lam is not None and not any(getattr(engine, "hypernet", None) is not None for engine in engines):
        raise TrialError("derive_architecture(lam=...) derives at a complexity budget, which needs darts mode "
                         "with darts.complexity.hypernet (alpha as a function of lambda)")
    for engine in engines:
        derive = getattr(engine, "derive", None)
        if callable(derive):
            if evaluate is None or not callable(evaluate):
                raise TrialError("oneshot mode: derive_architecture(evaluate) needs evaluate, a function "
                                 "without arguments that scores the current subnet on validation data")
            with use_context(ctx):  # evaluate() runs the model's layers in this trial's context
                derived.update(derive(evaluate, budget, search, maximize=maximize))
        elif getattr(engine, "specs", None):
            found = (engine.derived_architecture(lam=lam) if getattr(engine, "hypernet", None) is not None
                     else engine.derived_architecture())
            if found:
                derived.update(found)
    parameters = ctx.current_parameters()
    result = {key: value for key, value in parameters.items() if key not in derived}
    result.update(derived)
    return result


def sample_architectures(
    arch_weights: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
    search_space: Mapping[str, Any],
    count: int,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """`count` architectures drawn from a darts trial's learned distribution, for retraining.

    `arch_weights` is what a darts trial reports in its `arch_weights` metrics (`"arch_weights"`:
    `{block: {layer: {"layer": {label: p}, "inputs": {label: gate}}}}`); `search_space` gives each
    layer's `optional_input_size`. Per layer: a candidate drawn with probability `p`, each optional
    input kept with probability `gate`, the number kept then clamped to the size range (the most
    likely inputs fill up or stay). Uses numpy only (`nasctl experiment export --sample K`).
    """
    import numpy as np

    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TrialError(f"sample_architectures: count must be a positive int, got {count!r}")
    rng = np.random.default_rng(seed)
    samples: list[dict[str, Any]] = []
    for _ in range(count):
        arch: dict[str, Any] = {}
        for block, layers in arch_weights.items():
            entry = search_space.get(block, {})
            if entry.get("_type") == "choice" and isinstance(layers.get("choice"), Mapping):
                options = list(entry["_value"])  # a relaxed variable: its labels were written as strings
                probs = np.asarray([float(layers["choice"].get(str(o), 0.0)) for o in options], dtype=float)
                arch[block] = options[int(rng.choice(len(options), p=probs / probs.sum()))]
                continue
            spec_block = entry.get("_value")
            if not isinstance(spec_block, Mapping):
                raise ArchitectureError("the learned weights name a block the search space lacks", block)
            for layer, weights in layers.items():
                spec = spec_block.get(layer)
                if not isinstance(spec, Mapping):
                    raise ArchitectureError(f"no layer '{layer}' in the search space", block)
                labels = list(weights["layer"])
                probs = np.asarray([weights["layer"][label] for label in labels], dtype=float)
                chosen = labels[int(rng.choice(len(labels), p=probs / probs.sum()))]
                inputs = list(spec.get("optional_inputs", []))
                low, high = input_size_bounds(spec.get("optional_input_size", 0), len(inputs), block, layer)
                gates = [float(weights.get("inputs", {}).get(name, 1.0)) for name in inputs]
                kept = [rng.random() < g for g in gates]
                # Kept inputs rank first, by gate; the clamp to [low, high] takes from the top.
                order = sorted(range(len(inputs)), key=lambda i: (not kept[i], -gates[i], i))
                number = min(max(sum(kept), low), high)
                arch.setdefault(block, {})[layer] = {
                    "chosen_layer": chosen,
                    "chosen_inputs": [inputs[i] for i in sorted(order[:number])],
                }
        samples.append(arch)
    return samples
