"""The ``atgen`` command line.

Each core sub-command lives in its own module exposing ``register(subparsers)``; plugins add theirs
through the ``atgen_register_commands(cli)`` hook (see :mod:`atgen_core.cli.plugin_commands`). The
handler a command installs returns the process exit code. Errors the user can fix print one clear
message and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

from atgen_core import __version__
from atgen_core.errors import AtgenError
from atgen_core.registry import PluginFailure, Registry

COMMAND_MODULES = (
    "atgen_core.cli.plugins_cmd",
    "atgen_core.cli.spec_cmd",
    "atgen_core.cli.run_cmd",
    "atgen_core.cli.bench_cmd",
    "atgen_core.cli.export_cmd",
    "atgen_core.cli.plugin_new_cmd",
)


def build_parser(registry: Registry | None = None) -> tuple[argparse.ArgumentParser, list[PluginFailure]]:
    """The top-level parser with every core and plugin sub-command, and the plugins whose commands failed.

    ``registry`` defaults to the installed plugins (``get_registry()``).
    """
    from atgen_core.cli.plugin_commands import add_plugin_commands
    from atgen_core.plugins import get_registry

    parser = argparse.ArgumentParser(
        prog="atgen", description="Active learning for text generation: pick, label, fine-tune, measure."
    )
    parser.add_argument("--version", action="version", version=f"atgen-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    failures = add_plugin_commands(sub, registry if registry is not None else get_registry())
    return parser, failures


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that a stopped run closes its components, store and lock
    (a human annotator's page stops and its ``annotate.url`` is removed) like after Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None, *, registry: Registry | None = None) -> int:
    """Entry point of the ``atgen`` console script."""
    parser, failures = build_parser(registry)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["list-plugins"]:  # list-plugins shows them under FAILED
        for failure in failures:
            print(f"atgen: warning: {failure.describe()}; hint: {failure.hint}", file=sys.stderr)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = int(args.func(args) or 0)
    except Terminated:
        # Like Ctrl-C (exit 130), as the human annotator's server also treats SIGTERM.
        print("interrupted (SIGTERM); the run directory keeps everything done so far (resume with "
              "`atgen resume`)", file=sys.stderr)
        code = 130
    except KeyboardInterrupt:
        print("interrupted; the run directory keeps everything done so far (resume with `atgen resume`)",
              file=sys.stderr)
        code = 130
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except BrokenPipeError:
        # The reader went away (``atgen ... | head``): stop quietly, like other command-line tools.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        code = 141
    except Exception:
        traceback.print_exc()
        print(
            f"\nThis is a bug in atgen or in a plugin, not a mistake in your spec (atgen-core {__version__}). "
            "Please report it with the traceback above.",
            file=sys.stderr,
        )
        code = 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
