"""A fork server for trials that are Python scripts: the interpreter starts once, trials are forks of it.

A trial command `python3 trial.py ARGS` (plain, run by the manager's own interpreter) costs an
interpreter start and `import nas` every time. The fork server is a small process the local
training service starts once, which has already imported `nas`'s trial path; each trial is a fork
of it that becomes the script: its own session (process group), working folder, environment,
stdin from /dev/null, stdout and stderr to the trial's files, `sys.argv` and `sys.path[0]` as
`python3 trial.py ARGS` would set them, the script run as `__main__`, and the exit status a
plain run would have (0, the `SystemExit` code, 1 after a traceback, or the signal that killed it).

The server is the trials' parent: it reaps them and reports each exit status to the manager over
its socket, newline-delimited JSON. Requests: `{"spawn": n, "argv", "cwd", "env", "stdout",
"stderr"}`; replies: `{"spawned": n, "pid"}` or `{"spawned": n, "error"}`; reports: `{"exit": pid,
"code"}` (negative: killed by that signal, as in `subprocess`). The server exits when the manager
closes the socket (or dies); the trials it started carry on, as `subprocess` children would.

`NASCTL_FORK_SERVER=0` in the manager's environment turns it off (every trial is then a
`subprocess` of the manager).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

__all__ = ["ForkServer", "ForkedProcess", "forkable_script"]

_DISABLE = "NASCTL_FORK_SERVER"
_PRELOAD = ("nas", "nasctl.runtime.trial._api", "nasctl.runtime.trial._context", "nasctl.runtime.trial._platform",
            "nasctl.runtime.modes._registry")


def forkable_script(argv: Sequence[str], path: str | None = None) -> bool:
    """Whether `argv` runs a Python script with this very interpreter, so a fork can stand in for it.

    `argv[0]` must resolve (on `path`, the trials' PATH, whose first entry is this interpreter's
    folder) to `sys.executable`'s file in the same folder (the same virtual environment), and
    `argv[1]` must be a `.py` script, not an interpreter option such as `-u` or `-m`.
    """
    if os.environ.get(_DISABLE, "1") == "0" or len(argv) < 2 or not sys.executable:
        return False
    script = argv[1]
    if script.startswith("-") or not script.endswith(".py"):
        return False
    here = os.path.dirname(os.path.abspath(sys.executable))
    if path is None:
        path = os.pathsep.join([here, os.environ.get("PATH", "")])
    found = shutil.which(argv[0], path=path)
    if found is None:
        return False
    try:
        same = os.path.samefile(found, sys.executable)
    except OSError:
        return False
    return same and os.path.dirname(os.path.abspath(found)) == here


class ForkedProcess:
    """A trial forked by the server; the parts of `subprocess.Popen` the local service uses."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.pump(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(f"trial process {self.pid}", timeout or 0.0)
            self.server.pump(remaining)
        return self.returncode


class ForkServer:
    """The manager's side: starts the server, asks it for trials, learns of their exits.

    `on_exit(process)` runs from `dispatch()` (which the manager's selector calls, after `pump`,
    when the socket is readable) once a forked trial has ended and its `returncode` is set; never
    from inside `spawn`, `poll` or `wait`.
    """

    def __init__(self, on_exit: Callable[[ForkedProcess], None]) -> None:
        self.on_exit = on_exit
        ours, theirs = socket.socketpair()
        self._sock = ours
        self._inbuf = bytearray()
        self._count = 0
        self._replies: dict[int, dict] = {}
        self.processes: dict[int, ForkedProcess] = {}
        self._startup = _startup_variables(os.environ)  # what the server's interpreter started with
        self._ended: list[ForkedProcess] = []
        self._unclaimed: dict[int, int] = {}  # pid -> exit code read before the spawn reply was handled
        self.alive = True
        code = f"from nasctl.runtime.manager._forkserver import serve; serve({theirs.fileno()})"
        self._server = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),),
                                        stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def can_run(self, env: Mapping[str, str]) -> bool:
        """Whether a fresh interpreter with `env` would start as the server did (the PYTHON* variables
        other than PYTHONPATH, which a forked trial applies itself, are the same)."""
        return _startup_variables(env) == self._startup

    def spawn(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], stdout: str,
              stderr: str) -> ForkedProcess:
        """Fork a trial; OSError if the server cannot (the caller then starts it as a subprocess)."""
        if not self.alive:
            raise OSError("the fork server has stopped")
        self._count += 1
        number = self._count
        request = {"spawn": number, "argv": list(argv), "cwd": cwd, "env": dict(env), "stdout": stdout,
                   "stderr": stderr}
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError:
            self._lost()
            raise
        while number not in self._replies:
            if not self.alive:
                raise OSError("the fork server has stopped")
            self.pump(None)
        reply = self._replies.pop(number)
        if "error" in reply:
            raise OSError(reply["error"])
        process = ForkedProcess(self, int(reply["pid"]))
        if process.pid in self._unclaimed:
            process.returncode = self._unclaimed.pop(process.pid)
            self._ended.append(process)
        else:
            self.processes[process.pid] = process
        return process

    def pump(self, timeout: float | None) -> None:
        """Read what the server has sent (waiting up to `timeout` for something) and act on it."""
        if not self.alive:
            return
        ready = selectors.DefaultSelector()
        try:
            ready.register(self._sock, selectors.EVENT_READ)
            if not ready.select(timeout):
                return
        finally:
            ready.close()
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        self._inbuf += data
        while (end := self._inbuf.find(b"\n")) >= 0:
            message = json.loads(bytes(self._inbuf[:end]))
            del self._inbuf[:end + 1]
            if "exit" in message:
                pid, code = int(message["exit"]), int(message["code"])
                process = self.processes.pop(pid, None)
                if process is None:
                    self._unclaimed[pid] = code
                else:
                    process.returncode = code
                    self._ended.append(process)
            elif "spawned" in message:
                self._replies[int(message["spawned"])] = message

    @property
    def pending(self) -> bool:
        """Whether trials have ended that `dispatch` has not reported yet."""
        return bool(self._ended)

    def dispatch(self) -> None:
        """Call `on_exit` for the trials whose end `pump` has read."""
        while self._ended:
            self.on_exit(self._ended.pop(0))

    def _lost(self) -> None:
        """The server died: its trials' exit statuses are gone, so they are killed and count as such."""
        self.alive = False
        for process in list(self.processes.values()):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.returncode = -signal.SIGKILL
            self._ended.append(process)
        self.processes = {}

    def close(self) -> None:
        """Stop the server (trials still running are not touched)."""
        self.alive = False
        self._sock.close()
        try:
            self._server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()


