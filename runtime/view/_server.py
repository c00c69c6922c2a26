"""The HTTP server of `nasctl view`: a static page, Plotly, and JSON read from the experiment databases.

Bound to 127.0.0.1 only, GET and HEAD only, and requests naming another host are refused (a page
elsewhere cannot reach the view through DNS rebinding). Nothing here writes to an experiment.

>>> server = ViewServer(Path("~/nas-experiments").expanduser(), port=0)   # doctest: +SKIP
>>> server.start(); print(server.url); server.close()                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.view import _data

__all__ = ["ViewServer", "plotly_js"]

HOST = "127.0.0.1"
_STATIC = {"index.html": "text/html; charset=utf-8", "view.js": "text/javascript; charset=utf-8",
           "view.css": "text/css; charset=utf-8"}


def plotly_js() -> Path:
    """`plotly.min.js` of the installed `plotly` package (served with the page: no CDN)."""
    try:
        import plotly
    except ImportError:
        raise ExperimentError("nasctl view draws with Plotly, which is not installed: pip install 'plotly>=5'") from None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ExperimentError(f"the installed plotly package lacks {path}; reinstall it: pip install 'plotly>=5'")
    return path


class ViewServer(ThreadingHTTPServer):
    """Serves the view of the experiments under `home` on 127.0.0.1:`port` (0: any free port).

    `experiment_id` is the experiment the page opens on (default: the newest).
    """

    daemon_threads = True

    def __init__(self, home: Path, *, port: int = 8080, experiment_id: str | None = None) -> None:
        self.home = Path(home)
        self.experiment_id = experiment_id
        self.plotly = plotly_js()
        self.summaries: dict[str, Any] = {}  # experiment_list's cache: the page polls it
        self._thread: threading.Thread | None = None
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as error:
            raise ExperimentError(f"nasctl view: cannot listen on {HOST}:{port} ({error.strerror}); "
                                  "choose another with --port") from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> None:
        """Serve on a background thread (until `close()`)."""
        self._thread = threading.Thread(target=self.serve_forever, name="nasctl-view", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass  # a page that polls every few seconds would flood the terminal

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._respond(head=False)

    def _method_not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only view: GET only\n", "text/plain; charset=utf-8",
                   head=False, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed  # noqa: N815

    def _respond(self, *, head: bool) -> None:
        port = self.server.port
        if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
            self._send(HTTPStatus.FORBIDDEN, b"unknown Host\n", "text/plain; charset=utf-8", head=head)
            return
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(part) for part in path.strip("/").split("/") if part]
        if not parts:
            parts = ["static", "index.html"]
        if parts[0] == "api":
            self._api(parts[1:], head)
        elif parts[0] == "static" and len(parts) == 2:
            self._static(parts[1], head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)

    def _static(self, name: str, head: bool) -> None:
        if name == "plotly.min.js":
            body = self.server.plotly.read_bytes()
            self._send(HTTPStatus.OK, body, "text/javascript; charset=utf-8", head=head,
                       extra={"Cache-Control": "max-age=86400"})
            return
        if name not in _STATIC:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)
            return
        body = resources.files("nasctl.runtime.view").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, body, _STATIC[name], head=head)

    def _api(self, parts: list[str], head: bool) -> None:
        home = self.server.home
        try:
            if parts == ["config"]:
                data: Any = {"experiment": self.server.experiment_id, "home": str(home)}
            elif parts == ["experiments"]:
                data = _data.experiment_list(home, self.server.summaries)
            elif len(parts) == 2 and parts[0] == "experiments":
                data = _data.experiment_detail(home, parts[1])
            elif len(parts) == 4 and parts[0] == "experiments" and parts[2] == "trials":
                data = _data.trial_detail(home, parts[1], parts[3])
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: /api/{'/'.join(parts)}"}, head)
                return
        except ExperimentError as error:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(error)}, head)
            return
        except Exception as error:  # a database caught mid-write, say: the page shows it and polls again
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"}, head)
            return
        self._json(HTTPStatus.OK, data, head)

    def _json(self, status: HTTPStatus, data: Any, head: bool) -> None:
        try:
            text = json.dumps(data, allow_nan=False, default=str)
        except ValueError:  # a NaN or infinity somewhere: JSON has none, the page shows a gap
            text = json.dumps(_finite(data), allow_nan=False, default=str)
        body = text.encode("utf-8")
        self._send(status, body, "application/json", head=head, extra={"Cache-Control": "no-store"})

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *, head: bool,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
