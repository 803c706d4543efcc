"""Spec -> data: the spec checked (new or stored), the run's log file, the spec stored, the examples."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.components import DataContext, DataSource
from atgen_core.data import LoadedData, load_data
from atgen_core.errors import SpecError, StoreError
from atgen_core.preflight import CheckedSpec, check_spec
from atgen_core.rundir import canonical_spec, other_spec_error, refuse_other_spec, spec_changes
from atgen_core.spec import ExperimentSpec, ResolvedSpec, load_spec_file, raw_run_dir
from atgen_core.store import RunStore, run_has_progress
from atgen_core.types import Example

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["attach_log", "check_new", "check_or_store_spec", "check_stored", "detach_log", "load_examples"]

log = logging.getLogger("atgen")


def check_new(
    spec: ExperimentSpec | Mapping[str, Any] | str | Path,
    registry: Registry | None,
    run_dir: Path | None,
    cache_dir: Path | None,
) -> tuple[CheckedSpec, Path]:
    """The pre-flight of a spec object, dict or JSON file, and the run directory it goes to."""
    from atgen_core.plugins import get_registry

    registry = registry if registry is not None else get_registry()
    base_dir: Path | None = None
    source: str | None = None
    if isinstance(spec, (str, Path)):
        source = str(spec)
        base_dir = Path(spec).resolve().parent
        raw: Mapping[str, Any] = load_spec_file(spec)
    elif isinstance(spec, ExperimentSpec):
        raw = spec.model_dump(mode="json", by_alias=True, exclude={"schema_"})
    else:
        raw = spec
    target = run_dir if run_dir is not None else raw_run_dir(raw, Path.cwd())
    load = target is None or not run_has_progress(target)
    checked = check_spec(
        raw, registry, source=source, base_dir=base_dir, run_dir=target, load_data=load, cache_dir=cache_dir
    )
    target = target if target is not None else checked.resolved.spec.run_dir(Path.cwd())
    refuse_other_spec(target, canonical_spec(checked.resolved.spec))
    return checked, target


def check_stored(run_dir: Path, registry: Registry | None) -> CheckedSpec:
    """The pre-flight of the spec stored in ``run_dir`` (to resume it)."""
    from atgen_core.plugins import get_registry

    store = RunStore(run_dir, read_only=True)
    try:
        raw = store.get_meta("spec")
        base = store.get_meta("base_dir")
        started = store.has_progress()
    finally:
        store.close()
    if raw is None:
        raise StoreError(f"{run_dir} holds no spec; it was never started (run it with `atgen run SPEC`)")
    registry = registry if registry is not None else get_registry()
    try:
        return check_spec(
            json.loads(raw),
            registry,
            source=str(run_dir / "atgen.sqlite"),
            base_dir=Path(base) if base else None,
            run_dir=run_dir,
            load_data=not started,
        )
    except SpecError as exc:
        if started:
            raise
        raise StoreError(
            f"{exc}\nThis run never got past its set-up, so there is nothing to resume: fix the spec and "
            f"start it with `atgen run SPEC.json` (it takes {run_dir} over)"
        ) from None


def attach_log(run_dir: Path) -> logging.Handler:
    """Copy the ``atgen`` log (INFO and up) into ``run_dir/run.log``."""
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler


def detach_log(handler: logging.Handler) -> None:
    """Stop copying the log into the run's file."""
    log.removeHandler(handler)
    handler.close()


def check_or_store_spec(store: RunStore, resolved: ResolvedSpec, run_dir: Path, fresh: bool) -> None:
    """Store the spec; a stored run only continues with a spec that changes nothing that matters."""
    new = canonical_spec(resolved.spec)
    stored = store.get_meta("spec")
    if stored is not None:
        diff, blocking = spec_changes(json.loads(stored), new)
        if blocking and fresh:
            log.warning(
                "%s held a run that never got past its set-up (spec differed in: %s); this run takes it over",
                run_dir,
                ", ".join(blocking),
            )
            store.clear_examples()
        elif blocking:
            raise other_spec_error(run_dir, blocking)
        if diff:
            log.info("continuing the stored run with changed %s", ", ".join(diff))
    store.set_meta("spec", json.dumps(new, sort_keys=True))
    if resolved.base_dir is not None:
        store.set_meta("base_dir", str(resolved.base_dir))
    if store.get_meta("created") is None:
        store.set_meta("created", str(time.time()))


def load_examples(
    store: RunStore, resolved: ResolvedSpec, cache_dir: Path | None, data: LoadedData | None, fresh: bool
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """The pool and test set: the stored ones, else ``data`` (or the data source's) stored first."""
    if store.has_examples():
        if not (fresh and data is not None):
            return tuple(store.load_examples("pool")), tuple(store.load_examples("test"))
        store.clear_examples()  # set-up never finished: the data just checked replaces it
    if data is None:
        spec = resolved.spec
        source = resolved.data_source.build()
        assert isinstance(source, DataSource)
        ctx = DataContext(seed=spec.seed, cache_dir=cache_dir, base_dir=resolved.base_dir)
        try:
            data = load_data(source, spec.data, spec.seed, ctx)
        finally:
            source.close()
    store.save_examples("pool", data.pool)
    store.save_examples("test", data.test)
    log.info("data: %d pool examples, %d test examples", len(data.pool), len(data.test))
    return data.pool, data.test
