"""The ``human`` annotator inside the real loop, with a thread acting as the human over HTTP."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import atgen_human_annotator.hooks as human_hooks
import pytest
from atgen_human_annotator.annotator import HumanAnnotator
from atgen_human_annotator.config import HumanConfig
from human_annotator_testkit import Client, round_attempts

from atgen_core import AnnotationContext
from atgen_core.errors import AtgenError
from atgen_core.plugins import load_registry
from atgen_core.testing import check_component

CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"


@pytest.fixture(scope="module")
def fakes() -> Any:
    if not (CORE_TESTS / "atgen_test_components.py").exists():
        pytest.skip("the core's fake components (tests/atgen_test_components.py) are not available")
    sys.path.insert(0, str(CORE_TESTS))
    try:
        import atgen_test_components
    finally:
        sys.path.remove(str(CORE_TESTS))
    return atgen_test_components


def spec(tmp_path: Path, **annotator: Any) -> dict[str, Any]:
    return {
        "name": "human-loop",
        "seed": 3,
        "data": {"source": {"name": "memory", "config": {"generate": 30, "topics": 6}}, "test_size": 6},
        "strategy": {"name": "test-random"},
        "annotator": {"name": "human", "config": {"guidelines": "Answer with 'answer <topic>'.", **annotator}},
        "trainer": {"name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}},
        "metrics": ["accuracy"],
        "loop": {"initial_size": 3, "query_size": 3, "iterations": 1, "evaluate_untrained": False},
        "output_dir": str(tmp_path / "run"),
    }


class Human(threading.Thread):
    """Annotates every batch it is shown through the web page, like a person would."""

    def __init__(self, annotator: HumanAnnotator, rounds: int) -> None:
        super().__init__(daemon=True)
        self.annotator, self.rounds = annotator, rounds
        self.finished_round: dict[int, float] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _work(self) -> None:
        assert self.annotator.serving.wait(20), "the annotator never served a batch"
        assert self.annotator.url is not None
        base, token = self.annotator.url.split("/?token=")
        client = Client(base, token).login()
        for round_ in range(self.rounds):
            deadline = time.monotonic() + 20
            while True:
                state = client.state()
                if state["round"] == round_ and state["pending"]:
                    break
                assert time.monotonic() < deadline, f"round {round_} never showed up"
                time.sleep(0.02)
            for item in state["items"]:
                page = client.get(f"/item/{item['n']}")
                raw = re.search(r'id="input">([^<]*)<', page.body)
                assert raw is not None
                topic = raw.group(1).split()[1]
                assert "Answer with" in page.body  # the guidelines are shown
                if round_ == 1 and item["n"] == 3:
                    reply = client.answer(item["n"], "", action="skip")
                elif round_ == 1 and item["n"] == 1:
                    reply = client.answer(item["n"], "a wrong first try")
                    assert reply.status == 303
                    reply = client.answer(item["n"], f"answer {topic}")  # back and edit before the batch ends
                else:
                    reply = client.answer(item["n"], f"answer {topic}")
                assert reply.status == 303, reply.body
            self.finished_round[round_] = time.monotonic()


def test_human_annotator_follows_the_component_contract() -> None:
    check_component(HumanAnnotator)
    assert HumanAnnotator.name == "human" and HumanAnnotator.Config is HumanConfig
    with pytest.raises(ValueError, match="either `guidelines` or `guidelines_file`"):
        HumanConfig(guidelines="a", guidelines_file="b.txt")
    with pytest.raises(AtgenError, match="does not exist"):
        HumanAnnotator(HumanConfig(guidelines_file="/nonexistent/guide.txt"))


def test_without_a_run_store_the_annotator_says_how_to_run_it() -> None:
    from atgen_core import AnnotationItem, Example

    annotator = HumanAnnotator()
    with pytest.raises(AtgenError, match="needs the run store"):
        list(annotator.annotate([AnnotationItem(Example("a", "x", "x"))], AnnotationContext()))


def test_the_loop_continues_as_soon_as_the_human_finishes_each_batch(tmp_path: Path, fakes: Any) -> None:
    from atgen_core.loop import Experiment
    from atgen_core.store import RunStore

    registry = load_registry(load_entrypoints=False,
                             plugins=[("test-components", fakes), ("human-annotator", human_hooks)])
    experiment = Experiment.from_spec(spec(tmp_path, timeout_seconds=60), registry=registry, progress=False)
    with experiment:
        annotator = experiment.annotator
        assert isinstance(annotator, HumanAnnotator)
        human = Human(annotator, rounds=2)
        human.start()
        started = time.monotonic()
        summary = experiment.run()
        elapsed = time.monotonic() - started
        human.join(timeout=10)
        assert human.error is None, human.error
        url_file = tmp_path / "run" / "annotate.url"
        assert url_file.exists()
    assert not url_file.exists()  # the server stopped with the run
    assert elapsed < 30, f"the loop waited {elapsed:.1f}s: it did not continue when the batches were complete"
    train_log = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    assert [entry["round"] for entry in train_log] == [0, 1]
    assert [entry["n"] for entry in train_log] == [3, 5]  # 3 labels, then 3 more with one skipped
    store = RunStore(tmp_path / "run", create=False)
    try:
        attempts = store.attempts()
        assert len(attempts) == 6
        by_status = sorted(a["status"] for a in attempts)
        assert by_status == ["ok"] * 5 + ["skipped"]
        inputs = {e.id: e.input for e in store.load_examples("pool")}
        for record in store.labels():
            assert record.text == f"answer {inputs[record.id].split()[1]}"
            assert record.annotator == "human"
        meta = round_attempts(store, 1)
        assert sorted(a["revision"] for a in meta.values()) == [1, 1, 2]  # one item was edited
        assert all(a["meta"].get("web") and not a["meta"].get("timeout") for a in meta.values())
        assert store.step_done(1, "annotate") == {"ok": 2, "skipped": 1}
    finally:
        store.close()
    assert summary.labels == 5
    assert summary.rounds[-1]["metrics"]["accuracy"] > 0


def test_a_batch_timeout_lets_the_loop_go_on_with_skips(tmp_path: Path, fakes: Any) -> None:
    from atgen_core.loop import Experiment
    from atgen_core.store import RunStore

    registry = load_registry(load_entrypoints=False,
                             plugins=[("test-components", fakes), ("human-annotator", human_hooks)])
    config = spec(tmp_path, timeout_seconds=0.3)
    config["loop"]["iterations"] = 0
    with Experiment.from_spec(config, registry=registry, progress=False) as experiment:
        experiment.query()
        started = time.monotonic()
        results = experiment.annotate()
        assert time.monotonic() - started < 5
    assert [r.status for r in results] == ["skipped"] * 3
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert all(a["meta"]["timeout"] for a in round_attempts(store, 0).values())
        assert store.labels() == []
    finally:
        store.close()
