"""The channel server: forged, malformed and invalid requests are refused and never reach the tuner."""

from __future__ import annotations

import json
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager._channel import ChannelServer, Refused

TOKENS = {"t1": "s3cret", "t2": "t2-s3cret"}


class _Server:
    def __init__(self, path: Path, **options: Any) -> None:
        self.selector = selectors.DefaultSelector()
        self.served: list[dict[str, Any]] = []
        self.server = ChannelServer(path, self.selector, self._handle, TOKENS.get, **options)
        self.server.start()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["type"] == "log" and request["message"] == "refuse me":
            raise Refused("the dispatcher says no")
        self.served.append(request)
        return {"type": "parameter", "parameter_id": 0, "parameters": {"x": 1}} \
            if request["type"] == "get_parameter" else {"type": "ack"}

    def _loop(self) -> None:
        while self.running:
            for key, mask in self.selector.select(0.05):
                key.data(mask)
            self.server.poll()

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    running = _Server(tmp_path / "channel.sock")
    yield running
    running.stop()


class _Client:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")

    def send(self, line: bytes) -> dict[str, Any]:
        self.file.write(line + b"\n")
        self.file.flush()
        return json.loads(self.file.readline())

    def request(self, **message: Any) -> dict[str, Any]:
        return self.send(json.dumps(message).encode())

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _good(**extra: Any) -> dict[str, Any]:
    return {"token": "s3cret", "trial_id": "t1", "type": "get_parameter", "seq": 0, **extra}


def test_socket_is_private(server: _Server) -> None:
    mode = stat.S_IMODE(server.server.path.stat().st_mode)
    assert mode == 0o600 and stat.S_ISSOCK(server.server.path.stat().st_mode)


@pytest.mark.parametrize(("line", "seq", "pattern"), [
    (b"{not json", None, "malformed JSON"),
    (b"[1, 2]", None, "a request must be a JSON object"),
    (json.dumps(_good(token="guess", seq=4)).encode(), 4, "wrong or missing token"),
    (json.dumps({k: v for k, v in _good(seq=5).items() if k != "token"}).encode(), 5, "wrong or missing token"),
    (json.dumps(_good(trial_id="t9", seq=6)).encode(), 6, "unknown trial id 't9'"),
    (json.dumps(_good(type="launch_missiles", seq=7)).encode(), 7, "invalid request: key 'type'"),
    (json.dumps(_good(type="metric", kind="final", value="high", parameter_id=0)).encode(), 0,
     "invalid request: key 'value'"),
    (json.dumps(_good(type="metric", kind="final", value={"acc": 1}, parameter_id=0)).encode(), 0,
     "invalid request: key 'value'"),
    (json.dumps(_good(extra_field=1)).encode(), 0, "invalid request"),
    (json.dumps(_good(type="log", level="info", message="refuse me")).encode(), 0, "the dispatcher says no"),
])
def test_bad_requests_are_refused(server: _Server, line: bytes, seq: int | None, pattern: str,
                                  caplog: pytest.LogCaptureFixture) -> None:
    client = _Client(server.server.path)
    reply = client.send(line)
    assert reply["type"] == "error" and reply["seq"] == seq
    assert pattern in reply["message"]
    assert server.served == []
    assert any("refused" in record.getMessage() for record in caplog.records)
    # The connection stays usable for a well-formed request.
    assert client.request(**_good(seq=1))["type"] == "parameter"
    assert len(server.served) == 1


def test_replies_echo_seq_and_a_connection_keeps_its_trial(server: _Server) -> None:
    client = _Client(server.server.path)
    reply = client.request(**_good(seq=41))
    assert reply == {"type": "parameter", "parameter_id": 0, "parameters": {"x": 1}, "seq": 41}
    assert client.request(**_good(type="metric", kind="intermediate", value=0.5, parameter_id=0,
                                  sequence=0, seq=42)) == {"type": "ack", "seq": 42}
    other = client.request(**_good(trial_id="t2", token=TOKENS["t2"], seq=43))
    assert other["type"] == "error" and "belongs to trial t1" in other["message"]


def test_pipelined_requests_are_answered_in_order(server: _Server) -> None:
    client = _Client(server.server.path)
    lines = b"".join(json.dumps(_good(seq=i)).encode() + b"\n" for i in range(50))
    client.file.write(lines)
    client.file.flush()
    assert [json.loads(client.file.readline())["seq"] for _ in range(50)] == list(range(50))


