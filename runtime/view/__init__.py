"""`nasctl view`: a local, read-only web page of the experiments (trials, curves, best architecture).

>>> from nasctl.runtime.view import ViewServer
>>> server = ViewServer(nas_home(), port=0); server.start()   # doctest: +SKIP
>>> server.url                                                 # doctest: +SKIP
'http://127.0.0.1:40123/'
"""

from __future__ import annotations

from nasctl.runtime.view._data import arch_weight_series, experiment_detail, experiment_list, trial_detail
from nasctl.runtime.view._server import ViewServer, plotly_js

__all__ = ["ViewServer", "arch_weight_series", "experiment_detail", "experiment_list", "plotly_js", "trial_detail"]
