"""The manager's side of the channel: newline-delimited JSON from trials, served in the manager's loop.

Two layers, so that every transport gets the same limits and the same authentication:

- `ChannelSession` is one connection, whatever carries it: bytes go in (`feed`), reply lines come
  out. It caps the bytes it buffers, parses each line with limits (size, nesting depth, number
  length, UTF-8 without lone surrogates) before anything else looks at it, checks the request's
  token against the token of the trial it names (one token per trial), binds the connection to
  that trial, validates the request and hands it to the dispatcher. Anything else gets an `error`
  reply (logged, rate-limited, never passed on); a connection that keeps sending bad requests, or
  buffers too much, is closed.
- `ChannelServer` owns an experiment's sessions: it caps their number (a connection past the cap
  is refused and closed), closes connections that never authenticate, and carries them over a Unix
  socket (mode 0600) and any other listening stream socket given to `listen` (TCP), inside the
  manager's selector loop, or over an asyncio stream pair (`serve_stream`).

docs/internals.md, "The channel", is the protocol.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import math
import os
import re
import resource
import selectors
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasctl.runtime._numbers import number_problem
from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._kinds import MetricKind, Reply, Request

__all__ = ["ChannelServer", "ChannelSession", "Refused", "printable"]

log = logging.getLogger("nasctl.manager")

# A request line: far more than any request needs (an architecture is a few KiB).
MAX_LINE = 1024 * 1024
# JSON nesting: a request is 3 levels deep, an architecture 4.
MAX_DEPTH = 32
# Characters of one number: a float's repr has at most 24, an integer that fits a float 309 digits.
MAX_NUMBER = 330
# Bytes all connections together may hold in unfinished lines.
MAX_BUFFERED = 64 * 1024 * 1024
# Reply bytes a connection may leave unread before it is closed.
MAX_UNREAD_REPLIES = 4 * 1024 * 1024
# Seconds a connection may stay open without one authenticated request.
AUTH_TIMEOUT = 10.0
# Refused requests after which a connection is closed.
MAX_REFUSALS = 50
# Refusals logged per connection, and per minute in all; the rest are counted in one summary line.
_LOGGED_PER_SESSION = 10
_LOGGED_PER_MINUTE = 100
_RECV = 65536
# sun_path holds 108 bytes on Linux, 104 on macOS.
_MAX_SOCKET_PATH = 100


class Refused(Exception):
    """A request the dispatcher will not serve; its message goes back to the trial as an error reply."""


class _BadRequest(Exception):
    """A line refused before it is a request (limits, JSON, Unicode)."""


def default_max_connections() -> int:
    """The connection cap: half the file descriptors the manager may open, at most 1024."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, min(1024, (soft - 64) // 2))


# -- text for the log ---------------------------------------------------------------------------------

