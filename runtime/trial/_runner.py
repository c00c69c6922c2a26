"""The standalone runner behind `nasctl trial run`: compile a trial script in memory and run it.

The script's directory is the trial directory. Its search space comes from the compiler; the script
is compiled and run as `__main__`, and sibling modules with annotations are compiled as they are
imported (an import hook limited to the trial directory), so nothing is written anywhere and
`__file__` is the script's real path. Results are printed; the last line is `final result: <json>`.

In enas mode without `--arch`, the ENAS controller (`nasctl.tuners.create("ENAS")`, seeded with the trial
seed) runs in this process, so each `training_update()` switches to the controller's next subgraph
and each reward reaches it. Rewards (`training_update(loss=...)` reports `-loss` as one) are not
printed; intermediate results are, and at the end the last `derived architecture: <json>` line and the
final result, as in the other one-shot modes. With `--arch`, enas trains that one subgraph (every
`training_update()` gets it again), printed the same way.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import TrialError
from nasctl.runtime.trial._architecture import load_architecture_file
from nasctl.runtime.trial._context import TrialContext, use_context
from nasctl.runtime.trial._imports import local_modules
from nasctl.runtime.trial._platform import StandalonePlatform
from nasctl.runtime.trial._traceback import format_exception

from nasctl._errors import NasctlError
from nasctl._nni_compat import provide_nni
from nasctl.searchspace import normalize_mode, validate_architecture

__all__ = ["run_script"]

_MARKERS = (b"@nas.", b"@nni.")
# nasctl's own packages are never trial code, even when the trial directory holds their sources.
_OWN_PACKAGES = frozenset({"nasctl", "nas", "nni"})


def _module_name(path: Path, root: Path) -> str:
    """The dotted module path used in search-space keys: the file relative to the trial directory."""
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _within(path: str | Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


class _AnnotatedLoader(importlib.abc.Loader):
    """Executes the compiled text of one annotated module."""

    def __init__(self, code: str, path: str) -> None:
        self.code = code
        self.path = path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exec(compile(self.code, self.path, "exec", dont_inherit=True), module.__dict__)

    def get_source(self, fullname: str) -> str:
        return self.code


class _AnnotatedFinder(importlib.abc.MetaPathFinder):
    """Finds modules of the trial directory that hold annotations, and compiles them on import."""

    def __init__(self, root: Path, mode: str, key_style: str) -> None:
        self.root = root
        self.mode = mode
        self.key_style = key_style

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in _OWN_PACKAGES:
            return None
        search = [str(self.root)] if path is None else [p for p in path if _within(p, self.root)]
        if not search:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        origin = Path(spec.origin)
        source = origin.read_bytes()
        if not any(marker in source for marker in _MARKERS):
            return None
        code = _compile(source, origin, self.root, self.mode, self.key_style)
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=_AnnotatedLoader(code, str(origin)),
            submodule_search_locations=spec.submodule_search_locations)


def _compile(source: bytes, path: Path, root: Path, mode: str, key_style: str) -> str:
    from nasctl import annotator

    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TrialError(f"{path}: not UTF-8 ({error})") from None
    result = annotator.compile_source(text, _module_name(path, root), mode, path=str(path), key_style=key_style)
    return result.code


class _LastLine:
    """A stdout wrapper that remembers the last non-empty line written through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._partial = ""
        self.last = ""

    def write(self, text: str) -> int:
        self._partial += text
        if "\n" in self._partial:
            complete, _, self._partial = self._partial.rpartition("\n")
            lines = [line for line in complete.split("\n") if line.strip()]
            if lines:
                self.last = lines[-1]
        return self._stream.write(text)

    def last_line(self) -> str:
        return self._partial if self._partial.strip() else self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _patched(root: Path, script: Path, argv: Sequence[str], environ: Mapping[str, str],
             finder: _AnnotatedFinder) -> Iterator[tuple[types.ModuleType, _LastLine]]:
    """The interpreter state of `python SCRIPT ARGS` (argv, path, `__main__`, env), restored afterwards."""
    saved_argv, saved_path, saved_main = sys.argv, list(sys.path), sys.modules.get("__main__")
    saved_env = {name: os.environ.get(name) for name in environ}
    saved_stdout = sys.stdout
    before = set(sys.modules)
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": str(script), "__builtins__": __builtins__, "__spec__": None,
                          "__loader__": None, "__package__": None})
    stdout = _LastLine(sys.stdout)
    try:
        sys.argv = [str(script), *argv]
        sys.path.insert(0, str(root))
        sys.meta_path.insert(0, finder)
        sys.modules["__main__"] = main
        os.environ.update(environ)
        sys.stdout = stdout
        yield main, stdout
    finally:
        sys.stdout = saved_stdout
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        # Modules of the trial directory were compiled for this run's mode and architecture.
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and _within(file, root):
                del sys.modules[name]


def _mode_options() -> dict[str, Any]:
    """The mode's options from `$NAS_MODE_CONFIG` (JSON), as an experiment's trial gets them."""
    text = os.environ.get("NAS_MODE_CONFIG", "").strip() or "{}"
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrialError(f"NAS_MODE_CONFIG is not valid JSON: {error}") from None
    if not isinstance(options, dict):
        raise TrialError(f"NAS_MODE_CONFIG must be a JSON object, got {text!r}")
    return options


