"""`nasctl view [ID] [--port P]`: serve the read-only experiment page until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(commands: argparse._SubParsersAction, trial_commands: argparse._SubParsersAction) -> None:
    """Add `view` to `nasctl`."""
    view = commands.add_parser(
        "view", help="a read-only web page of the experiments, on 127.0.0.1",
        description="Serve a read-only page of the experiments under $NAS_HOME on http://127.0.0.1:PORT/: "
                    "trials (sortable, filtered by status), intermediate curves, parameters against the value, "
                    "the best architecture, and darts architecture weights. It refreshes while experiments run.")
    view.add_argument("id", metavar="ID", nargs="?", help="the experiment to open on (default: the newest)")
    view.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0: any free port)")
    view.set_defaults(func=_view)


def _view(args: argparse.Namespace) -> int:
    from nasctl.runtime.errors import ExperimentError
    from nasctl.runtime.manager._experiment import Experiment, nas_home
    from nasctl.runtime.view._server import ViewServer

    if not 0 <= args.port <= 65535:
        raise ExperimentError(f"--port {args.port}: a port is between 0 and 65535")
    home = nas_home()
    if args.id is not None:
        Experiment.load(args.id, nas_home=home)  # a clear error for an unknown id, before serving
    server = ViewServer(home, port=args.port, experiment_id=args.id)
    target = f"#{args.id}" if args.id else ""
    print(f"nasctl view of {home}: {server.url}{target}  (read-only; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("view stopped", file=sys.stderr)
    return 0
