"""``atgen run``, ``atgen resume`` and ``atgen status``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from atgen_core.cli.spec_cmd import load_registry_for
from atgen_core.errors import AtgenError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``run``, ``resume`` and ``status`` sub-commands."""
    run = sub.add_parser("run", help="run an experiment (continues it if its run directory exists)")
    run.add_argument("spec", type=Path, help="experiment spec (JSON)")
    run.add_argument("-o", "--output-dir", type=Path, help="run directory (default: the spec's output_dir)")
    _common(run)
    run.set_defaults(func=_run)
    resume = sub.add_parser("resume", help="continue a stopped run from its run directory")
    resume.add_argument("run_dir", type=Path)
    _common(resume)
    resume.set_defaults(func=_resume)
    status = sub.add_parser("status", help="progress, labels spent, budget left and last metrics of a run")
    status.add_argument("run_dir", type=Path)
    status.set_defaults(func=_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                        help="also load this module as a plugin (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or step log on the console")


def _console_logging(quiet: bool) -> None:
    logger = logging.getLogger("atgen")
    if quiet:
        # Warnings still reach the console; the step log goes only to the run's run.log. Without turning
        # propagation off, a library that configured the root logger would print every step anyway.
        logger.propagate = False
        if not any(getattr(h, "_atgen_console", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setLevel(logging.WARNING)
            handler.setFormatter(logging.Formatter("[atgen] %(levelname)s: %(message)s"))
            handler._atgen_console = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        return
    if any(getattr(h, "_atgen_console", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[atgen] %(message)s"))
    handler._atgen_console = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Libraries that call ``logging.info(...)`` give the root logger a handler of its own; without this
    # every step would be printed twice.
    logger.propagate = False


def _execute(make, quiet: bool) -> int:  # type: ignore[no-untyped-def]
    _console_logging(quiet)
    try:
        experiment = make()
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    with experiment:
        try:
            summary = experiment.run()
        except AtgenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            with contextlib.suppress(AtgenError):  # `atgen status` shows why the run stopped
                experiment.store.set_meta("status", f"stopped: {str(exc).splitlines()[0][:300]}")
            return exc.exit_code
    print(summary.table())
    print(f"stopped: {summary.stop_reason}; labels: {summary.labels}; spent: {summary.money:.4f}")
    if summary.verdict:
        print(summary.verdict)
    print(f"run directory: {summary.run_dir}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from atgen_core.loop import Experiment

    registry_or_error = _registry(args)
    if isinstance(registry_or_error, int):
        return registry_or_error
    return _execute(
        lambda: Experiment.from_spec(args.spec, registry=registry_or_error, run_dir=args.output_dir,
                                     progress=None if not args.quiet else False),
        args.quiet,
    )


def _resume(args: argparse.Namespace) -> int:
    from atgen_core.loop import Experiment

    registry_or_error = _registry(args)
    if isinstance(registry_or_error, int):
        return registry_or_error
    return _execute(
        lambda: Experiment.resume(args.run_dir, registry=registry_or_error,
                                  progress=None if not args.quiet else False),
        args.quiet,
    )


def _registry(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    try:
        return load_registry_for(args)
    except ImportError as exc:
        print(f"error: cannot import plugin module: {exc}", file=sys.stderr)
        return 2


def _status(args: argparse.Namespace) -> int:
    from atgen_core.store import RunStore, lock_holder

    store = RunStore(args.run_dir, read_only=True)
    try:
        _print_status(store, args.run_dir, lock_holder(args.run_dir))
    finally:
        store.close()
    return 0


def _print_status(store, run_dir: Path, holder: int | None) -> None:  # type: ignore[no-untyped-def]
    import json

    spec_text = store.get_meta("spec")
    spec = json.loads(spec_text) if spec_text else {}
    n_labels, money = store.spent()
    budget = spec.get("loop", {}).get("budget", {})
    rounds = 0
    while store.selection(rounds) is not None:
        rounds += 1
    status = store.get_meta("status") or "not started"
    if holder is not None:
        status = f"running (process {holder})" if holder > 0 else "running"
    elif status == "running":
        status = "stopped: the process that ran it is gone (continue with `atgen resume`)"
    print(f"run: {spec.get('name', '?')} ({run_dir})")
    print(f"status: {status}")
    print(f"rounds selected: {rounds} of {spec.get('loop', {}).get('iterations', 0) + 1}")
    label_budget = budget.get("labels")
    money_budget = budget.get("money")
    left = f", {label_budget - n_labels} left" if label_budget else ""
    print(f"labels: {n_labels}{left}")
    currency = budget.get("currency", "")
    money_left = f", {money_budget - money:.4f} left" if money_budget else ""
    print(f"spent: {money:.4f} {currency}{money_left}")
    failed = [a for a in store.attempts() if a["status"] != "ok"]
    if failed:
        print(f"not labelled: {len(failed)} item(s) failed, skipped or rejected")
    metrics = store.metrics()
    if metrics:
        r, n, values = metrics[-1]
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        print(f"last metrics (round {'base' if r < 0 else r}, {n} labels): {shown}")
