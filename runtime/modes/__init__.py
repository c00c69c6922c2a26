"""Layer backends: what a compiled `mutable_layer` call does in each (framework, mode).

The compiler fixes the mode in each layer call; the runtime resolves the call once per
(owner, block key, layer key) through this registry and caches what the backend returns, so the
per-call path is a dict lookup plus the backend's call.

The backend contract (`LayerBackend`), in the order the trial context calls it:

1. `Backend.for_trial(context)`: once per trial context and registry entry, on the first layer that
   needs it: `Backend(context.mode_options(mode), seed=<the trial's seed>)`, then `attach(context)`
   (the hooks; the trial's architecture if it has one). A test makes one by hand,
   `Backend(options, seed=...)`, and drives it without a trial.
2. `resolve(layer: LayerRequest) -> LayerCall`: once per layer and owner (and again after new
   parameters). `layer` carries the block and layer keys, the first call's candidate table
   (`{label: (callee, args, kwargs)}`), inputs, `optional_input_size`, mode, owner and detected
   framework. `context.layer_choice(layer)` gives the architecture's `(label, chosen inputs)`,
   checked; `context.candidate_registry(framework, factory)` is where candidates without an owner
   go. Candidate classes are built once and registered on the owner under `nas_candidates`,
   keyed by `candidate_key(block, layer, index)`. The returned function is called on every forward
   as `call(candidates, fixed_inputs, optional_inputs)` and returns the layer's output.
3. `set_architecture(parameters)`: the trial received a new parameter set (classic: the
   architecture; enas: the next subgraph); the cached layer calls are dropped after it, so `resolve`
   runs again on the next forward.
4. `training_update(**kwargs)`: `nas.training_update(...)` (enas: fetch a subgraph; darts: step
   the architecture weights). `arch_parameters()`: the architecture weights (darts; else `[]`).
5. `derived_architecture() -> dict | None`: asked when the trial reports a final result; a dict is
   reported (`report_architecture`) before the result. None means nothing to report: no layer ran,
   oneshot before `derive(evaluate)`, classic always. Then `on_final_result(value)` (enas: the
   reward of the current subgraph).
6. `close()`: the context is closing.

`CONTRACT` lists these methods; the backend kit (`nasctl.runtime.modes.testing.check_contract`)
checks every registered backend against it. A backend is registered with
`register_backend(framework, mode, cls_or_"module:Class")`; framework None serves any framework that
has no entry of its own. The framework of a layer is detected from its owner, candidate classes or
inputs (`detect_framework`), without importing a framework. Built in, one file per (framework, mode):
`_classic.py` (None, classic), `torch/_classic.py`, `torch/_enas.py`, `torch/_oneshot.py`,
`torch/_darts.py`, `tensorflow/_classic.py`, `tensorflow/_enas.py`, `tensorflow/_oneshot.py`,
`tensorflow/_darts.py`. A mode with no backend is a TrialError naming it.

This package never imports `nasctl.runtime.trial` (which depends on it): what a backend uses of the
trial goes through `nasctl.runtime._host` (`TrialHost`, the current trial).
"""

from __future__ import annotations

from nasctl.runtime.modes._backend import (
    CONTRACT,
    CandidateTable,
    FrameworkBackend,
    LayerBackend,
    LayerCall,
    LayerRequest,
)
from nasctl.runtime.modes._classic import ClassicBackend, candidate_key
from nasctl.runtime.modes._registry import (
    FRAMEWORKS,
    backend_class,
    detect_framework,
    has_mode,
    normalize_mode,
    register_backend,
    registered,
    registered_modes,
)
from nasctl.runtime.modes._warmup import Warmup

__all__ = [
    "CONTRACT",
    "FRAMEWORKS",
    "CandidateTable",
    "ClassicBackend",
    "FrameworkBackend",
    "LayerBackend",
    "LayerCall",
    "LayerRequest",
    "backend_class",
    "candidate_key",
    "detect_framework",
    "has_mode",
    "normalize_mode",
    "register_backend",
    "registered",
    "registered_modes",
    "Warmup",
]