def test_forged_messages_in_a_real_experiment_never_reach_the_tuner(project: Path, nas_home: Path,
                                                                     helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
reply = request("get_parameter")
pid = reply["parameter_id"]
refusals = [
    request("metric", token="forged", kind="final", value=1e9, parameter_id=pid),
    request("metric", trial_id="nobody", kind="final", value=1e9, parameter_id=pid),
    raw(b'{"token": "' + os.environ["NAS_TOKEN"].encode() + b'", "type": "metric"'),
    request("metric", kind="final", value=1e9, parameter_id=pid + 1000),
]
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "refusals.json"), "w") as f:
    json.dump(refusals, f)
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=pid)
""")
    exp = Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2)))
    assert exp.run() == "DONE"
    for trial in exp.trials():
        assert trial.status == "SUCCEEDED" and trial.value == trial.parameters["x"]
        refusals = json.loads((exp.dir / "trials" / trial.trial_id / "refusals.json").read_text())
        assert [r["type"] for r in refusals] == ["error"] * 4
        assert "wrong or missing token" in refusals[0]["message"]
        assert "unknown trial id 'nobody'" in refusals[1]["message"]
        assert "malformed JSON" in refusals[2]["message"]
        assert "was not given to trial" in refusals[3]["message"]
    log = (exp.dir / "manager.log").read_text()
    assert log.count("channel: refused") == 8
    assert max(t.value for t in exp.trials()) < 1e9


def _message_strategy() -> Any:
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
                        st.text(max_size=3))
    values = st.one_of(scalars, st.dictionaries(st.sampled_from(["default", "acc"]), scalars, max_size=2),
                       st.lists(scalars, max_size=2))
    keys = st.sampled_from(["token", "trial_id", "type", "seq", "kind", "value", "parameter_id", "sequence",
                            "architecture", "level", "message", "extra"])
    base = st.fixed_dictionaries({
        "token": st.one_of(st.just("s3cret"), scalars), "trial_id": st.one_of(st.just("t1"), scalars),
        "type": st.one_of(st.sampled_from(["get_parameter", "metric", "architecture", "log"]), scalars),
        "seq": st.one_of(st.integers(-1, 5), scalars)})
    extra = st.dictionaries(keys, st.one_of(values, st.sampled_from(["final", "intermediate", "info", "x"]),
                                            st.dictionaries(st.text(max_size=2), scalars, max_size=2)), max_size=5)
    return st.builds(lambda a, b: {**a, **b}, base, extra)


def test_fast_check_accepts_only_what_the_schema_accepts() -> None:
    from hypothesis import given, settings
    from nasctl.runtime.manager._channel import _surely_valid

    from nasctl import schemas

    @settings(max_examples=400, deadline=None)
    @given(_message_strategy())
    def check(message: dict[str, Any]) -> None:
        if _surely_valid(message):
            schemas.validate("message", message)

    check()
    good = [_good(), _good(type="metric", kind="final", value={"default": 0.5, "loss": 1}, parameter_id=None),
            _good(type="metric", kind="intermediate", value=1, parameter_id=3, sequence=0),
            _good(type="architecture", architecture={}, parameter_id=1),
            _good(type="log", level="warning", message="")]
    assert all(_surely_valid(message) for message in good)


def test_a_socket_path_too_long_for_unix_sockets_moves_to_a_private_temp_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    server = _Server(deep / "channel.sock")
    try:
        path = server.server.path
        assert path.parent != deep and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert _Client(path).request(**_good())["type"] == "parameter"
    finally:
        server.stop()
    assert not path.parent.exists()


# -- no input ends the manager (issue 9) -------------------------------------------------------------

def _metric(value: str) -> bytes:
    return (b'{"token": "s3cret", "trial_id": "t1", "type": "metric", "seq": 3, "kind": "final", '
            b'"parameter_id": 0, "value": ' + value.encode() + b"}")


@pytest.mark.parametrize(("line", "pattern"), [
    (b"[" * 200_000, "nested deeper than 32 levels"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested deeper than 32 levels"),
    (b'{"token": "s3cret", "trial_id": "t1", "type": "log", "seq": 0, "level": "info", "message": "\\ud800"}',
     "lone surrogate"),
    (b'{"seq": ' + b"7" * 5000 + b"}", "a number of 5000 characters"),
    (b"\xff\xfe{}", "not UTF-8"),
    (_metric("NaN"), "NaN is not a number a tuner can compare"),
    (_metric("-Infinity"), "-Infinity is not a number"),
    (_metric("1e400"), "the number 1e400 does not fit a float"),
    (_metric(str(10**320)), "the final result is refused: an integer of 321 digits does not fit a float"),
    (_metric('{"default": 1, "loss": 1e999}'), "does not fit a float"),
    (json.dumps(_good(seq=2**64)).encode(), "invalid request: key 'seq'"),
    (json.dumps(_good(type="metric", kind="intermediate", value=1, parameter_id=0, sequence=2**63)).encode(),
     "invalid request: key 'sequence'"),
])
def test_no_line_ends_the_server(server: _Server, line: bytes, pattern: str) -> None:
    client = _Client(server.server.path)
    reply = client.send(line)
    assert reply["type"] == "error" and pattern in reply["message"]
    assert server.served == [] and server.thread.is_alive()
    assert client.request(**_good(seq=1))["type"] == "parameter"


def test_a_trial_cannot_use_another_trials_token(server: _Server) -> None:
    client = _Client(server.server.path)
    forged = client.request(**_good(token=TOKENS["t2"], type="metric", kind="final", value=1e9, parameter_id=0))
    assert forged["type"] == "error" and "wrong or missing token" in forged["message"]
    assert server.served == []
    assert _Client(server.server.path).request(**_good(token=TOKENS["t2"], trial_id="t2"))["type"] == "parameter"


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_connections_past_the_cap_are_refused_and_the_server_carries_on(tmp_path: Path) -> None:
    server = _Server(tmp_path / "channel.sock", max_connections=4)
    try:
        clients = [_Client(server.server.path) for _ in range(4)]
        _wait(lambda: server.server.connections == 4, "the server did not accept 4 connections")
        extra = _Client(server.server.path)
        assert "too many connections" in json.loads(extra.file.readline())["message"]
        assert extra.file.readline() == b""  # closed
        clients.pop().close()
        _wait(lambda: server.server.connections == 3, "a closed connection was not released")
        assert _Client(server.server.path).request(**_good())["type"] == "parameter"
        assert server.server.refused_connections == 1
    finally:
        server.stop()


def test_unfinished_lines_are_capped_and_their_bytes_freed_on_close(server: _Server) -> None:
    from nasctl.runtime.manager._channel import MAX_LINE

    holders = [_Client(server.server.path) for _ in range(3)]
    for holder in holders:
        holder.sock.sendall(b'{"x": "' + b"a" * (MAX_LINE // 2))
    _wait(lambda: server.server.buffered == 3 * (MAX_LINE // 2 + 7), "the server did not buffer the lines")
    for holder in holders:
        holder.close()
    _wait(lambda: server.server.buffered == 0 and server.server.connections == 0, "buffers were not freed")
    hog = _Client(server.server.path)
    hog.sock.sendall(b"b" * (MAX_LINE + 1))
    assert "request line longer than" in json.loads(hog.file.readline())["message"]
    assert hog.file.readline() == b""
    assert server.server.buffered == 0
    assert _Client(server.server.path).request(**_good())["type"] == "parameter"


def test_connections_that_never_authenticate_are_closed(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasctl.runtime.manager import _channel

    monkeypatch.setattr(_channel, "AUTH_TIMEOUT", 0.2)
    idle = _Client(server.server.path)
    trial = _Client(server.server.path)
    assert trial.request(**_good())["type"] == "parameter"
    assert idle.file.readline() == b""  # closed by the server after AUTH_TIMEOUT
    time.sleep(0.3)
    assert trial.request(**_good(seq=1))["type"] == "parameter"  # an authenticated one stays


def test_a_connection_that_keeps_sending_bad_requests_is_cut_off_and_logged_briefly(
        server: _Server, caplog: pytest.LogCaptureFixture) -> None:
    from nasctl.runtime.manager._channel import _LOGGED_PER_SESSION, MAX_REFUSALS

    client = _Client(server.server.path)
    replies = [client.send(b"{bad") for _ in range(MAX_REFUSALS)]
    assert all(reply["type"] == "error" for reply in replies)
    assert "closing the connection" in replies[-1]["message"]
    assert client.file.readline() == b""
    assert sum("channel: refused" in record.getMessage() for record in caplog.records) == _LOGGED_PER_SESSION


def test_refusals_never_put_control_characters_in_the_log(server: _Server, caplog: pytest.LogCaptureFixture) -> None:
    client = _Client(server.server.path)
    assert client.request(**_good(trial_id="x\n2026-01-01 00:00:00,000 INFO forged\x1b[2J"))["type"] == "error"
    message = next(r.getMessage() for r in caplog.records if "channel: refused" in r.getMessage())
    assert "\n" not in message and "\x1b" not in message and "\\n2026-01-01" in message


def test_printable_escapes_line_breaks_and_control_characters() -> None:
    from nasctl.runtime.manager._channel import printable

    assert printable("a\nb\r\x00\x1b[31m\u2028\x85\tok") == "a\\nb\\r\\x00\\x1b[31m\\u2028\\x85\\tok"
    assert printable("x" * 30, limit=10) == "xxxxxxxxxx... (20 more characters)"


def test_serve_stream_gives_an_asyncio_stream_pair_the_same_limits(tmp_path: Path) -> None:
    import asyncio

    served: list[dict[str, Any]] = []

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        served.append(request)
        return {"type": "ack"}

    channel = ChannelServer(tmp_path / "unused.sock", selectors.DefaultSelector(), handle, TOKENS.get)

    async def scenario() -> list[dict[str, Any]]:
        path = str(tmp_path / "stream.sock")
        listener = await asyncio.start_unix_server(channel.serve_stream, path=path)
        async with listener:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"[" * 100_000 + b"\n")
            writer.write(json.dumps(_good(type="log", level="info", message="hi", seq=5)).encode() + b"\n")
            await writer.drain()
            replies = [json.loads(await reader.readline()) for _ in range(2)]
            writer.close()
            await writer.wait_closed()
            return replies

    replies = asyncio.run(scenario())
    assert replies[0]["type"] == "error" and "nested deeper" in replies[0]["message"]
    assert replies[1] == {"type": "ack", "seq": 5}
    assert [r["message"] for r in served] == ["hi"]
    assert channel.connections == 0 and channel.buffered == 0


# -- a live experiment under hostile trials (issue 9) ------------------------------------------------

def test_hostile_lines_from_a_trial_do_not_end_the_manager_or_its_trials(project: Path, nas_home: Path,
                                                                          helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + r"""
