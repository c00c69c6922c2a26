"""The channel's TCP form (Ray trials): served like the Unix socket, same tokens, same limits."""

from __future__ import annotations

import json
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import ChannelError, ExperimentError
from nasctl.runtime.manager._channel import ChannelServer
from nasctl.runtime.trial._channel import ChannelClient


class _Server:
    def __init__(self, path: Path, host: str, advertised: str | None = None) -> None:
        self.selector = selectors.DefaultSelector()
        self.served: list[dict[str, Any]] = []
        self.server = ChannelServer(path, self.selector, self._handle, lambda t: "s3cret" if t == "t1" else None)
        self.server.start()
        self.address = self.server.listen_tcp(host, advertised)
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        self.served.append(request)
        return {"type": "parameter", "parameter_id": 7, "parameters": {"x": 1}} \
            if request["type"] == "get_parameter" else {"type": "ack"}

    def _loop(self) -> None:
        while self.running:
            for key, mask in self.selector.select(0.05):
                key.data(mask)

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    running = _Server(tmp_path / "channel.sock", "127.0.0.1")
    yield running
    running.stop()


def test_tcp_address_names_the_bound_host_and_port(server: _Server) -> None:
    host, _, port = server.address.removeprefix("tcp:").rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    with socket.create_connection((host, int(port)), timeout=10):
        pass


def test_trial_client_speaks_over_tcp(server: _Server) -> None:
    client = ChannelClient(server.address, "s3cret", "t1")
    try:
        reply = client.request("get_parameter")
        assert reply["parameter_id"] == 7 and reply["parameters"] == {"x": 1}
        assert client.request("metric", kind="final", value=0.5, parameter_id=7)["type"] == "ack"
    finally:
        client.close()
    assert [request["type"] for request in server.served] == ["get_parameter", "metric"]


def test_tcp_refuses_a_wrong_token_and_an_unknown_trial(server: _Server) -> None:
    with pytest.raises(ChannelError, match="wrong or missing token"):
        ChannelClient(server.address, "forged", "t1").request("get_parameter")
    with pytest.raises(ChannelError, match="unknown trial id 't9'"):
        ChannelClient(server.address, "s3cret", "t9").request("get_parameter")
    assert server.served == [] and server.server.refused == 2


def test_tcp_has_the_unix_socket_line_limit(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasctl.runtime.manager import _channel

    monkeypatch.setattr(_channel, "MAX_LINE", 1024)
    host, _, port = server.address.removeprefix("tcp:").rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"x" * 4096)
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["type"] == "error" and "request line longer than" in reply["message"]


def test_wildcard_listens_everywhere_but_advertises_the_given_host(tmp_path: Path) -> None:
    running = _Server(tmp_path / "channel.sock", "0.0.0.0", advertised="127.0.0.1")
    try:
        assert running.address.startswith("tcp:127.0.0.1:")
        client = ChannelClient(running.address, "s3cret", "t1")
        assert client.request("get_parameter")["parameter_id"] == 7
        client.close()
    finally:
        running.stop()


def test_ipv6_address_is_bracketed(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        running = _Server(tmp_path / "channel.sock", "::1")
    except ExperimentError as error:
        pytest.skip(f"::1 is not usable here: {error}")
    try:
        assert running.address.startswith("tcp:[::1]:")
        client = ChannelClient(running.address, "s3cret", "t1")
        assert client.request("get_parameter")["type"] == "parameter"
        client.close()
    finally:
        running.stop()


def test_a_host_that_is_not_ours_is_a_clear_error(tmp_path: Path) -> None:
    selector = selectors.DefaultSelector()
    server = ChannelServer(tmp_path / "channel.sock", selector, lambda r: {"type": "ack"}, lambda t: "s3cret")
    server.start()
    try:
        with pytest.raises(ExperimentError, match=r"cannot listen for trials on 198\.51\.100\.250:0: .*channelHost"):
            server.listen_tcp("198.51.100.250")
    finally:
        server.close()
        selector.close()
