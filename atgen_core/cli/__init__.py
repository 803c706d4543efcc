"""The ``atgen`` command line.

Each core sub-command lives in its own module exposing ``register(subparsers)``; plugins add theirs
through the ``atgen_register_commands(cli)`` hook (see :mod:`atgen_core.cli.plugin_commands`). The
handler a command installs returns the process exit code. Errors the user can fix print one clear
message and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from atgen_core import __version__
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
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; the run directory keeps everything done so far (resume with `atgen resume`)",
              file=sys.stderr)
        code = 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
