"""Layer backends: what a compiled `mutable_layer` call does in each (framework, mode).

The compiler fixes the mode in each layer call; the runtime resolves the call once per
(owner, block key, layer key) through this registry and caches what the backend returns, so the
per-call path is a dict lookup plus the backend's call.

The backend interface (`LayerBackend`), in the order the runtime calls it during a trial:

1. `Backend(context)`: once per trial context and registry entry, on the first layer that needs it.
   `context.mode_options(mode)` gives the mode's options from `NAS_MODE_CONFIG`.
2. `resolve(layer: LayerRequest) -> LayerCall`: once per layer and owner (and again after new
   parameters). `layer` carries the block and layer keys, the first call's candidate table
   (`{label: (callee, args, kwargs)}`), inputs, `optional_input_size`, mode, owner and detected
   framework. `context.layer_choice(layer)` gives the architecture's `(label, chosen inputs)`,
   checked; `context.candidate_registry(framework, factory)` is where candidates without an owner
   go. Candidate classes are built once and registered on the owner under `nas_candidates`,
   keyed by `candidate_key(block, layer, index)`. The returned function is called on every forward
   as `call(candidates, fixed_inputs, optional_inputs)` and returns the layer's output.
3. `on_parameters(parameters)`: the trial received a new parameter set (enas: the next subgraph);
   the cached layer calls are dropped after it, so `resolve` runs again on the next forward.
4. `training_update(**kwargs)`: `nas.training_update(...)` (enas: fetch a subgraph; darts: step
   the architecture weights).
5. `derive_architecture() -> dict | None`: asked when the trial reports its final result; a dict
   is reported (`report_architecture`) before the final result. Then `on_final_result(value)`
   (enas: the reward of the current subgraph).
6. `close()`: the context is closing.

A backend is registered with `register_backend(framework, mode, cls_or_"module:Class")`; framework
None serves any framework that has no entry of its own. The framework of a layer is detected from its
owner, candidate classes or inputs (`detect_framework`), without importing a framework.
Built in: classic, for any framework (`ClassicBackend`) and for torch (`TorchClassicBackend`:
`nn.ModuleDict` registration, device placement, the optimizer-before-first-forward check). The
backends of `nasctl.runtime.modes.torch` (enas, oneshot, darts) have their own object shape
(`Backend(options, seed=)`, `layer(...)`, hook attributes); `ForeignBackend` (`_adapter.py`) wraps
them as registry entries. `nasctl.runtime.modes.tensorflow` brings its own entries (classic, enas, oneshot,
darts; `nasctl.runtime.modes.tensorflow.ENTRIES`), listed in the built-in table. A mode with no backend is a
TrialError naming it. `context.mode_options(mode)` gives a backend its options.
"""

from __future__ import annotations

from nasctl.runtime.modes._backend import CandidateTable, LayerBackend, LayerCall, LayerRequest
from nasctl.runtime.modes._classic import ClassicBackend, candidate_key
from nasctl.runtime.modes._registry import (
    FRAMEWORKS,
    backend_class,
    detect_framework,
    has_mode,
    normalize_mode,
    register_backend,
    registered_modes,
)
from nasctl.runtime.modes._warmup import Warmup

__all__ = [
    "FRAMEWORKS",
    "CandidateTable",
    "ClassicBackend",
    "LayerBackend",
    "LayerCall",
    "LayerRequest",
    "backend_class",
    "candidate_key",
    "detect_framework",
    "has_mode",
    "normalize_mode",
    "register_backend",
    "registered_modes",
    "Warmup",
]
