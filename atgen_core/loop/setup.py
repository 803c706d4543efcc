"""Spec -> data: the run's log file, the spec stored (or checked against the stored one), the examples."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from atgen_core.components import DataContext, DataSource
from atgen_core.data import LoadedData, load_data
from atgen_core.rundir import canonical_spec, other_spec_error, spec_changes
from atgen_core.spec import ResolvedSpec
from atgen_core.store import RunStore
from atgen_core.types import Example

__all__ = ["attach_log", "check_or_store_spec", "detach_log", "load_examples"]

log = logging.getLogger("atgen")


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
