"""TensorFlow backends of the four modes: Keras/eager (TF2) and graph-mode `tf.compat.v1` trial code.

Importing this package does not import TensorFlow: the backends are loaded on first use (the
registry table, `nasctl.runtime.modes._registry`, names them as `"module:Class"`). Each mode is one
file: `_classic.py`, `_enas.py`, `_oneshot.py`, `_darts.py`, over the base in `_backend.py`.

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
    "ClassicBackend": "nasctl.runtime.modes.tensorflow._classic",
    "EnasBackend": "nasctl.runtime.modes.tensorflow._enas",
    "OneShotBackend": "nasctl.runtime.modes.tensorflow._oneshot",
    "DartsBackend": "nasctl.runtime.modes.tensorflow._darts",
    "graph_training_flag": "nasctl.runtime.modes.tensorflow._backend",
    "ARCH_COLLECTION": "nasctl.runtime.modes.tensorflow._backend",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
