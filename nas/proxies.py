"""`nas.proxies`: zero-cost proxies of a (sub)network on a few batches (see `nasctl.runtime.proxies`).

Imported on its own (`from nas import proxies`), so `import nas` stays free of torch.
"""

from __future__ import annotations

from nasctl.runtime.proxies import *  # noqa: F403
from nasctl.runtime.proxies import __all__  # noqa: F401
