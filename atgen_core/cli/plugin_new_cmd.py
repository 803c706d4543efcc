"""``atgen plugin new NAME --kind KIND``: start a plugin distribution from the template."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from atgen_core.errors import AtgenError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``plugin`` command group with ``plugin new``."""
    group = sub.add_parser("plugin", help="plugin authoring tools (plugin new)")
    actions = group.add_subparsers(dest="plugin_command", metavar="ACTION")
    new = actions.add_parser(
        "new",
        help="create a plugin distribution (atgen-NAME) from the template",
        description="Create the folder atgen-NAME: a pip-installable distribution with one working component "
        "of KIND named NAME, its entry point, README and tests (contract checks included).",
    )
    new.add_argument("name", metavar="NAME", help="component and entry-point name, e.g. shortest-first")
    new.add_argument("--kind", required=True, choices=("strategy", "annotator", "metric", "trainer"),
                     help="the component kind to start from")
    new.add_argument("-o", "--output-dir", type=Path, default=Path("."), help="where to create atgen-NAME")
    new.add_argument("--description", default=None, help="one-line description for pyproject.toml")
    new.set_defaults(func=_new)
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])


def _new(args: argparse.Namespace) -> int:
    from atgen_core.plugin_template import new_plugin

    try:
        path = new_plugin(args.name, args.kind, args.output_dir, description=args.description)
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"created {path}")
    print(f"next: pip install -e '{path}[test]' && atgen list-plugins --kind {args.kind} && pytest {path / 'tests'}")
    return 0
