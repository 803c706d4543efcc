"""The AnnotationStore protocol: what an annotator may read and write in the run store."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult, Annotator, Example, hookimpl
from atgen_core.annotation import AnnotationStore, RunAnnotationStore, StoredAnswer, open_for_annotation
from atgen_core.errors import RunLockedError, StoreError
from atgen_core.store import RunLock, RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    run = RunStore(tmp_path / "run")
    run.save_examples("pool", [Example(id=f"e{i}", input=f"in {i}", prompt=f"p {i}", target=f"t{i}") for i in range(4)])
    run.save_selection(0, ["e2", "e0"], "test")
    run.set_meta("spec", json.dumps({"name": "proto", "annotator": {"name": "x"}}))
    run.set_meta("base_dir", str(tmp_path))
    yield run
    run.close()


def test_the_run_store_view_satisfies_the_protocol_and_reads_the_run(store: RunStore, tmp_path: Path) -> None:
    view = RunAnnotationStore(store)
    assert isinstance(view, AnnotationStore)
    assert not isinstance(store, AnnotationStore)  # the whole RunStore is not what annotators get
    assert view.run_dir == store.run_dir and view.base_dir() == tmp_path
    assert view.spec()["name"] == "proto"
    assert view.latest_round() == 0 and view.selection(0) == ["e2", "e0"] and view.selection(5) == []
    assert sorted(view.examples(["e0", "e3", "missing"])) == ["e0", "e3"]
    assert view.examples(["e3"])["e3"].prompt == "p 3"


def test_save_answer_is_compare_and_swap_and_the_label_follows_the_latest_answer(store: RunStore) -> None:
    view = RunAnnotationStore(store)
    ok = AnnotationResult(id="e0", status="ok", text="first", meta={"by": "ann"})
    assert view.save_answer(0, ok, "human", 0) == (True, 1)
    assert view.save_answer(0, AnnotationResult(id="e0", status="ok", text="stale"), "human", 0) == (False, 1)
    assert [(r.id, r.text) for r in store.labels()] == [("e0", "first")]
    skipped = AnnotationResult(id="e0", status="skipped", error="skipped by the annotator")
    assert view.save_answer(0, skipped, "human", 1) == (True, 2)
    assert store.labels() == []  # skipping a saved item removes its label
    answer = view.answers(0)["e0"]
    assert isinstance(answer, StoredAnswer)
    assert (answer.status, answer.revision, answer.annotator, answer.text) == ("skipped", 2, "human", "")
    with pytest.raises(ValueError, match="empty label"):
        view.save_answer(0, AnnotationResult(id="e2", status="ok", text="  "), "human", 0)


def test_an_answer_written_by_the_loop_counts_as_revision_one(store: RunStore) -> None:
    store.record_result(0, AnnotationResult(id="e2", status="ok", text="oracle"), "oracle")
    view = RunAnnotationStore(store)
    answer = view.answers(0)["e2"]
    assert answer.revision == 1 and answer.to_result().text == "oracle"
    assert view.save_answer(0, AnnotationResult(id="e2", status="ok", text="fixed"), "human", 0) == (False, 1)
    assert view.save_answer(0, AnnotationResult(id="e2", status="ok", text="fixed"), "human", 1) == (True, 2)
    assert [r.text for r in store.labels()] == ["fixed"]


def test_the_annotators_cache_persists(store: RunStore) -> None:
    RunAnnotationStore(store).cache("mine").put("k", "v")
    assert RunAnnotationStore(store).cache("mine").get("k") == "v"
    assert RunAnnotationStore(store).cache("other").get("k") is None


def test_open_for_annotation_holds_the_run_lock(store: RunStore, tmp_path: Path) -> None:
    with open_for_annotation(store.run_dir) as view:
        assert view.selection(0) == ["e2", "e0"]
        with pytest.raises(RunLockedError):
            RunLock(store.run_dir).acquire()
    lock = RunLock(store.run_dir)
    lock.acquire()  # released again
    try:
        with pytest.raises(RunLockedError), open_for_annotation(store.run_dir):
            pass
    finally:
        lock.release()
    with pytest.raises(StoreError, match="not an atgen run directory"), open_for_annotation(tmp_path / "none"):
        pass


class _Recorder(Annotator):
    """Labels every item and records which store it was given."""

    name = "store-recorder"
    seen: list[Any] = []

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        _Recorder.seen.append(ctx.store)
        for item in items:
            yield AnnotationResult(id=item.id, status="ok", text=f"label {item.id}")


def test_the_loop_hands_annotators_the_narrow_store(tmp_path: Path) -> None:
    import types

    from atgen_core.loop import Experiment
    from atgen_core.plugins import load_registry

    extra = types.ModuleType("recorder")
    extra.atgen_register_annotators = hookimpl(lambda: _Recorder)  # type: ignore[attr-defined]
    extra.atgen_register_annotators.__module__ = "recorder"  # type: ignore[attr-defined]
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("recorder", extra)])
    spec = {
        "name": "narrow", "data": {"source": {"name": "memory", "config": {"generate": 20}}, "test_size": 5},
        "strategy": "test-random", "annotator": "store-recorder", "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 2, "iterations": 0}, "output_dir": str(tmp_path / "run"),
    }
    _Recorder.seen.clear()
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.query()
        experiment.annotate()
        [given] = _Recorder.seen
        assert isinstance(given, AnnotationStore) and not isinstance(given, RunStore)
        assert not hasattr(given, "record_result") and not hasattr(given, "set_meta")
        assert given.spec()["name"] == "narrow" and len(given.answers(0)) == 2
