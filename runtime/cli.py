"""The `nasctl` command: builds the parser from each part's sub-commands and runs one."""

from __future__ import annotations

import argparse
import errno
import importlib
import sqlite3
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands; each has `register(subparsers, trial_subparsers)`.
_COMMAND_MODULES = ("nasctl.runtime._cli_compile", "nasctl.runtime.trial._cli", "nasctl.runtime.manager._cli",
                   "nasctl.runtime.view._cli")


def build_parser() -> argparse.ArgumentParser:
    """The full `nasctl` parser."""
    parser = argparse.ArgumentParser(
        prog="nasctl", description="Neural architecture search from annotated training scripts."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    trial = commands.add_parser("trial", help="run, list and export trials")
    trial_commands = trial.add_subparsers(dest="trial_command", metavar="TRIAL_COMMAND")
    trial_commands.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(commands, trial_commands)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from nasctl.annotator import AnnotationError
    from nasctl.runtime.errors import NasError
    from nasctl.schemas import SchemaError
    from nasctl.tuners import TunerError

    return (AnnotationError, NasError, SchemaError, TunerError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as error:
        render = getattr(error, "render", None)
        print(render() if callable(render) else f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as error:
        return _system_error(error)


def _system_error(error: OSError | sqlite3.Error) -> int:
    """One line for a file-system failure: exit status 1 for a full disk, 2 for the rest (a bad path)."""
    full = (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)) or (
        isinstance(error, sqlite3.Error) and "full" in str(error))
    if isinstance(error, OSError):
        what = f"{error.filename}: {error.strerror}" if error.filename else (error.strerror or str(error))
        if isinstance(error, FileExistsError | NotADirectoryError):
            what += " (a file stands where a folder is needed)"
    else:
        what = f"the experiment database: {error}"
    if full:
        print(f"error: no space left on the disk ({what}); free some and run the command again", file=sys.stderr)
        return 1
    print(f"error: {what}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
