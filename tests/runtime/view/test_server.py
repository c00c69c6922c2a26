"""The view's HTTP server: what it serves, and what it refuses."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from nasctl.runtime.view import ViewServer, plotly_js


@pytest.fixture
def server(finished: Any) -> Iterator[ViewServer]:
    view = ViewServer(finished.home, port=0, experiment_id=finished.id)
    view.start()
    yield view
    view.close()


def _get(server: ViewServer, path: str, *, method: str = "GET", host: str | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": host} if host else {}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_it_listens_on_the_loopback_only(server: ViewServer) -> None:
    assert server.server_address[0] == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}/"


def test_the_page_its_scripts_and_plotly_are_served(server: ViewServer) -> None:
    status, headers, body = _get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/static/plotly.min.js" in body
    status, _, body = _get(server, "/static/view.js")
    assert status == 200 and b"/api/experiments" in body
    status, _, body = _get(server, "/static/plotly.min.js")
    assert status == 200 and body == plotly_js().read_bytes()
    assert _get(server, "/static/../_server.py")[0] == 404
    assert _get(server, "/nothing")[0] == 404


def test_the_json_endpoints(server: ViewServer, finished: Any) -> None:
    status, headers, body = _get(server, "/api/config")
    assert status == 200 and json.loads(body)["experiment"] == finished.id
    assert headers["Cache-Control"] == "no-store"
    assert [e["id"] for e in json.loads(_get(server, "/api/experiments")[2])] == [finished.id]
    detail = json.loads(_get(server, f"/api/experiments/{finished.id}")[2])
    assert [t["trial_id"] for t in detail["trials"]] == finished.trial_ids
    trial = json.loads(_get(server, f"/api/experiments/{finished.id}/trials/{finished.trial_ids[1]}")[2])
    assert trial["trial_id"] == finished.trial_ids[1] and trial["arch_weights"]["steps"] == [5, 10, 15]


def test_unknown_things_get_a_message(server: ViewServer, finished: Any) -> None:
    status, _, body = _get(server, "/api/experiments/nosuch")
    assert status == 404 and "no experiment 'nosuch'" in json.loads(body)["error"]
    status, _, body = _get(server, f"/api/experiments/{finished.id}/trials/zzz")
    assert status == 404 and "no trial 'zzz'" in json.loads(body)["error"]
    status, _, body = _get(server, "/api/whatever")
    assert status == 404 and "no such endpoint: /api/whatever" in json.loads(body)["error"]


def test_it_is_read_only_and_refuses_other_hosts(server: ViewServer) -> None:
    status, headers, _ = _get(server, "/api/experiments", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert _get(server, "/api/experiments", method="DELETE")[0] == 405
    assert _get(server, "/", host="evil.example:80")[0] == 403  # DNS rebinding
    assert _get(server, "/", host=f"localhost:{server.port}")[0] == 200
    status, _, body = _get(server, "/", method="HEAD")
    assert status == 200 and body == b""


def test_a_busy_port_is_a_clear_error(finished: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, NAS_HOME=str(finished.home))
        out = subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", "view", "--port", str(port)],
                             capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr


def test_the_command_names_an_unknown_experiment(finished: Any) -> None:
    env = dict(os.environ, NAS_HOME=str(finished.home))
    out = subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", "view", "nosuch"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "no experiment 'nosuch'" in out.stderr
