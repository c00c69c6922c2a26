"""`nas.nn`: PyTorch modules whose sizes are search-space choices (imports torch; `import nas` does not).

>>> import nas, nas.nn
>>> fc = nas.nn.Linear(16, nas.choice(8, 16, 32, key="m/fc/width"))  # doctest: +SKIP

`Linear`, `Embedding` and `MLP` are exact in classic mode and share one max-size weight in the
one-shot modes (masks in darts, slices in oneshot and enas); see `nasctl.runtime.modes.torch._elastic`.
"""

from __future__ import annotations

from nasctl.runtime.modes.torch._elastic import MLP, Embedding, Linear

__all__ = ["MLP", "Embedding", "Linear"]
