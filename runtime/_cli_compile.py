"""`nasctl compile` and `nasctl search-space`: the annotation compiler on the command line.

Errors are raised as `nasctl.annotator.AnnotationError`; `nasctl.runtime.cli.main` prints them compiler-style
(`path:line:col: error: ...`, the source line, a caret), one per bad file, and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


def _modes() -> list[str]:
    from nasctl.annotator import MODES

    return [*MODES, *(f"{mode}_mode" for mode in MODES)]


def _key_styles() -> tuple[str, ...]:
    from nasctl.annotator import KEY_STYLES

    return KEY_STYLES


class _Choices:
    """An option's accepted values, taken from the compiler when first needed, so that building the
    parser (for `nasctl experiment list`, say) does not import it. Give the option a metavar."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load

    def __contains__(self, value: object) -> bool:
        return value in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())


def register(commands: Any, trial_commands: Any) -> None:
    """Add `compile` and `search-space` to the `nasctl` sub-command parsers."""
    compile_parser = commands.add_parser(
        "compile",
        help="expand the annotations of a file or directory",
        description="Compile the annotations of SRC (a file or a directory tree) into DST. Files "
        "without annotations and non-Python files are copied unchanged; on any error nothing is "
        "written.",
    )
    compile_parser.add_argument("src", metavar="SRC", help="annotated Python file or directory")
    compile_parser.add_argument(
        "-o", "--output", dest="dst", metavar="DST", required=True, help="where to write"
    )
    compile_parser.add_argument(
        "--mode", default="classic", choices=_Choices(_modes), metavar="MODE",
        help="NAS mode (default: classic)"
    )
    compile_parser.add_argument(
        "--key-style",
        default="stable",
        choices=_Choices(_key_styles),
        metavar="STYLE",
        help="search-space keys: stable (default) or NNI's",
    )
    compile_parser.add_argument(
        "--search-space", metavar="FILE", help="also write the search space as JSON to FILE"
    )
    compile_parser.set_defaults(func=_compile)

    space_parser = commands.add_parser(
        "search-space",
        help="print the JSON search space of a file or directory",
        description="Write the JSON search space of SRC (annotations and hand-written nas.* calls).",
    )
    space_parser.add_argument("src", metavar="SRC", help="annotated Python file or directory")
    space_parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    space_parser.add_argument(
        "--key-style",
        default="stable",
        choices=_Choices(_key_styles),
        metavar="STYLE",
        help="search-space keys: stable (default) or NNI's",
    )
    space_parser.set_defaults(func=_search_space)


def _dump(space: dict[str, Any]) -> str:
    return json.dumps(space, indent=2, ensure_ascii=False) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _compile(args: argparse.Namespace) -> int:
    from nasctl.annotator import expand_annotations

    space = expand_annotations(args.src, args.dst, args.mode, key_style=args.key_style)
    if args.search_space:
        _write_atomically(Path(args.search_space), _dump(space))
    print(f"compiled {args.src} -> {args.dst} ({len(space)} search-space entries)", file=sys.stderr)
    return 0


def _search_space(args: argparse.Namespace) -> int:
    from nasctl.annotator import generate_search_space

    space = generate_search_space(args.src, key_style=args.key_style)
    if args.output:
        _write_atomically(Path(args.output), _dump(space))
    else:
        sys.stdout.write(_dump(space))
    return 0
