"""The fork server: which commands it runs, and a forked trial behaves as `python3 script.py` would."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from nasctl.runtime.manager._forkserver import ForkedProcess, ForkServer, forkable_script
from nasctl.runtime.manager._local import kill_orphans

SCRIPT = """
import json, os, sys
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "sid": os.getsid(0) == os.getpid(),
                  "path0": sys.path[0], "file": __file__, "seen": os.environ.get("SEEN"), "name": __name__,
                  "stdin": sys.stdin.read()}))
print("to stderr", file=sys.stderr)
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "exit":
    sys.exit(3)
if mode == "raise":
    raise ValueError("boom")
if mode == "sleep":
    import time
    time.sleep(60)
"""


@pytest.mark.parametrize(("argv", "expected"), [
    ([sys.executable, "trial.py"], True),
    ([sys.executable, "trial.py", "--epochs", "2"], True),
    ([sys.executable, "-u", "trial.py"], False),
    ([sys.executable, "-m", "trial"], False),
    ([sys.executable, "trial.sh"], False),
    (["/bin/sh", "trial.py"], False),
    (["no-such-python", "trial.py"], False),
])
def test_only_this_interpreter_running_a_script_is_forked(argv: list[str], expected: bool) -> None:
    assert forkable_script(argv) is expected


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASCTL_FORK_SERVER", "0")
    assert not forkable_script([sys.executable, "trial.py"])


@pytest.fixture
def server():
    ended: list[ForkedProcess] = []
    server = ForkServer(ended.append)
    server.ended = ended  # type: ignore[attr-defined]
    yield server
    server.close()


def _run(server: ForkServer, folder: Path, *args: str) -> tuple[ForkedProcess, dict, str]:
    # As in a trial folder: trial.py is a link to the code directory's file.
    code = folder.parent / f"{folder.name}-code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "trial.py").write_text(SCRIPT)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.py").symlink_to(code / "trial.py")
    env = dict(os.environ, SEEN="yes")
    process = server.spawn([sys.executable, "trial.py", *args], cwd=str(folder), env=env,
                           stdout=str(folder / "stdout"), stderr=str(folder / "stderr"))
    process.wait(timeout=60)
    out = (folder / "stdout").read_text().splitlines()
    return process, json.loads(out[0]) if out else {}, (folder / "stderr").read_text()


def test_a_forked_trial_is_set_up_like_a_fresh_interpreter(server: ForkServer, tmp_path: Path) -> None:
    process, seen, err = _run(server, tmp_path / "t1", "ok")
    assert process.returncode == 0
    # What `python3 trial.py ok` in that folder sees (sys.path[0]: the folder of the link's target).
    assert seen == {"argv": ["trial.py", "ok"], "cwd": str(tmp_path / "t1"), "sid": True,
                    "path0": str(tmp_path / "t1-code"), "file": str(tmp_path / "t1" / "trial.py"), "seen": "yes",
                    "name": "__main__", "stdin": ""}
    assert err == "to stderr\n"
    server.pump(0.0)
    server.dispatch()
    assert process in server.ended  # type: ignore[attr-defined]


@pytest.mark.parametrize(("mode", "code", "stderr"), [
    ("exit", 3, "to stderr\n"),
    ("raise", 1, "ValueError: boom"),
])
def test_exit_statuses_are_those_of_a_plain_run(server: ForkServer, tmp_path: Path, mode: str, code: int,
                                                 stderr: str) -> None:
    process, _, err = _run(server, tmp_path / mode, mode)
    assert process.returncode == code
    assert stderr in err


def test_a_missing_script_and_a_signal(server: ForkServer, tmp_path: Path) -> None:
    folder = tmp_path / "missing"
    folder.mkdir()
    process = server.spawn([sys.executable, "nope.py"], cwd=str(folder), env=dict(os.environ),
                           stdout=str(folder / "stdout"), stderr=str(folder / "stderr"))
    assert process.wait(timeout=60) == 2
    assert "can't open file" in (folder / "stderr").read_text()
    folder = tmp_path / "sleep"
    folder.mkdir()
    (folder / "trial.py").write_text(SCRIPT)
    process = server.spawn([sys.executable, "trial.py", "sleep"], cwd=str(folder), env=dict(os.environ),
                           stdout=str(folder / "stdout"), stderr=str(folder / "stderr"))
    assert process.poll() is None
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM


def test_an_orphaned_forked_trial_is_found_by_its_stderr_file(server: ForkServer, tmp_path: Path) -> None:
    folder = tmp_path / "exp1" / "trials" / "abcde"
    folder.mkdir(parents=True)
    (folder / "trial.py").write_text(SCRIPT)
    process = server.spawn([sys.executable, "trial.py", "sleep"], cwd=str(folder), env=dict(os.environ),
                           stdout=str(folder / "stdout"), stderr=str(folder / "stderr"))
    deadline = time.monotonic() + 30
    while not (folder / "stderr").read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not kill_orphans(process.pid, "exp1", "other")  # not this trial's group: left alone
    assert process.poll() is None
    assert kill_orphans(process.pid, "exp1", "abcde")
    assert process.wait(timeout=60) == -signal.SIGKILL


def test_an_end_read_while_starting_another_trial_is_still_reported(tmp_path: Path) -> None:
    import selectors

    from nasctl.runtime.manager._local import LocalTrainingService

    code = tmp_path / "code"
    code.mkdir()
    (code / "quick.py").write_text("pass\n")
    ended: list[str] = []
    selector = selectors.DefaultSelector()
    service = LocalTrainingService(experiment_dir=tmp_path / "exp", code_dir=code, command=f"{sys.executable} quick.py",
                                   concurrency=2, selector=selector, on_exit=lambda trial: ended.append(trial.trial_id))
    try:
        for trial_id in ("first", "second"):
            service.prepare_folder(trial_id)
            service.start(trial_id, dict(os.environ), ())
            time.sleep(0.5)  # "first" ends meanwhile; starting "second" reads that from the server
        assert isinstance(service.running["first"].process, ForkedProcess)
        deadline = time.monotonic() + 10
        while len(ended) < 2 and time.monotonic() < deadline:
            # What the manager's loop does each turn: wait (no longer than next_wakeup), then poll.
            wait = service.next_wakeup()
            for key, mask in selector.select(1.0 if wait is None else wait):
                key.data(mask)
            service.poll()
        assert sorted(ended) == ["first", "second"]
    finally:
        service.close()
        selector.close()


def test_what_a_forked_trial_leaves_behind_is_found_by_its_stderr_file(server: ForkServer, tmp_path: Path) -> None:
    from nasctl.runtime.manager._local import kill_marked

    folder = tmp_path / "left"
    folder.mkdir()
    (folder / "trial.py").write_text(SCRIPT)
    process = server.spawn([sys.executable, "trial.py", "sleep"], cwd=str(folder), env=dict(os.environ),
                           stdout=str(folder / "stdout"), stderr=str(folder / "stderr"))
    assert kill_marked((), stderr_end=str(tmp_path / "other" / "stderr")) == 0
    assert process.poll() is None
    assert kill_marked((), stderr_end=str(folder / "stderr")) == 1
    assert process.wait(timeout=60) == -signal.SIGKILL


def test_the_trials_pythonpath_applies_and_other_startup_variables_must_match(server: ForkServer,
                                                                              tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "only_on_the_trials_path.py").write_text("VALUE = 41\n")
    folder = tmp_path / "pp"
    folder.mkdir()
    (folder / "trial.py").write_text("import sys, only_on_the_trials_path as m\nsys.exit(m.VALUE)\n")
    env = dict(os.environ, PYTHONPATH=str(lib))
    assert server.can_run(env)
    process = server.spawn([sys.executable, "trial.py"], cwd=str(folder), env=env, stdout=str(folder / "stdout"),
                           stderr=str(folder / "stderr"))
    assert process.wait(timeout=60) == 41, (folder / "stderr").read_text()
    assert not server.can_run(dict(os.environ, PYTHONHASHSEED="123", PYTHONOPTIMIZE="2"))
