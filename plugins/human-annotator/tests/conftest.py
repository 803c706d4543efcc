"""Fixtures of the human-annotator tests: a run store made in the test and served desks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.security import Guard, load_or_create_token
from atgen_human_annotator.server import URL_FILE, AnnotationServer
from human_annotator_testkit import Served, make_examples

from atgen_core import AnnotationItem
from atgen_core.annotation import RunAnnotationStore
from atgen_core.store import RunStore


@pytest.fixture
def run_store(tmp_path: Path) -> Iterator[RunStore]:
    """A run store with 6 pool examples; round 0 selected ex-0 .. ex-3."""
    store = RunStore(tmp_path / "run")
    examples = make_examples(6)
    store.save_examples("pool", examples)
    store.save_selection(0, [e.id for e in examples[:4]], "test")
    store.set_meta("spec", '{"name": "human-test"}')
    yield store
    store.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(store, round_=0, items=None, **desk_options)`` starts a server; all are stopped afterwards."""
    started: list[Served] = []

    def start(store: RunStore, round_: int = 0, items: Sequence[AnnotationItem] | None = None,
              port: int = 0, **options: Any) -> Served:
        options.setdefault("run_name", "human-test")
        desk = AnnotationDesk(RunAnnotationStore(store), **options)
        desk.open_round(round_, items)
        guard = Guard(load_or_create_token(store.run_dir))
        server = AnnotationServer(desk, guard, port=port, run_dir_hint=str(store.run_dir),
                                  url_file=store.run_dir / URL_FILE)
        server.start()
        served = Served(desk, server, store)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
