"""`nasctl trial run SCRIPT [--mode M] [--arch FILE] [--seed N] [--key-style S] [-- ARGS]`."""

from __future__ import annotations

import argparse
from typing import Any

from nasctl.runtime.errors import TrialError


def _add_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--mode", default=default, help="nas mode: classic (default), enas, oneshot, darts")
    parser.add_argument("--arch", metavar="FILE", default=default,
                        help="architecture JSON file (default: sample one with the seed)")
    parser.add_argument("--seed", type=int, default=default,
                        help="seed for sampling and the script's NAS_TRIAL_SEED (default: NAS_TRIAL_SEED or 0)")
    parser.add_argument("--key-style", dest="key_style", choices=("stable", "nni"), default=default,
                        help="search-space key style of the compiler (default: stable)")


def register(commands: Any, trial_commands: Any) -> None:
    """Add `trial run` to the `trial` group (docs/internals.md, "CLI registration")."""
    run = trial_commands.add_parser(
        "run", help="compile a trial script in memory and run it standalone",
        usage="nasctl trial run SCRIPT [--mode M] [--arch FILE] [--seed N] [--key-style {stable,nni}] [-- ARGS]",
        description="Compile SCRIPT and its directory in memory and run it standalone, with the "
                    "architecture of --arch or one sampled with --seed. Prints each reported result; "
                    "the last line is 'final result: <json>'. Arguments after '--' go to the script.")
    _add_options(run)
    # argparse cannot mix options after a positional with a free tail; the tail is split in `_run`.
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="SCRIPT [options] [-- ARGS]")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from nasctl.runtime.trial._runner import run_script

    words = list(args.command)
    if not words or words[0].startswith("-"):
        raise TrialError("trial run needs the script first: nasctl trial run SCRIPT [options] [-- ARGS]")
    head, tail = (words[: words.index("--")], words[words.index("--") + 1:]) if "--" in words else (words, [])
    late = argparse.ArgumentParser(prog="nasctl trial run SCRIPT", add_help=False)
    _add_options(late)
    options, unknown = late.parse_known_args(head[1:])
    if unknown:
        raise TrialError(f"trial run: unrecognized arguments {' '.join(unknown)}; arguments for the script go "
                         "after '--'")
    for name, value in vars(options).items():
        if value is not None:
            setattr(args, name, value)
    return run_script(head[0], tail, mode=args.mode or "classic", architecture_file=args.arch, seed=args.seed,
                      key_style=args.key_style or "stable")