reply = request("get_parameter")
pid = reply["parameter_id"]
refusals = [
    raw(b"[" * 200000),
    raw(b'{"token": "x", "trial_id": "\\ud800", "type": "log", "seq": 1}'),
    raw(b'{"seq": ' + b"9" * 5000 + b"}"),
    request("metric", kind="final", value=float("nan"), parameter_id=pid),
    request("metric", kind="final", value=float("inf"), parameter_id=pid),
    request("metric", kind="final", value=10**400, parameter_id=pid),
    request("metric", kind="intermediate", value=1, parameter_id=pid, sequence=2**70),
]
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "refusals.json"), "w") as f:
    json.dump(refusals, f)
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=pid)
""")
    exp = Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2)))
    assert exp.run() == "DONE"
    for trial in exp.trials():
        assert trial.status == "SUCCEEDED" and trial.value == trial.parameters["x"]
        refusals = json.loads((exp.dir / "trials" / trial.trial_id / "refusals.json").read_text())
        assert [r["type"] for r in refusals] == ["error"] * 7, refusals
    log = (exp.dir / "manager.log").read_text()
    assert "NaN is not a number" in log and "a number of 401 characters does not fit a float" in log


def test_one_trial_cannot_post_results_for_another(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
me, out = os.environ["NAS_TRIAL_ID"], os.environ["NAS_OUTPUT_DIR"]
trials = os.path.dirname(out)
reply = request("get_parameter")
open(os.path.join(out, "ready"), "w").close()
deadline = time.time() + 30
while time.time() < deadline:
    others = [t for t in os.listdir(trials) if t != me and os.path.exists(os.path.join(trials, t, "ready"))]
    if others:
        break
    time.sleep(0.02)
forged = request("metric", trial_id=others[0], kind="final", value=1e9, parameter_id=None)
with open(os.path.join(out, "forged.json"), "w") as f:
    json.dump(forged, f)
time.sleep(0.3)  # the other trial has forged too before this one reports
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=reply["parameter_id"])
""")
    config = helpers.base_config(project, maxTrialNumber=2, trialConcurrency=2)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    assert exp.run() == "DONE"
    for trial in exp.trials():
        assert trial.status == "SUCCEEDED" and trial.value == trial.parameters["x"]
        forged = json.loads((exp.dir / "trials" / trial.trial_id / "forged.json").read_text())
        assert forged["type"] == "error" and "wrong or missing token" in forged["message"]


