"""``atgen validate`` and ``atgen schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from atgen_core.errors import SpecError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``validate`` and ``schema`` sub-commands."""
    validate = sub.add_parser("validate", help="check a spec without running it (all problems at once)")
    validate.add_argument("spec", type=Path, help="experiment or benchmark spec (JSON)")
    validate.add_argument("-o", "--output-dir", type=Path, help="check this run directory instead of output_dir")
    validate.add_argument("--spec-only", action="store_true",
                          help="check the spec alone: not the data files, environment variables, model paths "
                          "or the run directory (e.g. on a machine without the data)")
    validate.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                          help="also load this module as a plugin (repeatable)")
    validate.set_defaults(func=_validate)
    schema = sub.add_parser("schema", help="print the JSON Schema of specs with every installed plugin's config")
    schema.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    schema.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE")
    schema.set_defaults(func=_schema)


def load_registry_for(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The registry with the CLI's extra ``--plugin`` modules (and ``ATGEN_PLUGIN_MODULES``) loaded."""
    import importlib
    import os

    from atgen_core.plugins import get_registry, load_registry

    modules = list(getattr(args, "plugin", []) or [])
    modules += [m for m in os.environ.get("ATGEN_PLUGIN_MODULES", "").split(",") if m.strip()]
    if not modules:
        return get_registry()
    extra = [(m.strip(), importlib.import_module(m.strip())) for m in modules]
    return load_registry(plugins=extra)


def _validate(args: argparse.Namespace) -> int:
    from atgen_core.preflight import check_spec
    from atgen_core.spec import load_spec_file, raw_run_dir

    registry = load_registry_for(args)
    try:
        raw = load_spec_file(args.spec)
        if "base" in raw or "strategies" in raw:  # a benchmark spec
            from atgen_core.bench.validate import describe_benchmark, validate_benchmark

            print(describe_benchmark(validate_benchmark(args.spec, registry)))
            return 0
        checked = check_spec(raw, registry, source=str(args.spec), base_dir=args.spec.resolve().parent,
                             run_dir=None if args.spec_only else args.output_dir or raw_run_dir(raw),
                             environment=not args.spec_only)
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    resolved = checked.resolved
    if args.spec_only:
        print(f"{args.spec}: the spec is valid (data, environment and run directory not checked: --spec-only)")
        return 0
    from atgen_core.errors import StoreError
    from atgen_core.rundir import canonical_spec, refuse_other_spec

    try:
        refuse_other_spec(args.output_dir or resolved.spec.run_dir(), canonical_spec(resolved.spec))
    except StoreError as exc:
        print(f"1 problem in {args.spec}:\n  output_dir: {exc}", file=sys.stderr)
        return 2
    spec = resolved.spec
    print(
        f"{args.spec}: valid. strategy={resolved.strategy.name}, annotator={resolved.annotator.name}, "
        f"trainer={resolved.trainer.name}, metrics={','.join(m.name for m in resolved.metrics)}, "
        f"run dir={spec.run_dir()}"
    )
    if checked.data is not None:
        print(f"data: {len(checked.data.pool)} pool examples, {len(checked.data.test)} test examples")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from atgen_core.spec import build_schema

    text = json.dumps(build_schema(load_registry_for(args)), indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0
