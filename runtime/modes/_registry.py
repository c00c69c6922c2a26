"""The `(framework, mode)` registry of layer backends, and how a layer's framework is detected."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._backend import LayerBackend

from nasctl.searchspace import normalize_mode

# (framework, mode) -> backend class or "module:Class" (imported on first use, so that registering a
# torch backend never imports torch). framework None: a backend for any framework.
_BACKENDS: dict[tuple[str | None, str], type[LayerBackend] | str] = {
    (None, "classic"): "nasctl.runtime.modes._classic:ClassicBackend",
    ("torch", "classic"): "nasctl.runtime.modes._torch_classic:TorchClassicBackend",
    ("torch", "enas"): "nasctl.runtime.modes._adapter:TorchEnasBackend",
    ("torch", "oneshot"): "nasctl.runtime.modes._adapter:TorchOneshotBackend",
    ("torch", "darts"): "nasctl.runtime.modes._adapter:TorchDartsBackend",
    # runtime.modes.tensorflow.ENTRIES, spelled out here so that the registry imports nothing.
    ("tensorflow", "classic"): "nasctl.runtime.modes.tensorflow._plugin:TensorFlowClassic",
    ("tensorflow", "enas"): "nasctl.runtime.modes.tensorflow._plugin:TensorFlowEnas",
    ("tensorflow", "oneshot"): "nasctl.runtime.modes.tensorflow._plugin:TensorFlowOneShot",
    ("tensorflow", "darts"): "nasctl.runtime.modes.tensorflow._plugin:TensorFlowDarts",
}

FRAMEWORKS = ("torch", "tensorflow")


def register_backend(framework: str | None, mode: str, backend: type[LayerBackend] | str) -> None:
    """Make `backend` (a `LayerBackend` subclass or `"module:Class"`) serve `mode` for `framework`.

    `framework` is `"torch"`, `"tensorflow"` or None (any framework). A later registration of the
    same pair replaces the earlier one.
    """
    if framework is not None and framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)} or None")
    _BACKENDS[(framework, normalize_mode(mode, known=None))] = backend


def registered_modes() -> list[str]:
    """The modes that have at least one backend."""
    return sorted({mode for _, mode in _BACKENDS})


def has_mode(mode: str) -> bool:
    """Whether some framework has a backend for `mode`."""
    return normalize_mode(mode, known=None) in registered_modes()


def backend_class(framework: str | None, mode: str) -> type[LayerBackend]:
    """The backend class for a layer of `framework` in `mode`: the exact pair, else `(None, mode)`.

    Raises `TrialError` naming the mode when none is registered.
    """
    mode = normalize_mode(mode, known=None)
    key = (framework, mode) if (framework, mode) in _BACKENDS else (None, mode)
    entry = _BACKENDS.get(key)
    if entry is None:
        where = f" for {framework}" if framework else ""
        raise TrialError(
            f"nas mode '{mode}' is not available{where}: no backend is registered for it "
            f"(available modes: {', '.join(registered_modes())})"
        )
    if isinstance(entry, str):
        module_name, _, name = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), name)
        _BACKENDS[key] = entry
    return entry


def _is_subclass(value: Any, base: type | None) -> bool:
    return base is not None and isinstance(value, type) and issubclass(value, base)


def detect_framework(owner: Any, callees: Iterable[Any], inputs: Iterable[Any]) -> str | None:
    """The framework of a layer, from its owner, its candidate classes or its input values.

    Only frameworks the trial has already imported are considered, so detection never imports one.
    """
    callees = list(callees)
    inputs = list(inputs)
    torch = sys.modules.get("torch")
    if torch is not None:
        module = torch.nn.Module
        if (isinstance(owner, module) or any(_is_subclass(c, module) for c in callees)
                or any(isinstance(v, torch.Tensor) for v in inputs)):
            return "torch"
    keras = sys.modules.get("keras")
    layer = getattr(getattr(keras, "layers", None), "Layer", None)
    tf = sys.modules.get("tensorflow")
    if (layer is not None and (isinstance(owner, layer) or any(_is_subclass(c, layer) for c in callees))) or (
        tf is not None and any(tf.is_tensor(v) for v in inputs)
    ):
        return "tensorflow"
    return None
