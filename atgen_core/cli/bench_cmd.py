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
    bench.add_argument("--dry-run", action="store_true",
                       help="print the grid, what is finished, and a wall-time estimate; run nothing")
    bench.add_argument("--no-calibration", action="store_true", help="with --dry-run: skip the timing calibration")
    bench.add_argument("-j", "--jobs", type=_positive, default=1, help="cells run at once, in worker processes")
    bench.add_argument("--threads", type=_positive, default=None,
                       help="torch threads per cell (default: CPU cores divided by --jobs)")
    bench.add_argument("--cell", type=int, default=None, help=argparse.SUPPRESS)
    bench.set_defaults(func=_benchmark)
    report = sub.add_parser("report", help="learning curves, savings against random, cost and selection bias")
    report.add_argument("paths", type=Path, nargs="+", help="run directories or a benchmark directory")
    report.add_argument("-o", "--output", type=Path, help="report folder (default: <first path>/report)")
    report.add_argument("-m", "--metric", action="append", default=None,
                        help="only these metric keys (the first one is the headline verdict's)")
    report.add_argument("--include-unfinished", action="store_true",
                        help="keep runs that are still running or stopped early (skipped with a warning otherwise)")
    report.add_argument("--reference", type=Path, metavar="FILE",
                        help="also write a reference file (per strategy, label count and seed) for the verdict "
                        "of single runs whose spec names it (spec key 'reference')")
    report.add_argument("--reference-metric", default="rougeL", help="metric kept in the reference file")
    report.set_defaults(func=_report)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _benchmark(args: argparse.Namespace) -> int:
    from atgen_core.bench.runner import run_benchmark
    from atgen_core.report import build_report

    _console_logging(args.quiet)
    try:
        if args.cell is not None:
            return _one_cell(args)
        if args.dry_run:
            from atgen_core.bench.plan import dry_run

            print(dry_run(args.spec, load_registry_for(args), jobs=args.jobs, threads=args.threads,
                          calibration=not args.no_calibration))
            return 0
        root = run_benchmark(args.spec, registry=load_registry_for(args), progress=False if args.quiet else None,
                             jobs=args.jobs, threads=args.threads, plugins=args.plugin)
        if not args.no_report:
            build_report([root], root / "report")
            print(f"report: {root / 'report' / 'report.md'}")
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _one_cell(args: argparse.Namespace) -> int:
    """A worker of ``--jobs``: run cell ``args.cell`` of the grid in this process."""
    from atgen_core.bench.runner import ELSEWHERE_EXIT, apply_threads, default_threads, run_cell
    from atgen_core.bench.validate import validate_benchmark

    apply_threads(args.threads or default_threads(1))
    # The parent checked the environment of every cell; the cell's own run checks it again for itself.
    valid = validate_benchmark(args.spec, load_registry_for(args), environment=False)
    state = run_cell(valid, args.cell, progress=False)
    return ELSEWHERE_EXIT if state == "elsewhere" else 0


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
    if args.reference is not None:
        from atgen_core.analysis.reference import write_reference

        data = write_reference(args.paths[0], args.reference_metric, args.reference)
        shown = ", ".join(data["curves"])
        print(f"wrote {args.reference} ({args.reference_metric}; seeds {data['seeds']}; {shown})")
    return 0
