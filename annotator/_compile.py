"""The compiler's public API: one source string, a file, or a directory tree."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasctl.annotator._codegen import compile_ir
from nasctl.annotator._errors import AnnotationError, AnnotationErrors, ArchitectureMismatch
from nasctl.annotator._inline import inline_ir, used_keys
from nasctl.annotator._ir import ModuleIR
from nasctl.annotator._parse import KEY_STYLES, parse_module
from nasctl.annotator._search_space import SpaceBuilder, module_search_space
from nasctl.annotator._source import read_source

from nasctl.searchspace import normalize_mode


@dataclass(frozen=True)
class CompileResult:
    """The compiled code of one module and its search space."""

    code: str
    search_space: dict[str, Any]


def _check_key_style(key_style: str) -> None:
    if key_style not in KEY_STYLES:
        raise ValueError(f"unknown key_style {key_style!r}; expected one of: {', '.join(KEY_STYLES)}")


def compile_source(
    text: str, module: str, mode: str = "classic", *, path: str | None = None, key_style: str = "stable"
) -> CompileResult:
    """Expand the annotations of one source string.

    `module` is the dotted module name used in search-space keys; `path` is what error messages
    call the source (default `<module>.py`).

    >>> result = compile_source("x = 1\\n'''@nas.report_final_result(x)'''\\n", "demo")
    >>> print(result.code, end="")
    import nas as _nas; x = 1
    _nas.report_final_result(x)
    """
    _check_key_style(key_style)
    canonical = normalize_mode(mode)
    ir = parse_module(text, module, path or f"{module.replace('.', '/')}.py", key_style)
    return CompileResult(compile_ir(ir, canonical), module_search_space(ir))


def _module_name(relative: Path) -> str:
    return ".".join(relative.with_suffix("").parts)


def is_environment(folder: Path) -> bool:
    """A folder that holds no trial code: hidden (`.git`, `.venv`), a virtualenv or conda
    environment under any name, or `__pycache__`. Its files are never compiled or searched."""
    name = folder.name
    return (name.startswith(".") or name == "__pycache__" or (folder / "pyvenv.cfg").is_file()
            or (folder / "conda-meta").is_dir())


def _python_files(root: Path, skip: Path | None, environments: list[Path] | None = None) -> Iterator[tuple[Path, Path]]:
    """(path, path relative to root) of every file under `root`, sorted; `.py` files and the rest.

    Environments (`is_environment`) are not entered: they go to `environments` when it is given
    (except `__pycache__`), and are walked as plain files to copy otherwise.
    """
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        kept = []
        for d in sorted(dirs):
            if d == "__pycache__" or (skip is not None and (here / d).resolve() == skip):
                continue
            if environments is not None and is_environment(here / d):
                environments.append((here / d).relative_to(root))
                continue
            kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            yield here / name, (here / name).relative_to(root)


def _searched(relative: Path, root: Path | None = None) -> bool:
    """Python files outside environments (hidden folders, virtualenvs) are compiled; the rest is copied."""
    if relative.suffix != ".py" or any(part.startswith(".") for part in relative.parts[:-1]):
        return False
    if root is None:
        return True
    folder = root
    for part in relative.parts[:-1]:
        folder = folder / part
        if is_environment(folder):
            return False
    return True


def _each_module(
    src: Path,
    skip: Path | None,
    visit: Callable[[Path, Path, ModuleIR | None, str], None],
    key_style: str,
    environments: list[Path] | None = None,
    only: set[Path] | None = None,
) -> None:
    """Call `visit(path, relative, ir, encoding)` for every file (ir None: not Python); one error per bad file.

    With `only` (paths relative to `src`), the other files are neither parsed nor visited.
    """
    errors: list[AnnotationError] = []
    if src.is_file():
        entries: Iterator[tuple[Path, Path]] = iter([(src, Path(src.name))])
    elif src.is_dir():
        entries = _python_files(src, skip, environments)
    else:
        raise AnnotationError("no such file or directory", str(src), 0, 0)
    for path, relative in entries:
        if only is not None and relative not in only:
            continue
        shown = str(path)
        if not _searched(relative, src) and not src.is_file():
            visit(path, relative, None, "")
            continue
        try:
            text, encoding = read_source(path, shown)
            ir = parse_module(text, _module_name(relative), shown, key_style)
            visit(path, relative, ir, encoding)
        except AnnotationErrors as error:
            errors.extend(error.errors)
        except AnnotationError as error:
            errors.append(error)
        except OSError as error:
            errors.append(AnnotationError(f"cannot read the file: {error.strerror or error}", shown, 0, 0))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise AnnotationErrors(errors)


def _replace_atomically(dst: Path, build: Callable[[Path], None]) -> None:
    """Build the output in a temporary sibling of `dst`, then move it into place; on error nothing is left."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        target = staging / "out"
        build(target)
        if dst.exists() and target.is_dir() != (dst.is_dir() and not dst.is_symlink()):
            kind = "a directory" if dst.is_dir() else "a file"
            raise AnnotationError(
                f"the destination exists and is {kind}; remove it or choose another", str(dst), 0, 0
            )
        if target.is_dir() and dst.exists():
            old = staging / "old"
            dst.rename(old)
            try:
                target.rename(dst)
            except OSError:
                old.rename(dst)
                raise
        else:
            os.replace(target, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _resolve_destination(src: Path, dst: Path) -> Path:
    if src.is_file() and dst.is_dir():
        dst = dst / src.name
    resolved_src, resolved_dst = src.resolve(), dst.resolve()
    if resolved_dst == resolved_src or resolved_src.is_relative_to(resolved_dst):
        raise AnnotationError(
            f"the destination {dst} would overwrite the source; choose another destination", str(dst), 0, 0
        )
    return dst


def _transform_tree(
    src: Path,
    dst: Path,
    key_style: str,
    transform: Callable[[ModuleIR], str],
    observe: Callable[[ModuleIR], None],
    after: Callable[[], None] | None = None,
    compiled: list[Path] | None = None,
    link_environments: bool = False,
) -> None:
    dst = _resolve_destination(src, dst)
    skip = dst.resolve() if src.is_dir() else None
    outputs: list[tuple[Path, Path, str | None, str]] = []
    environments: list[Path] | None = [] if link_environments else None

    def visit(path: Path, relative: Path, ir: ModuleIR | None, encoding: str) -> None:
        if ir is not None:
            observe(ir)
        if ir is None or not ir.annotations:
            outputs.append((path, relative, None, ""))
        else:
            outputs.append((path, relative, transform(ir), encoding))
            if compiled is not None:
                compiled.append(relative)

    _each_module(src, skip, visit, key_style, environments)
    if after is not None:
        after()

    folders: list[Path] = []
    if src.is_dir():
        for folder, dirs, _ in os.walk(src):
            here = Path(folder)
            dirs[:] = [
                d for d in dirs if d != "__pycache__" and (skip is None or (here / d).resolve() != skip)
                and (environments is None or here / d not in {src / e for e in environments})
            ]
            folders.append(here.relative_to(src))

    def build(target: Path) -> None:
        if src.is_file():
            path, _, code, encoding = outputs[0]
            if code is None:
                shutil.copy2(path, target)
            else:
                target.write_bytes(code.encode(encoding))
                shutil.copymode(path, target)
            return
        for folder in folders:
            (target / folder).mkdir(parents=True, exist_ok=True)
        for path, relative, code, encoding in outputs:
            out = target / relative
            if code is None:
                shutil.copy2(path, out)
            else:
                out.write_bytes(code.encode(encoding))
                shutil.copymode(path, out)
        for relative in environments or ():
            if relative.name != "__pycache__":
                (target / relative).symlink_to((src / relative).resolve(), target_is_directory=True)

    _replace_atomically(dst, build)


def expand_annotations(
    src: str | Path,
    dst: str | Path,
    mode: str = "classic",
    *,
    key_style: str = "stable",
    compiled: list[Path] | None = None,
    link_environments: bool = False,
) -> dict[str, Any]:
    """Compile a file or a directory tree into `dst` and return the search space.

    Files without annotations and non-Python files are copied unchanged. Module names in keys are
    paths relative to `src`, dotted. All files are checked before anything is written; with errors,
    one `AnnotationError` per bad file is raised (an `AnnotationErrors` when there are several) and
    `dst` is left as it was. Hidden folders and virtualenvs are never compiled; with
    `link_environments` they are linked into `dst` instead of copied (an experiment's code folder).
    `compiled`, when given, receives the paths (relative to `src`) of the files that had annotations.
    """
    _check_key_style(key_style)
    canonical = normalize_mode(mode)
    builder = SpaceBuilder()
    _transform_tree(Path(src), Path(dst), key_style, lambda ir: compile_ir(ir, canonical), builder.add_module,
                    compiled=compiled, link_environments=link_environments)
    return builder.space


def generate_search_space(
    src: str | Path, *, key_style: str = "stable", only: Iterable[str | Path] | None = None
) -> dict[str, Any]:
    """The search space of a file or a directory tree, without writing anything.

    Annotations and hand-written calls (`nas.choice(..., key=...)`, `nni.choice(..., name=...)`,
    `nas.mutable_layer(...)`) are both found. `only` (paths relative to the directory `src`)
    restricts it to those files; hidden folders and virtualenvs are never searched.
    """
    _check_key_style(key_style)
    builder = SpaceBuilder()

    def visit(path: Path, relative: Path, ir: ModuleIR | None, encoding: str) -> None:
        if ir is not None:
            builder.add_module(ir)

    selected = None if only is None else {Path(path) for path in only}
    _each_module(Path(src), None, visit, key_style, [], selected)
    return builder.space


def inline_architecture(
    src: str | Path, dst: str | Path, architecture: dict[str, Any], *, key_style: str = "stable"
) -> None:
    """Write the code of one trial: every annotation resolved by `architecture`, as plain Python.

    Layers become direct calls of the chosen candidate on `[[fixed...], [chosen...]]`, variables and
    function choices their chosen source text, reports `print(...)` calls; the result runs without
    nasctl installed. An architecture that does not fit raises `ArchitectureMismatch` naming the key.
    """
    _check_key_style(key_style)
    if not isinstance(architecture, dict):
        raise ArchitectureMismatch("an architecture must be a JSON object", "", str(src), 0, 0)
    seen: set[str] = set()

    def observe(ir: ModuleIR) -> None:
        seen.update(used_keys(ir))

    def check_unused() -> None:
        unused = sorted(set(architecture) - seen)
        if unused:
            raise ArchitectureMismatch("not in the search space of this code", unused[0], str(src), 0, 0)

    _transform_tree(
        Path(src), Path(dst), key_style, lambda ir: inline_ir(ir, architecture), observe, check_unused
    )
