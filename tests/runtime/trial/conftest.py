"""Fixtures of the trial runtime tests: a standalone context, and a fake experiment channel server."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nasctl.runtime.trial import StandalonePlatform, TrialContext


@pytest.fixture
def standalone(make_current: Callable[[TrialContext], TrialContext]) -> Callable[..., TrialContext]:
    """`standalone(architecture=None, seed=0, search_space=None)`: a current standalone context."""

    def make(architecture: dict | None = None, seed: int = 0, search_space: dict | None = None) -> TrialContext:
        platform = StandalonePlatform(architecture=architecture, search_space=search_space, seed=seed)
        return make_current(TrialContext(platform))

    return make


class FakeServer:
    """A channel server answering each request with `handler(request)`; records what it received."""

    def __init__(self, handler: Callable[[dict[str, Any]], dict[str, Any] | None], family: str) -> None:
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server.connections += 1
                for line in self.rfile:
                    request = json.loads(line)
                    server.requests.append(request)
                    reply = server.handler(request)
                    if reply is None:  # the experiment dies
                        return
                    self.wfile.write(json.dumps(reply).encode() + b"\n")

        if family == "unix":
            # AF_UNIX paths are limited to ~108 bytes; pytest's tmp_path can be longer.
            self._dir = tempfile.mkdtemp(prefix="nas-")
            path = os.path.join(self._dir, "channel.sock")
            self.server: socketserver.BaseServer = socketserver.ThreadingUnixStreamServer(path, Handler)
            self.address = f"unix:{path}"
        else:
            self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
            self.address = f"tcp:127.0.0.1:{self.server.server_address[1]}"
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dispatcher(parameters: list[dict[str, Any]], token: str = "secret") -> Callable[[dict[str, Any]], dict]:
    """A handler that behaves like the experiment's dispatcher for one trial."""
    queue = list(parameters)

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        seq = request.get("seq")
        if request.get("token") != token:
            return {"type": "error", "seq": seq, "message": "wrong token"}
        if request["type"] == "get_parameter":
            if not queue:
                return {"type": "no_more_parameters", "seq": seq}
            return {"type": "parameter", "seq": seq, "parameter_id": len(parameters) - len(queue),
                    "parameters": queue.pop(0)}
        return {"type": "ack", "seq": seq}

    return handle


@pytest.fixture
def dispatcher() -> Callable[..., Callable[[dict[str, Any]], dict]]:
    """`dispatcher(parameters, token="secret")`: a handler acting as the experiment's dispatcher."""
    return _dispatcher


@pytest.fixture(params=["unix", "tcp"])
def fake_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., FakeServer]]:
    """`fake_server(handler)`: a running fake channel server on a Unix socket and on TCP."""
    servers: list[FakeServer] = []

    def make(handler: Callable[[dict[str, Any]], dict[str, Any] | None]) -> FakeServer:
        server = FakeServer(handler, request.param)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def free_tcp_address() -> str:
    """A TCP address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp:127.0.0.1:{port}"