def run_script(script: str | Path, argv: Sequence[str] = (), *, mode: str = "classic",
               architecture_file: str | Path | None = None, seed: int | None = None,
               key_style: str = "stable") -> int:
    """Compile and run a trial script standalone; returns its exit status.

    Without `architecture_file` the architecture is sampled from the search space with `seed`
    (default `NAS_TRIAL_SEED`, else 0); with it, the file is checked against the search space
    before the script starts.
    """
    from nasctl.runtime.modes import has_mode, registered_modes

    from nasctl import annotator

    script = Path(script).resolve()
    if not script.is_file():
        raise TrialError(f"trial script {str(script)!r} does not exist or is not a file")
    try:
        mode = normalize_mode(mode)
    except ValueError as error:
        raise TrialError(f"--mode: {error}") from None
    if not has_mode(mode):
        raise TrialError(f"nas mode '{mode}' is not available yet (available: {', '.join(registered_modes())})")
    root = script.parent
    modules = local_modules(script, root)
    search_space = annotator.generate_search_space(root, key_style=key_style, only=modules)
    architecture = None
    if architecture_file is not None:
        architecture = load_architecture_file(architecture_file)
        validate_architecture(architecture, search_space, partial=True, source=str(architecture_file))
    if seed is None:
        text = os.environ.get("NAS_TRIAL_SEED", "").strip() or "0"
        try:
            seed = int(text)
        except ValueError:
            raise TrialError(f"NAS_TRIAL_SEED={text!r} is not an integer") from None
    code = compile(_compile(script.read_bytes(), script, root, mode, key_style), str(script), "exec",
                   dont_inherit=True)
    annotated = [str(path) for path in modules if any(mark in (root / path).read_bytes() for mark in _MARKERS)]
    print(f"compiled {', '.join(annotated) or script.name} (the script and the annotated modules it imports "
          f"from {root})", file=sys.stderr, flush=True)

    environ = {"NAS_TRIAL_SEED": str(seed), "NAS_MODE": mode}
    if architecture_file is not None:
        environ["NAS_ARCHITECTURE"] = str(Path(architecture_file).resolve())
    platform: StandalonePlatform | _EnasPlatform
    if mode == "enas":
        platform = _EnasPlatform.create(search_space, seed, architecture)
    else:
        platform = StandalonePlatform(architecture=architecture, search_space=search_space, seed=seed)
    context = TrialContext(platform, mode=mode, mode_config=_mode_options())
    status = 0
    finder = _AnnotatedFinder(root, mode, key_style)
    provide_nni()  # trial code written for NNI: `import nni`
    try:
        with use_context(context), _patched(root, script, argv, environ, finder) as (main, stdout):
            try:
                exec(code, main.__dict__)
            except SystemExit as exit_:
                status = _exit_status(exit_.code)
            except NasctlError:
                raise  # nasctl's own one-line error (exit status 2)
            except Exception as error:  # the script's error, shown as Python would, without nasctl's frames
                sys.stdout.flush()
                sys.stderr.write(format_exception(error))
                status = 1
            last = stdout.last_line()
    finally:
        context.close()
    if isinstance(platform, _EnasPlatform):
        last = platform.print_summary()
    if platform.final_result is None:
        if status == 0:
            print(f"error: {script.name} ended without reporting a final result "
                  "(nas.report_final_result / @nas.report_final_result)", file=sys.stderr)
            status = 1
        return status
    final = f"final result: {json.dumps(platform.final_result)}"
    if last.strip() != final:
        print(final, flush=True)
    return status


class _EnasPlatform:
    """Builds the in-process ENAS platform (torch is imported only when enas mode runs)."""

    final_result: Any = None

    @staticmethod
    def create(search_space: Mapping[str, Any], seed: int, architecture: Mapping[str, Any] | None) -> Any:
        """The ENAS controller (seeded with `seed`) in process; with `architecture`, that one subgraph."""
        from nasctl.runtime.modes.torch._inprocess import InProcessTunerPlatform

        from nasctl import tuners

        class EnasPlatform(InProcessTunerPlatform, _EnasPlatform):
            """The controller's platform; prints intermediate results now and the summary at the end."""

            def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
                super().send_metric(kind, value, parameter_id, sequence)
                if kind == "final":
                    self.final_result = value
                else:
                    print(f"intermediate result: {json.dumps(value)}", flush=True)

            def print_summary(self) -> str:
                if self.architectures:
                    print(f"derived architecture: {json.dumps(self.architectures[-1])}", flush=True)
                if self.final_result is None:
                    return ""
                line = f"final result: {json.dumps(self.final_result)}"
                print(line, flush=True)
                return line

        tuner = tuners.create("ENAS", seed=seed) if architecture is None else _OneSubgraph(architecture)
        return EnasPlatform(tuner, search_space, seed=seed, echo=False)

    def print_summary(self) -> str:
        """Print the last derived architecture and the final result; returns the last line printed."""
        raise NotImplementedError


class _OneSubgraph:
    """A "controller" that always proposes the same architecture (`--arch` in enas mode)."""

    def __init__(self, architecture: Mapping[str, Any]) -> None:
        self.architecture = json.loads(json.dumps(architecture))

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        pass

    def generate_parameters(self, parameter_id: int, **kw: Any) -> dict[str, Any]:
        return json.loads(json.dumps(self.architecture))

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any, **kw: Any) -> None:
        pass


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
