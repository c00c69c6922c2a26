"""The channel server: forged, malformed and invalid requests are refused and never reach the tuner."""

from __future__ import annotations

import json
import selectors
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager._channel import ChannelServer, Refused


class _Server:
    def __init__(self, path: Path) -> None:
        self.selector = selectors.DefaultSelector()
        self.served: list[dict[str, Any]] = []
        self.server = ChannelServer(path, "s3cret", self.selector, self._handle, lambda t: t in ("t1", "t2"))
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
    other = client.request(**_good(trial_id="t2", seq=43))
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