def test_log_messages_cannot_forge_manager_log_lines(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + r"""
reply = request("get_parameter")
request("log", level="info", message="ok\n2026-01-01 00:00:00,000 INFO experiment forged: DONE\r\x1b[2J")
request("metric", kind="final", value=1, parameter_id=reply["parameter_id"])
""")
    exp = Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, maxTrialNumber=1)))
    assert exp.run() == "DONE"
    log = (exp.dir / "manager.log").read_text()
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())
    assert "ok\\n2026-01-01 00:00:00,000 INFO experiment forged: DONE\\r\\x1b[2J" in log
    assert "\x1b" not in log


def test_a_second_final_result_is_a_warning_and_ignored(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", """
import json, os
import nas

nas.get_next_parameter()
nas.report_final_result(0.5)
nas.report_final_result(0.25)
nas.report_final_result(0.125)
""")
    helpers.write(project / "raw.py", helpers.CLIENT + """
reply = request("get_parameter")
first = request("metric", kind="final", value=0.5, parameter_id=reply["parameter_id"])
second = request("metric", kind="final", value=0.25, parameter_id=reply["parameter_id"])
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "replies.json"), "w") as f:
    json.dump([first, second], f)
""")
    for script in ("trial.py", "raw.py"):
        config = helpers.base_config(project, maxTrialNumber=1, trialCommand=f"python3 {script}",
                                     experimentName=script)
        exp = Experiment.from_yaml(helpers.write_config(project, config, f"{script}.yml"))
        assert exp.run() == "DONE"
        [trial] = exp.trials()
        assert trial.status == "SUCCEEDED" and trial.value == 0.5
        stderr = (exp.dir / "trials" / trial.trial_id / "stderr").read_text()
        if script == "trial.py":
            assert stderr.count("nasctl: warning") == 1 and "report_final_result(0.25) ignored" in stderr
        else:
            replies = json.loads((exp.dir / "trials" / trial.trial_id / "replies.json").read_text())
            assert replies[0] == {"type": "ack", "seq": 1}
            assert replies[1]["type"] == "ack" and "second final result for parameter" in replies[1]["warning"]
            assert "second final result for parameter" in (exp.dir / "manager.log").read_text()


_FLOOD = """
import socket, sys, time
path, count = sys.argv[1], int(sys.argv[2])
sys.stdin.readline()
held = []
deadline = time.monotonic() + 10
while len(held) < count and time.monotonic() < deadline:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.connect(path)
    except BlockingIOError:  # the listen backlog is full: the server has not accepted yet
        sock.close()
        time.sleep(0.01)
        continue
    held.append(sock)
print(len(held), flush=True)
sys.stdin.readline()
"""


def test_running_out_of_file_descriptors_refuses_connections_and_carries_on(tmp_path: Path) -> None:
    import resource
    import subprocess
    import sys

    server = _Server(tmp_path / "channel.sock", max_connections=100_000)  # past the limit on purpose
    flood = subprocess.Popen([sys.executable, "-c", _FLOOD, str(server.server.path), "200"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 20, hard))
        flood.stdin.write("go\n")
        flood.stdin.flush()
        flood.stdout.readline()
        _wait(lambda: server.server.refused_connections > 0, "no connection was refused")
        assert server.thread.is_alive()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        flood.stdin.close()
        flood.wait(10)
    _wait(lambda: server.server.connections == 0, "the flood's connections were not released")
    try:
        assert _Client(server.server.path).request(**_good())["type"] == "parameter"
    finally:
        server.stop()