def _startup_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key.startswith("PYTHON") and key != "PYTHONPATH"}


# -- the server ---------------------------------------------------------------------------------------


def serve(fd: int) -> None:
    """The server's main loop, on socket `fd`: fork trials on request, report their exits."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the manager decides when trials and server stop
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "requests")
    selector.register(wake_r, selectors.EVENT_READ, "signals")
    inbuf = bytearray()
    out = bytearray()
    closing = False
    while not closing:
        for key, _ in selector.select(1.0):
            if key.data == "signals":
                try:
                    while wake_r.recv(4096):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
                continue
            try:
                data = sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                closing = True
                break
            inbuf += data
            while (end := inbuf.find(b"\n")) >= 0:
                request = json.loads(bytes(inbuf[:end]))
                del inbuf[:end + 1]
                out += _reply(request, (sock, wake_r, wake_w, selector)) + b"\n"
        out += _reap()
        closing = _flush(sock, out) or closing


def _reply(request: dict, inherited: tuple) -> bytes:
    # The reply waits until the child has its own session and its output files, as a subprocess
    # would be when Popen returns: the manager may signal its process group at once.
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as error:
        os.close(ready_r)
        os.close(ready_w)
        return json.dumps({"spawned": request["spawn"], "error": f"fork failed: {error}"}).encode()
    if pid == 0:
        os.close(ready_r)
        _become_trial(request, (*inherited, ready_w))  # never returns
    os.close(ready_w)
    while os.read(ready_r, 1):  # EOF: the child is set up (or died trying)
        pass
    os.close(ready_r)
    return json.dumps({"spawned": request["spawn"], "pid": pid}).encode()


def _reap() -> bytes:
    out = bytearray()
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        out += json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode() + b"\n"
    return bytes(out)


def _flush(sock: socket.socket, out: bytearray) -> bool:
    """Send what is pending (blocking: the manager reads promptly); True if the manager is gone."""
    if not out:
        return False
    try:
        sock.setblocking(True)
        sock.sendall(out)
    except OSError:
        return True
    finally:
        out.clear()
        try:
            sock.setblocking(False)
        except OSError:
            pass
    return False


def _become_trial(request: dict, inherited: tuple) -> None:
    """In the forked child: set up the process as `python3 script ARGS` would be, run it, exit."""
    code = 1
    try:
        sock, wake_r, wake_w, selector, ready = inherited
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        selector.close()
        for closable in (sock, wake_r, wake_w):
            closable.close()
        os.setsid()
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.close(ready)
        server_pythonpath = os.environ.get("PYTHONPATH", "")
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"][1:]
        script = argv[0]
        sys.argv = list(argv)
        # As the interpreter sets them: the folder of the script's target (a trial folder links the
        # code directory's files), then the trial's PYTHONPATH, and an absolute `__file__`.
        sys.path[0] = os.path.dirname(os.path.realpath(script))
        _replace_pythonpath(server_pythonpath, os.environ.get("PYTHONPATH", ""))
        code = _run_script(script)
    except BaseException:  # noqa: BLE001 - a broken setup is reported like a crashed script
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            if code < 0:
                signal.signal(-code, signal.SIG_DFL)
                os.kill(os.getpid(), -code)
        finally:
            os._exit(code & 0xFF)


def _replace_pythonpath(old: str, new: str) -> None:
    """Put `new`'s entries where the server's PYTHONPATH (`old`) put its own, after sys.path[0]."""
    if old == new:
        return
    for entry in filter(None, old.split(os.pathsep)):
        for candidate in (entry, os.path.abspath(entry)):
            if candidate in sys.path[1:]:
                del sys.path[sys.path.index(candidate, 1)]
                break
    sys.path[1:1] = [os.path.abspath(entry) for entry in new.split(os.pathsep) if entry]


def _run_script(script: str) -> int:
    """Run `script` as `__main__` and return the exit status a plain interpreter would."""
    import atexit
    import builtins
    import threading
    import types
    from importlib.machinery import SourceFileLoader

    if not os.path.isfile(script):
        print(f"{sys.executable}: can't open file {os.path.abspath(script)!r}: [Errno 2] No such file or "
              "directory", file=sys.stderr)
        return 2
    atexit._clear()  # the server's own exit functions are not the trial's
    code = 0
    path = os.path.abspath(script)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __loader__=SourceFileLoader("__main__", path),
                         __spec__=None, __package__=None)
    sys.modules["__main__"] = main
    try:
        with open(path, "rb") as handle:
            compiled = compile(handle.read(), path, "exec", dont_inherit=True)
        exec(compiled, main.__dict__)
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT  # the interpreter ends by SIGINT then
    except BaseException:  # noqa: BLE001 - printed as the interpreter would
        sys.excepthook(*sys.exc_info())
        code = 1
    # What interpreter shutdown does: wait for non-daemon threads, then run atexit functions.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1
