"""``atgen benchmark`` and ``atgen report``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from atgen_core.cli.run_cmd import _console_logging
from atgen_core.cli.spec_cmd import load_registry_for
from atgen_core.errors import AtgenError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``benchmark`` and ``report`` sub-commands."""
    bench = sub.add_parser("benchmark", help="run a grid of strategies x seeds (resumable), then report it")
    bench.add_argument("spec", type=Path, help="benchmark spec (JSON): base experiment + strategies + seeds")
    bench.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE")
    bench.add_argument("-q", "--quiet", action="store_true")
    bench.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    bench.set_defaults(func=_benchmark)
    report = sub.add_parser("report", help="learning curves, savings against random, cost and selection bias")
    report.add_argument("paths", type=Path, nargs="+", help="run directories or a benchmark directory")
    report.add_argument("-o", "--output", type=Path, help="report folder (default: <first path>/report)")
    report.add_argument("-m", "--metric", action="append", default=None,
                        help="only these metric keys (the first one is the headline verdict's)")
    report.add_argument("--include-unfinished", action="store_true",
                        help="keep runs that are still running or stopped early (skipped with a warning otherwise)")
    report.set_defaults(func=_report)


def _benchmark(args: argparse.Namespace) -> int:
    from atgen_core.benchmark import run_benchmark
    from atgen_core.report import build_report

    _console_logging(args.quiet)
    try:
        root = run_benchmark(args.spec, registry=load_registry_for(args), progress=False if args.quiet else None)
        if not args.no_report:
            build_report([root], root / "report")
            print(f"report: {root / 'report' / 'report.md'}")
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _report(args: argparse.Namespace) -> int:
    from atgen_core.report import build_report

    output = args.output or (args.paths[0] / "report")
    try:
        summary = build_report(args.paths, output, metrics=args.metric, include_unfinished=args.include_unfinished)
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print((output / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {output} ({summary['runs']} runs)")
    return 0
