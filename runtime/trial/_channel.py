"""The trial's side of the channel: one persistent connection, one request at a time, each answered.

docs/internals.md, "The channel": newline-delimited JSON over a Unix domain socket (`unix:/path`) or
TCP (`tcp:host:port`); every request carries `token`, `trial_id`, `type` and an increasing `seq`,
and the reply echoes `seq`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any

from nasctl.runtime.errors import ChannelError

__all__ = ["ChannelClient", "parse_address"]


def parse_address(address: str) -> tuple[int, Any]:
    """`unix:/path` or `tcp:host:port` as `(socket family, socket address)`."""
    scheme, _, rest = address.partition(":")
    if scheme == "unix" and rest:
        return socket.AF_UNIX, rest
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, (host.strip("[]"), int(port))
    raise ChannelError(f"NAS_CHANNEL={address!r}: expected 'unix:/path/to/socket' or 'tcp:host:port'")


class ChannelClient:
    """A connection to the experiment's dispatcher; `request(type, **fields)` returns the reply.

    Connects on the first request. Thread-safe; a forked child opens its own connection.
    """

    def __init__(self, address: str, token: str, trial_id: str, *, connect_timeout: float = 30.0) -> None:
        self.address = address
        self._family, self._sockaddr = parse_address(address)
        self._token = token
        self._trial_id = trial_id
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._reader: Any = None
        self._pid = 0
        self._seq = 0

    def _connect(self) -> None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._connect_timeout)
            sock.connect(self._sockaddr)
        except OSError as error:
            sock.close()
            raise ChannelError(
                f"cannot reach the experiment at {self.address} (NAS_CHANNEL): {error.strerror or error}; "
                "the experiment is gone or was stopped") from None
        # A reply may take as long as the tuner needs; the connection itself is checked above.
        sock.settimeout(None)
        if self._family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = sock
        self._reader = sock.makefile("rb")
        self._pid = os.getpid()
        self._seq = 0

    def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; ChannelError if refused or the experiment is gone."""
        with self._lock:
            if self._socket is None or self._pid != os.getpid():
                self._connect()
            seq = self._seq
            self._seq += 1
            message = {"token": self._token, "trial_id": self._trial_id, "type": type_, "seq": seq, **fields}
            try:
                data = json.dumps(message).encode("utf-8") + b"\n"
            except (TypeError, ValueError) as error:
                raise ChannelError(f"cannot send a '{type_}' message: not JSON: {error}") from None
            try:
                self._socket.sendall(data)  # type: ignore[union-attr]
                line = self._reader.readline()
            except OSError as error:
                self._drop()
                raise ChannelError(f"lost the connection to the experiment at {self.address} during a "
                                   f"'{type_}' request: {error}; the experiment is gone or was stopped") from None
            if not line:
                self._drop()
                raise ChannelError(f"the experiment closed the channel {self.address} during a '{type_}' "
                                   "request; it is gone or was stopped")
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise ChannelError(f"the experiment sent a reply that is not JSON: {line[:200]!r}") from None
        if not isinstance(reply, dict):
            raise ChannelError(f"the experiment sent a reply that is not a JSON object: {reply!r}")
        if reply.get("type") == "error":
            raise ChannelError(f"the experiment refused the '{type_}' request (trial {self._trial_id}): "
                               f"{reply.get('message', 'no reason given')}")
        if reply.get("seq") != seq:
            raise ChannelError(f"the experiment answered request {seq} with seq {reply.get('seq')!r}")
        return reply

    def _drop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._drop()
