"""TensorFlow backends of the four modes: Keras/eager (TF2) and graph-mode `tf.compat.v1` trial code.

Importing this package does not import TensorFlow: the backends are loaded on first use (the
`(tensorflow, mode)` registry names them as `"module:Class"`).

```python
from nasctl.runtime.modes.tensorflow import DartsBackend
backend = DartsBackend({"sampler": "gumbel"}, seed=0)
y = backend.layer("m/f/h", "h", {"Dense(4)": (keras.layers.Dense, (4,), {})}, [x], {}, 0, owner=model)
backend.training_update(loss=lambda: val_loss())
```
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TensorFlowBackend": "nasctl.runtime.modes.tensorflow._backend",
    "ClassicBackend": "nasctl.runtime.modes.tensorflow._backend",
    "EnasBackend": "nasctl.runtime.modes.tensorflow._enas",
    "OneShotBackend": "nasctl.runtime.modes.tensorflow._oneshot",
    "DartsBackend": "nasctl.runtime.modes.tensorflow._darts",
    "graph_training_flag": "nasctl.runtime.modes.tensorflow._backend",
    "ARCH_COLLECTION": "nasctl.runtime.modes.tensorflow._backend",
    "TensorFlowLayerBackend": "nasctl.runtime.modes.tensorflow._plugin",
}

#: mode -> the `(tensorflow, mode)` registry entry, named so that registering imports nothing.
ENTRIES = {
    "classic": "nasctl.runtime.modes.tensorflow._plugin:TensorFlowClassic",
    "enas": "nasctl.runtime.modes.tensorflow._plugin:TensorFlowEnas",
    "oneshot": "nasctl.runtime.modes.tensorflow._plugin:TensorFlowOneShot",
    "darts": "nasctl.runtime.modes.tensorflow._plugin:TensorFlowDarts",
}

__all__ = sorted([*_EXPORTS, "ENTRIES", "register"])


def register() -> None:
    """Make the TensorFlow backends serve `(tensorflow, mode)` for the four modes (imports no framework)."""
    from nasctl.runtime.modes._registry import register_backend

    for mode, entry in ENTRIES.items():
        register_backend("tensorflow", mode, entry)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
