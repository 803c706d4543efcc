"""``atgen export``: a run's labelled set (and pool) as a ``datasets`` folder, JSONL or Parquet, or to the Hub."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from atgen_core.errors import AtgenError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``export`` sub-command."""
    parser = sub.add_parser(
        "export",
        help="write a run's labelled set as a Hugging Face datasets folder, JSONL or Parquet",
        description="Write the labelled set of RUN_DIR (input, target, annotator, cost, round, ...) as a folder "
        "for datasets.load_from_disk, or as JSONL / Parquet files; --include-pool adds every pool example "
        "with the round that selected it. --push-to-hub uploads to a Hugging Face dataset repo instead "
        "(needs the network and HF_TOKEN or `huggingface-cli login`).",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run directory (the spec's output_dir)")
    parser.add_argument("--format", dest="fmt", choices=("datasets", "jsonl", "parquet"), default="datasets",
                        help="output format (default: datasets)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output directory (default: RUN_DIR/export/FORMAT)")
    parser.add_argument("--include-pool", action="store_true",
                        help="also write the pool with each example's selection round, status and label")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output directory")
    parser.add_argument("--push-to-hub", metavar="REPO", default=None,
                        help="push to this Hugging Face Hub dataset repo (e.g. me/my-labels) instead of writing files")
    parser.add_argument("--public", action="store_true", help="with --push-to-hub: make the repo public")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from atgen_core.export import export_run, push_to_hub

    try:
        if args.push_to_hub:
            repo = push_to_hub(args.run_dir, args.push_to_hub, include_pool=args.include_pool,
                               private=not args.public)
            print(f"pushed to the hub dataset repo {repo}")
            return 0
        result = export_run(args.run_dir, args.fmt, args.output, include_pool=args.include_pool,
                            overwrite=args.overwrite)
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    counts = ", ".join(f"{name}: {n} rows" for name, n in result.rows.items())
    print(f"exported {counts} as {result.format} to {result.path}")
    if result.format == "datasets":
        print(f"load it with: datasets.load_from_disk({str(result.path)!r})")
    return 0
