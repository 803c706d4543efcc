"""``atgen annotate RUN_DIR``: label the run's latest selection in a local web page.

The web app lives in the ``atgen-human-annotator`` plugin and is imported only when the command runs;
without the plugin the command prints how to install it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

INSTALL_HINT = "pip install atgen-human-annotator"
_PLUGIN_PACKAGE = "atgen_human_annotator"


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be a number from 0 to 65535, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be from 0 to 65535 (0 picks a free port), got {port}")
    return port


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``annotate`` sub-command."""
    parser = sub.add_parser(
        "annotate",
        help="label the latest selection of a run in a local web page (needs atgen-human-annotator)",
        description="Serve the pending items of the run's latest selection (and the ones you already did in "
        "that round) in a local web page. Every answer is stored in the run at once; stop with Ctrl-C and "
        "continue the run with `atgen resume RUN_DIR`.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=0, help="TCP port (default 0: a free port)")
    parser.add_argument("--annotator", default="human", metavar="NAME",
                        help="name stored with each answer (default: human)")
    parser.add_argument("--guidelines", type=Path, metavar="FILE",
                        help="guidelines text file (default: the run's human annotator config, if any)")
    parser.add_argument("--open-browser", action="store_true", help="open the page in the default browser")
    parser.set_defaults(func=_annotate)


def _annotate(args: argparse.Namespace) -> int:
    try:
        from atgen_human_annotator.cli import serve_run
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing == _PLUGIN_PACKAGE or missing.startswith(_PLUGIN_PACKAGE + "."):
            print(f"error: `atgen annotate` needs the human annotation web app: {INSTALL_HINT}", file=sys.stderr)
        else:
            print(f"error: the atgen-human-annotator plugin is installed but cannot be imported ({exc}); "
                  f"reinstall it: {INSTALL_HINT}", file=sys.stderr)
        return 2
    return int(serve_run(args.run_dir, host=args.host, port=args.port, annotator=args.annotator,
                         guidelines_file=args.guidelines, open_browser=args.open_browser))
