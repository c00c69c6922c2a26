"""Malformed, oversized and forged messages against a live experiment: all refused, nothing ends.

Runs a real experiment (manager in its own process, two trials that wait while the fuzzing goes on)
and sends at its channel socket: a few thousand malformed lines (bad JSON, deep nesting, lone
surrogates, huge numbers, NaN and infinities, invalid UTF-8, wrong types), unterminated oversized
lines, messages forged with wrong tokens, unknown trial ids and one trial's token used for the other
trial, a flood of connections past the cap, and connections that never authenticate. Then the
trials report their true results. Prints how many messages were refused (error reply or closed
connection), how many were accepted (must be 0), the manager's memory before and after, and whether
the manager and its trials survived with the right results (all must).

    .venv/bin/python benchmarks/channel_fuzz.py [--messages 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from nasctl.runtime.manager._channel import AUTH_TIMEOUT

TRIAL = """
import json, os, time
import nas

parameters = nas.get_next_parameter()
out = os.environ["NAS_OUTPUT_DIR"]
with open(os.path.join(out, "who.json"), "w") as handle:
    json.dump({"trial_id": os.environ["NAS_TRIAL_ID"], "token": os.environ["NAS_TOKEN"]}, handle)
go = os.path.join(os.path.dirname(os.path.dirname(out)), "go")
deadline = time.time() + 300
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
nas.report_intermediate_result(parameters["x"] / 2)
nas.report_final_result(parameters["x"])
"""

MANAGER = "import sys; from nasctl.runtime.manager import Experiment; print(Experiment.load(sys.argv[1]).run())"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _Tally:
    """Messages sent; each refused one either got an error reply or found its connection closed."""

    def __init__(self) -> None:
        self.sent = 0
        self.error_replies = 0
        self.closed = 0
        self.accepted: list[Any] = []

    @property
    def refused(self) -> int:
        return self.error_replies + self.closed


class _Connection:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")

    def send(self, line: bytes, tally: _Tally) -> bool:
        """Send one line and read its answer; False once the server has closed the connection."""
        tally.sent += 1
        try:
            self.sock.sendall(line + b"\n")
            answer = self.reader.readline()
        except OSError:
            tally.closed += 1
            return False
        if not answer:
            tally.closed += 1
            return False
        reply = json.loads(answer)
        if reply.get("type") == "error":
            tally.error_replies += 1
        else:
            tally.accepted.append(reply)
        return True

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _rest(conn: _Connection) -> bytes:
    """What the server sends after its reply: b"" once it has closed the connection."""
    try:
        return conn.reader.readline()
    except OSError:  # reset: closed with our unread bytes in its buffer
        return b""


def _malformed(rng: random.Random, who: dict[str, str]) -> bytes:
    token, trial_id = who["token"], who["trial_id"]
    head = f'"token": "{token}", "trial_id": "{trial_id}", "seq": 1'
    choices = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" "),
        lambda: b"[" * rng.randrange(33, 300_000),
        lambda: b'{"a": ' * rng.randrange(33, 2000) + b"1" + b"}" * 40,
        lambda: f'{{{head}, "type": "log", "level": "info", "message": "\\ud800"}}'.encode(),
        lambda: f'{{{head}, "type": "metric", "kind": "final", "parameter_id": null, "value": '
                f'{"9" * rng.randrange(331, 6000)}}}'.encode(),
        lambda: f'{{{head}, "type": "metric", "kind": "final", "parameter_id": null, "value": '
                f'{rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "-2e308", str(10**309)])}}}'.encode(),
        lambda: f'{{{head}, "type": "metric", "kind": "final", "parameter_id": null, "value": '
                f'{{"default": 1, "x": 1e999}}}}'.encode(),
        lambda: f'{{{head}, "type": "metric", "kind": "intermediate", "parameter_id": 0, "value": 1, '
                f'"sequence": {2**64}}}'.encode(),
        lambda: f'{{{head}, "type": {rng.choice(["1", "null", "[]", "{}", chr(34) + "launch" + chr(34)])}}}'.encode(),
        lambda: f'{{{head}, "type": "metric", "kind": "final", "parameter_id": null, "value": "high"}}'.encode(),
        lambda: f'{{{head}, "type": "get_parameter", "extra": 1}}'.encode(),
        lambda: b"\xff\xfe" + f'{{{head}}}'.encode("utf-16-le"),
        lambda: f'{{{head}, "type": "get_parameter"'.encode()[:rng.randrange(1, 60)],
        lambda: json.dumps(rng.choice([[1, 2], "text", 3, None, True])).encode(),
    ]
    return rng.choice(choices)()


def _forged(rng: random.Random, whos: list[dict[str, str]]) -> bytes:
    mine, other = rng.sample(whos, 2)
    seq = rng.randrange(100)
    variants = [
        {"token": "0" * 32, "trial_id": other["trial_id"]},          # a guessed token
        {"token": mine["token"], "trial_id": other["trial_id"]},     # one trial speaking for another
        {"token": mine["token"], "trial_id": "nobody"},              # an unknown trial
        {"trial_id": other["trial_id"]},                              # no token at all
        {"token": other["token"][:-1] + ("1" if other["token"].endswith("0") else "0"),  # one character off
         "trial_id": other["trial_id"]},
    ]
    message = {**rng.choice(variants), "type": "metric", "kind": "final", "value": 1e9, "parameter_id": None,
               "seq": seq}
    return json.dumps(message).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="malformed lines to send")
    parser.add_argument("--forged", type=int, default=500, help="forged messages to send")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from nasctl.runtime.manager import Experiment
    from nasctl.runtime.manager._channel import MAX_LINE, default_max_connections

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="nas-fuzz-") as tmp:
        root = Path(tmp)
        (root / "trial.py").write_text(textwrap.dedent(TRIAL))
        config = {
            "trialCommand": f"{sys.executable} trial.py",
            "trialCodeDirectory": str(root),
            "searchSpace": {"x": {"_type": "choice", "_value": [1, 2, 3, 4, 5, 6, 7]}},
            "tuner": {"name": "Random"},
            "trialConcurrency": 2,
            "maxTrialNumber": 2,
            "seed": args.seed,
        }
        home = root / "home"
        exp = Experiment(config, nas_home=home)
        exp.create()
        env = dict(os.environ, NAS_HOME=str(home))
        manager = subprocess.Popen([sys.executable, "-c", MANAGER, exp.id], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            return _fuzz(exp, manager, rng, args, MAX_LINE, default_max_connections())
        finally:
            if manager.poll() is None:
                manager.kill()
                manager.communicate()


def _fuzz(exp: Any, manager: subprocess.Popen, rng: random.Random, args: argparse.Namespace, max_line: int,
          cap: int) -> int:
    deadline = time.monotonic() + 120
    whos: list[dict[str, str]] = []
    while len(whos) < 2:
        if time.monotonic() > deadline or manager.poll() is not None:
            print("the experiment did not start its trials", file=sys.stderr)
            return 1
        whos = [json.loads(p.read_text()) for p in (exp.dir / "trials").glob("*/who.json") if p.stat().st_size]
        time.sleep(0.05)
    path = str(exp.dir / "channel.sock")
    rss_before = _rss_kib(manager.pid)
    peak = rss_before
    start = time.monotonic()

    malformed = _Tally()
    conn = _Connection(path)
    for _ in range(args.messages):
        if not conn.send(_malformed(rng, rng.choice(whos)), malformed):
            conn.close()
            conn = _Connection(path)
    conn.close()

    forged = _Tally()
    conn = _Connection(path)
    for _ in range(args.forged):
        if not conn.send(_forged(rng, whos), forged):
            conn.close()
            conn = _Connection(path)
    conn.close()

    # Unterminated lines past the cap, on ten connections at once.
    oversized = _Tally()
    hogs = [_Connection(path) for _ in range(10)]
    for hog in hogs:  # each holds most of a line the manager must buffer...
        hog.sock.sendall(b'{"x": "' + b"a" * (max_line - 64 * 1024))
    time.sleep(0.5)
    peak = max(peak, _rss_kib(manager.pid))
    for hog in hogs:  # ...until it grows past the cap
        oversized.sent += 1
        try:
            hog.sock.sendall(b"a" * 128 * 1024)
            answer = hog.reader.readline()
        except OSError:
            answer = b""
        if answer and json.loads(answer).get("type") == "error" and not _rest(hog):
            oversized.error_replies += 1  # and then closed
        elif not answer:
            oversized.closed += 1
        else:
            oversized.accepted.append(answer)
    peak = max(peak, _rss_kib(manager.pid))
    for hog in hogs:
        hog.close()

    # Connections past the cap: held open, then released.
    flood = _Tally()
    held: list[socket.socket] = []
    for _ in range(cap + 100):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)  # blocking: waits while the listen backlog is full
        except OSError:
            sock.close()
            flood.closed += 1
            continue
        held.append(sock)
    flood.sent = len(held) + flood.closed
    time.sleep(1.0)  # the manager has answered every connection by now (well within its auth timeout)
    open_within_cap = 0
    for sock in held:
        sock.setblocking(False)
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            open_within_cap += 1
            continue
        except OSError:
            data = b""
        if b"too many connections" in data:
            flood.error_replies += 1
        else:
            flood.closed += 1
    peak = max(peak, _rss_kib(manager.pid))
    for sock in held:
        sock.close()
    elapsed = time.monotonic() - start

    alive_during = manager.poll() is None
    time.sleep(1.5)  # the manager frees what the closed connections held
    rss_after = _rss_kib(manager.pid) if manager.poll() is None else 0
    (exp.dir / "go").touch()
    out, err = manager.communicate(timeout=120)
    status = out.strip()
    trials = exp.trials()
    right = all(t.status == "SUCCEEDED" and t.value == t.parameters["x"] for t in trials) and len(trials) == 2

    print(f"channel fuzz against a live experiment ({elapsed:.1f}s of fuzzing, seed {args.seed}):")
    rows = [("malformed lines", malformed), ("forged messages", forged), ("unterminated oversized lines", oversized),
            (f"connections (cap {cap})", flood)]
    total_accepted = 0
    for label, tally in rows:
        total_accepted += len(tally.accepted)
        print(f"  {label:30s} sent {tally.sent:6d}   refused {tally.refused:6d} (error reply {tally.error_replies}, "
              f"connection closed {tally.closed})   accepted {len(tally.accepted)}")
    print(f"  connections within the cap left open: {open_within_cap} (closed after {AUTH_TIMEOUT:g}s without "
          "an authenticated request)")
    print(f"  manager RSS: {rss_before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak, "
          f"{rss_after / 1024:.0f} MiB after the connections closed")
    print(f"  manager alive during the fuzzing: {alive_during}; final status: {status or '(none)'}")
    print(f"  trials: {', '.join(f'{t.trial_id} {t.status} value {t.value}' for t in trials)}; "
          f"results right: {right}")
    survived = (alive_during and status == "DONE" and right and total_accepted == 0 and manager.returncode == 0
                and open_within_cap + flood.refused == flood.sent and flood.refused >= 100)
    print(f"  all survived and nothing forged was accepted: {survived}")
    if not survived:
        print(err[-4000:], file=sys.stderr)
    return 0 if survived else 1


if __name__ == "__main__":
    sys.exit(main())