_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7f, 0xa0))}
_ESCAPES.update({0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def printable(text: str, limit: int = 2000) -> str:
    """`text` as one line of a log: control characters and line breaks escaped, cut at `limit`.

    >>> printable("ok\\n2026-01-01 INFO forged")
    'ok\\\\n2026-01-01 INFO forged'
    """
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text.translate(_ESCAPES)


# -- parsing with limits ------------------------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER:
        raise _BadRequest(f"a number of {len(text)} characters does not fit a float (at most {MAX_NUMBER} "
                          "characters)")


def _parse_int(text: str) -> int:
    _number(text)
    return int(text)


def _parse_float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise _BadRequest(f"the number {text} does not fit a float")
    return value


def _parse_constant(name: str) -> Any:
    raise _BadRequest(f"{name} is not a number a tuner can compare (NaN and infinities are refused)")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise _BadRequest(f"a string holds a lone surrogate ({error.object[error.start]!r}), "
                                  "which is not Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def parse_line(line: bytes) -> Any:
    """One request line as JSON, within the channel's limits; `_BadRequest` says what broke them."""
    if len(line) > MAX_LINE:
        raise _BadRequest(f"request line of {len(line)} bytes (at most {MAX_LINE})")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadRequest(f"not UTF-8: {error.reason} at byte {error.start}") from None
    if _too_deep(text):
        raise _BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise _BadRequest(f"malformed JSON: {error}") from None
    except RecursionError:  # not reached within MAX_DEPTH; kept so no line can end the manager
        raise _BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_strings(value)
    return value


def _seq(request: Any) -> int | None:
    seq = request.get("seq") if isinstance(request, dict) else None
    return seq if type(seq) is int and 0 <= seq < 2**63 else None


# -- one connection -----------------------------------------------------------------------------------

class ChannelSession:
    """One connection to the channel, whatever carries it: `feed(bytes)` returns the reply lines.

    The transport writes the replies in order, and closes the connection once `closing` is set (after
    writing them) or when `close()` is called (the server drops it: its trial ended, it never
    authenticated, the server stops).
    """

    def __init__(self, server: ChannelServer, close_transport: Callable[[], None]) -> None:
        self.server = server
        self._close_transport = close_transport
        self._inbuf = bytearray()
        self._scanned = 0
        self.trial_id: str | None = None
        self.opened = time.monotonic()
        self.refusals = 0
        self.logged = 0
        self.closing = False
        self.closed = False

    def feed(self, data: bytes) -> list[bytes]:
        """Take bytes received on the connection; returns the reply lines to send back, in order."""
        if self.closing or self.closed or not data:
            return []
        replies: list[bytes] = []
        before = len(self._inbuf)
        self._inbuf += data
        while not self.closing:
            end = self._inbuf.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._inbuf)
                break
            line = bytes(self._inbuf[:end])
            del self._inbuf[:end + 1]
            self._scanned = 0
            if line.strip():
                replies.append(_encode(self._serve(line)))
        if not self.closing and len(self._inbuf) > MAX_LINE:
            replies.append(_encode(self._refuse(None, f"request line longer than {MAX_LINE} bytes", final=True)))
        elif not self.closing and self.server.buffered + len(self._inbuf) - before > MAX_BUFFERED:
            replies.append(_encode(self._refuse(
                None, "the channel holds too many unfinished request lines; closing this connection",
                final=True)))
        if self.closing or not self._inbuf:
            self.server.buffered -= before
            self._release()
        else:
            self.server.buffered += len(self._inbuf) - before
        return replies

    def close(self) -> None:
        """Drop the connection and free what it buffered."""
        if self.closed:
            return
        self.closed = True
        self.server.buffered -= len(self._inbuf)
        self._release()
        self.server._sessions.discard(self)
        self._close_transport()

    def _release(self) -> None:
        self._inbuf = bytearray()
        self._scanned = 0

    def _refuse(self, seq: int | None, message: str, *, final: bool = False) -> dict[str, Any]:
        self.refusals += 1
        if final or self.refusals >= MAX_REFUSALS:
            if not final:
                message += f" (refused {self.refusals} requests: closing the connection)"
            self.closing = True
        self.server._log_refusal(self, message)
        return {"type": Reply.ERROR, "seq": seq, "message": message}

    def _serve(self, line: bytes) -> dict[str, Any]:
        from nasctl import schemas

        server = self.server
        try:
            request = parse_line(line)
        except _BadRequest as error:
            return self._refuse(None, str(error))
        if not isinstance(request, dict):
            return self._refuse(None, "a request must be a JSON object")
        seq = _seq(request)
        token = request.get("token")
        if not isinstance(token, str) or not token:
            return self._refuse(seq, "wrong or missing token")
        trial_id = request.get("trial_id")
        if not isinstance(trial_id, str) or not trial_id:
            return self._refuse(seq, "invalid request: 'trial_id' must be a non-empty string")
        expected = server.token_of(trial_id)
        if expected is None:
            return self._refuse(seq, f"unknown trial id {trial_id!r} (not running in this experiment)")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return self._refuse(seq, "wrong or missing token")
        if not _surely_valid(request):
            try:
                schemas.validate("message", request)
            except schemas.SchemaError as error:
                return self._refuse(seq, f"invalid request: {error}")
        if self.trial_id is not None and self.trial_id != trial_id:
            return self._refuse(seq, f"this connection belongs to trial {self.trial_id}, not {trial_id}")
        self.trial_id = trial_id
        if request["type"] == Request.METRIC:
            problem = number_problem(request["value"])
            if problem is not None:
                return self._refuse(seq, f"the {request['kind']} result is refused: {problem}")
        try:
            reply = server.handler(request)
        except Refused as error:
            return self._refuse(seq, str(error))
        reply["seq"] = seq
        return reply


def _encode(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


# -- the server ---------------------------------------------------------------------------------------

class ChannelServer:
    """Serves trials' requests on a Unix socket at `path` (mode 0600), inside `selector`.

    `handler(request) -> reply` serves a valid, authenticated request of a running trial;
    `token_of(trial_id)` is the token of a trial that may talk now, None for any other trial id.
    The handler raises `Refused` to answer with an error.
    """

    def __init__(self, path: str | Path, selector: selectors.BaseSelector,
                 handler: Callable[[dict[str, Any]], dict[str, Any]],
                 token_of: Callable[[str], str | None], *, max_connections: int | None = None) -> None:
        self.selector = selector
        self.handler = handler
        self.token_of = token_of
        self.max_connections = max_connections if max_connections is not None else default_max_connections()
        self._fallback_dir: str | None = None
        path = Path(path)
        if len(os.fsencode(str(path))) > _MAX_SOCKET_PATH:
            self._fallback_dir = tempfile.mkdtemp(prefix="nas-")
            path = Path(self._fallback_dir) / "channel.sock"
        self.path = path
        self._listeners: list[socket.socket] = []
        self.tcp_address: str | None = None
        self._sessions: set[ChannelSession] = set()
        self._sockets: dict[ChannelSession, _SocketConnection] = {}
        self._spare_fd: int | None = None
        self.buffered = 0
        self.refused = 0
        self.refused_connections = 0
        self._window = time.monotonic()
        self._logged_in_window = 0
        self._unlogged = 0

    @property
    def address(self) -> str:
        """The channel address for a trial's NAS_CHANNEL."""
        return f"unix:{self.path}"

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._sessions)

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
        self.listen(listener)

    def listen(self, listener: socket.socket) -> None:
        """Serve connections of a bound, listening stream socket (Unix or TCP) in the selector too."""
        listener.setblocking(False)
        if self._spare_fd is None:
            self._spare_fd = os.open(os.devnull, os.O_RDONLY)
        self._listeners.append(listener)
        self.selector.register(listener, selectors.EVENT_READ, lambda _mask, s=listener: self._accept(s))

    def listen_tcp(self, host: str, advertised: str | None = None, port: int = 0) -> str:
        """Also serve trials over TCP on `host` (port 0: any free one); returns `tcp:host:port` for NAS_CHANNEL.

        `advertised` is the host trials connect to where `host` is a wildcard such as 0.0.0.0.
        """
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            raise ExperimentError(f"cannot listen for trials on {host}:{port}: {error.strerror or error} "
                                  "(set trainingService.channelHost to an address of this machine)") from None
        self.listen(listener)
        shown = advertised or host
        bound = listener.getsockname()[1]
        self.tcp_address = f"tcp:[{shown}]:{bound}" if ":" in shown else f"tcp:{shown}:{bound}"
        return self.tcp_address

    def open_session(self, close_transport: Callable[[], None]) -> ChannelSession | None:
        """A session for a new connection; None past the connection cap (refuse the connection)."""
        if len(self._sessions) >= self.max_connections:
            self.refused_connections += 1
            self._log(f"channel: refused a connection: {len(self._sessions)} are open (the limit)")
            return None
        session = ChannelSession(self, close_transport)
        self._sessions.add(session)
        return session

    async def serve_stream(self, reader: Any, writer: Any) -> None:
        """Serve one connection given as an asyncio `StreamReader`/`StreamWriter` pair (any transport).

        Runs the dispatcher in the calling event loop's thread: only where that thread is the one
        that owns the tuner.
        """
        session = self.open_session(writer.close)
        if session is None:
            writer.write(_encode(_TOO_MANY))
            writer.close()
            return
        try:
            while not session.closing and not session.closed:
                data = await reader.read(_RECV)
                if not data:
                    break
                for reply in session.feed(data):
                    writer.write(reply)
                if writer.transport.get_write_buffer_size() > MAX_UNREAD_REPLIES:
                    break
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            session.close()

    def poll(self) -> None:
        """Close connections that did not authenticate in time; log the refusals left unlogged."""
        now = time.monotonic()
        for session in list(self._sessions):
            if session.trial_id is None and now - session.opened > AUTH_TIMEOUT:
                self._log_refusal(session, f"no authenticated request in {AUTH_TIMEOUT:g}s: connection closed")
                session.close()
        self._roll_window(now)

    def close(self) -> None:
        """Close every connection and listening socket, and remove the socket file."""
        for session in list(self._sessions):
            session.close()
        for listener in self._listeners:
            self.selector.unregister(listener)
            listener.close()
        self._listeners.clear()
        if self._spare_fd is not None:
            os.close(self._spare_fd)
            self._spare_fd = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        if self._fallback_dir:
            shutil.rmtree(self._fallback_dir, ignore_errors=True)

    def drain(self, trial_id: str) -> None:
        """Serve whatever a trial has already sent (called before its exit is handled)."""
        for session, connection in list(self._sockets.items()):
            if session.trial_id == trial_id:
                connection.read()

    def close_trial(self, trial_id: str) -> None:
        """Drop a trial's connections (it has ended or was restarted)."""
        for session in list(self._sessions):
            if session.trial_id == trial_id:
                session.close()

    # -- the log --------------------------------------------------------------------------------------

    def _roll_window(self, now: float) -> None:
        if now - self._window < 60.0:
            return
        if self._unlogged:
            log.warning("channel: %d more refused requests or connections in the last minute were not logged",
                        self._unlogged)
        self._window, self._logged_in_window, self._unlogged = now, 0, 0

    def _log(self, message: str) -> bool:
        self._roll_window(time.monotonic())
        if self._logged_in_window >= _LOGGED_PER_MINUTE:
            self._unlogged += 1
            return False
        self._logged_in_window += 1
        log.warning("%s", message)
        return True

    def _log_refusal(self, session: ChannelSession, message: str) -> None:
        self.refused += 1
        if session.logged >= _LOGGED_PER_SESSION:
            self._unlogged += 1
            return
        who = f"trial {session.trial_id}" if session.trial_id else "an unidentified connection"
        if self._log(f"channel: refused a request from {who}: {printable(message, 500)}"):
            session.logged += 1

    # -- sockets in the selector ----------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(64):  # then back to the loop: a flood of connections cannot starve the trials
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    self._shed(listener)
                    return
                continue  # ECONNABORTED and the like: that connection is gone
            connection = _SocketConnection(self, sock)
            session = self.open_session(connection.close)
            if session is None:
                connection.refuse()
                continue
            connection.session = session
            self._sockets[session] = connection
            self.selector.register(sock, selectors.EVENT_READ, connection.on_event)

    def _shed(self, listener: socket.socket) -> None:
        """Out of file descriptors: accept one pending connection on the spare one and close it."""
        self._log("channel: out of file descriptors; refusing new connections")
        if self._spare_fd is None:
            return
        os.close(self._spare_fd)
        self._spare_fd = None
        try:
            sock, _ = listener.accept()
            sock.close()
        except OSError:
            pass
        finally:
            try:
                self._spare_fd = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                self._spare_fd = None
        self.refused_connections += 1


_TOO_MANY = {"type": Reply.ERROR, "seq": None, "message": "too many connections to the experiment; connection refused"}


class _SocketConnection:
    """A session carried by a non-blocking socket in the server's selector."""

    def __init__(self, server: ChannelServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.sock.setblocking(False)
        self.session: ChannelSession | None = None
        self.outbuf = bytearray()
        self.closed = False

    def refuse(self) -> None:
        try:
            self.sock.send(_encode(_TOO_MANY))
        except OSError:
            pass
        self.sock.close()
        self.closed = True

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self.read()

    def read(self) -> None:
        session = self.session
        assert session is not None
        for _ in range(16):  # at most 1 MiB per turn: one connection cannot starve the others
            if self.closed or session.closing:
                break
            try:
                data = self.sock.recv(_RECV)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                session.close()
                return
            if not data:
                session.close()
                return
            for reply in session.feed(data):
                self.outbuf += reply
        self.flush()
        if not self.closed and (session.closing or len(self.outbuf) > MAX_UNREAD_REPLIES):
            session.close()

    def flush(self) -> None:
        while self.outbuf and not self.closed:
            try:
                sent = self.sock.send(self.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                if self.session is not None:
                    self.session.close()
                return
            del self.outbuf[:sent]
        if self.closed:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)
        if self.server.selector.get_key(self.sock).events != events:
            self.server.selector.modify(self.sock, events, self.on_event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.outbuf = bytearray()
        if self.session is not None:
            self.server._sockets.pop(self.session, None)
        try:
            self.server.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


# A fast check that accepts only requests `schemas/message.schema.json` accepts; anything else goes
# to the schema itself, which decides and words the error. Keep the two in step.
_COMMON = frozenset(("token", "trial_id", "type", "seq"))
_FIELDS = {
    Request.GET_PARAMETER: (_COMMON, frozenset()),
    Request.METRIC: (_COMMON | {"kind", "value", "parameter_id", "sequence"},
                     frozenset(("kind", "value", "parameter_id"))),
    Request.ARCHITECTURE: (_COMMON | {"architecture", "parameter_id"}, frozenset(("architecture", "parameter_id"))),
    Request.LOG: (_COMMON | {"level", "message"}, frozenset(("level", "message"))),
}
_METRIC_KINDS = frozenset(MetricKind)
_LEVELS = frozenset(("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"))


_ID_MAX = 2**63 - 1  # the ids are SQLite integers


def _is_int(value: Any) -> bool:
    return type(value) is int and -_ID_MAX - 1 <= value <= _ID_MAX


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
    if kind == Request.METRIC:
        value = request["value"]
        value_ok = _is_number(value) or (type(value) is dict and "default" in value and _is_number(value["default"]))
        sequence_ok = "sequence" not in request or (_is_int(request["sequence"]) and request["sequence"] >= 0)
        pid = request["parameter_id"]
        return type(request["kind"]) is str and request["kind"] in _METRIC_KINDS and value_ok and sequence_ok and (pid is None or _is_int(pid))
    if kind == Request.ARCHITECTURE:
        pid = request["parameter_id"]
        return type(request["architecture"]) is dict and (pid is None or _is_int(pid))
    if kind == Request.LOG:
        return request["level"] in _LEVELS and type(request["message"]) is str
    return True
