"""The manager's side of the channel: a Unix socket (and, for Ray, a TCP one) speaking newline-delimited JSON.

The server lives in the manager's selector loop (one thread): it accepts connections, splits lines,
refuses malformed, forged or invalid requests with an error reply (logged, never passed on), and
hands each valid request to the dispatcher, whose reply it writes back. docs/internals.md, "The
channel", is the protocol.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import selectors
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ExperimentError

__all__ = ["ChannelServer", "Refused"]

log = logging.getLogger("nasctl.manager")

_MAX_LINE = 16 * 1024 * 1024
# sun_path holds 108 bytes on Linux, 104 on macOS.
_MAX_SOCKET_PATH = 100


class Refused(Exception):
    """A request the dispatcher will not serve; its message goes back to the trial as an error reply."""


class _Connection:
    __slots__ = ("sock", "inbuf", "outbuf", "trial_id", "closed")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.trial_id: str | None = None
        self.closed = False


class ChannelServer:
    """Serves trials' requests on a Unix socket at `path` (mode 0600), inside `selector`.

    `handler(request) -> reply` serves a valid, authenticated request of a known trial;
    `known_trial(trial_id)` says whether a trial may talk now. The handler raises `Refused` to
    answer with an error.
    """

    def __init__(self, path: str | Path, token: str, selector: selectors.BaseSelector,
                 handler: Callable[[dict[str, Any]], dict[str, Any]],
                 known_trial: Callable[[str], bool]) -> None:
        self.token = token
        self.selector = selector
        self.handler = handler
        self.known_trial = known_trial
        self._fallback_dir: str | None = None
        path = Path(path)
        if len(os.fsencode(str(path))) > _MAX_SOCKET_PATH:
            self._fallback_dir = tempfile.mkdtemp(prefix="nas-")
            path = Path(self._fallback_dir) / "channel.sock"
        self.path = path
        self._listener: socket.socket | None = None
        self._tcp_listener: socket.socket | None = None
        self.tcp_address: str | None = None
        self._connections: set[_Connection] = set()
        self.refused = 0

    @property
    def address(self) -> str:
        """The channel address for a trial's NAS_CHANNEL."""
        return f"unix:{self.path}"

    def start(self) -> None:
        """Bind and listen; the socket file is created with mode 0600 (owner only)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self.selector.register(listener, selectors.EVENT_READ, self._accept)

    def listen_tcp(self, host: str, advertised: str | None = None, port: int = 0) -> str:
        """Also accept trials over TCP on `host` (port 0: any free one); returns `tcp:host:port` for NAS_CHANNEL.

        The connections are served like the Unix socket's, with the same limits and token;
        `advertised` is the host trials connect to when `host` is a wildcard such as 0.0.0.0.
        """
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            raise ExperimentError(f"cannot listen for trials on {host}:{port}: {error.strerror or error} "
                                  "(set trainingService.channelHost to an address of this machine)") from None
        listener.setblocking(False)
        self._tcp_listener = listener
        self.selector.register(listener, selectors.EVENT_READ, lambda mask: self._accept(mask, listener))
        shown = advertised or host
        self.tcp_address = f"tcp:[{shown}]:{listener.getsockname()[1]}" if ":" in shown else \
            f"tcp:{shown}:{listener.getsockname()[1]}"
        return self.tcp_address

    def close(self) -> None:
        """Close every connection and the listening sockets, and remove the socket file."""
        for conn in list(self._connections):
            self._close(conn)
        if self._tcp_listener is not None:
            self.selector.unregister(self._tcp_listener)
            self._tcp_listener.close()
            self._tcp_listener = None
        if self._listener is not None:
            self.selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        if self._fallback_dir:
            shutil.rmtree(self._fallback_dir, ignore_errors=True)

    def drain(self, trial_id: str) -> None:
        """Serve whatever a trial has already sent (called before its exit is handled)."""
        for conn in list(self._connections):
            if conn.trial_id == trial_id:
                self._read(conn)

    def close_trial(self, trial_id: str) -> None:
        """Drop a trial's connections (it has ended or was restarted)."""
        for conn in list(self._connections):
            if conn.trial_id == trial_id:
                self._close(conn)

    # -- selector callbacks -------------------------------------------------------------------------

    def _accept(self, _mask: int, listener: socket.socket | None = None) -> None:
        listener = listener or self._listener
        assert listener is not None
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock)
            self._connections.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, lambda mask, c=conn: self._event(c, mask))

    def _event(self, conn: _Connection, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
        if mask & selectors.EVENT_READ and not conn.closed:
            self._read(conn)

    def _read(self, conn: _Connection) -> None:
        while not conn.closed:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            if not data:
                self._close(conn)
                return
            conn.inbuf += data
            while True:
                end = conn.inbuf.find(b"\n")
                if end < 0:
                    break
                line = bytes(conn.inbuf[:end])
                del conn.inbuf[:end + 1]
                if line.strip():
                    self._send(conn, self._serve(conn, line))
                if conn.closed:
                    return
            if len(conn.inbuf) > _MAX_LINE:
                self._send(conn, self._refuse(conn, None, "request line longer than 16 MiB"))
                self._close(conn)
                return

    def _send(self, conn: _Connection, reply: dict[str, Any]) -> None:
        conn.outbuf += json.dumps(reply, separators=(",", ":")).encode() + b"\n"
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        while conn.outbuf and not conn.closed:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close(conn)
                return
            del conn.outbuf[:sent]
        if conn.closed:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
        if self.selector.get_key(conn.sock).events != events:
            self.selector.modify(conn.sock, events, lambda mask, c=conn: self._event(c, mask))

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._connections.discard(conn)
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # -- requests -----------------------------------------------------------------------------------

    def _refuse(self, conn: _Connection, seq: Any, message: str) -> dict[str, Any]:
        self.refused += 1
        who = f"trial {conn.trial_id}" if conn.trial_id else "an unidentified connection"
        log.warning("channel: refused a request from %s: %s", who, message)
        return {"type": "error", "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                "message": message}

    def _serve(self, conn: _Connection, line: bytes) -> dict[str, Any]:
        from nasctl import schemas

        try:
            request = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return self._refuse(conn, None, f"malformed JSON: {error}")
        if not isinstance(request, dict):
            return self._refuse(conn, None, "a request must be a JSON object")
        seq = request.get("seq")
        token = request.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
            return self._refuse(conn, seq, "wrong or missing token")
        if not _surely_valid(request):
            try:
                schemas.validate("message", request)
            except schemas.SchemaError as error:
                return self._refuse(conn, seq, f"invalid request: {error}")
        trial_id = request["trial_id"]
        if not self.known_trial(trial_id):
            return self._refuse(conn, seq, f"unknown trial id {trial_id!r} (not running in this experiment)")
        if conn.trial_id is not None and conn.trial_id != trial_id:
            return self._refuse(conn, seq, f"this connection belongs to trial {conn.trial_id}, not {trial_id}")
        conn.trial_id = trial_id
        try:
            reply = self.handler(request)
        except Refused as error:
            return self._refuse(conn, seq, str(error))
        reply["seq"] = seq
        return reply



# A fast check that accepts only requests `schemas/message.schema.json` accepts; anything else goes
# to the schema itself, which decides and words the error. Keep the two in step.
_COMMON = frozenset(("token", "trial_id", "type", "seq"))
_FIELDS = {
    "get_parameter": (_COMMON, frozenset()),
    "metric": (_COMMON | {"kind", "value", "parameter_id", "sequence"}, frozenset(("kind", "value", "parameter_id"))),
    "architecture": (_COMMON | {"architecture", "parameter_id"}, frozenset(("architecture", "parameter_id"))),
    "log": (_COMMON | {"level", "message"}, frozenset(("level", "message"))),
}
_LEVELS = frozenset(("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"))


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _surely_valid(request: dict[str, Any]) -> bool:
    kind = request.get("type")
    fields = _FIELDS.get(kind) if type(kind) is str else None
    if fields is None:
        return False
    allowed, required = fields
    keys = request.keys()
    if not (keys <= allowed and _COMMON <= keys and required <= keys):
        return False
    if not (type(request["token"]) is str and request["token"] and type(request["trial_id"]) is str
            and request["trial_id"] and _is_int(request["seq"]) and request["seq"] >= 0):
        return False
    if kind == "metric":
        value = request["value"]
        value_ok = _is_number(value) or (type(value) is dict and "default" in value and _is_number(value["default"]))
        sequence_ok = "sequence" not in request or (_is_int(request["sequence"]) and request["sequence"] >= 0)
        pid = request["parameter_id"]
        return request["kind"] in ("intermediate", "final") and value_ok and sequence_ok and (pid is None or _is_int(pid))
    if kind == "architecture":
        pid = request["parameter_id"]
        return type(request["architecture"]) is dict and (pid is None or _is_int(pid))
    if kind == "log":
        return request["level"] in _LEVELS and type(request["message"]) is str
    return True
