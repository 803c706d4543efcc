"""The ``label-studio`` annotator inside the real loop, a wrong token, and a task deleted in Label Studio."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import atgen_label_studio.hooks as ls_hooks
import pytest
from atgen_label_studio.client import LabelStudioError
from ls_runs import LabelStudio
from ls_testkit import Annotating, Person, annotator, item_id, items_of

from atgen_core.annotation import RunAnnotationStore
from atgen_core.plugins import load_registry
from atgen_core.store import RunStore

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


class Team(threading.Thread):
    """Answers every unanswered task of a project as it appears, until stopped."""

    def __init__(self, person: Person, title: str) -> None:
        super().__init__(daemon=True)
        self.person, self.title = person, title
        self.stop = threading.Event()
        self.answers: dict[str, str] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for task in self.person.tasks(self.title):
                    if not task["annotations"]:
                        text = f"team answer for {task['data']['input']}"
                        self.person.submit(task, text)
                        self.answers[item_id(task)] = text
                time.sleep(0.3)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_two_rounds_of_the_loop_labelled_in_label_studio(env_token: LabelStudio, tmp_path: Path, fakes: Any) -> None:
    from atgen_core.loop import Experiment

    title = f"atgen-loop-{uuid.uuid4().hex[:8]}"
    config = {"url": env_token.url, "project": title, "poll_interval_seconds": 0.2, "max_poll_interval_seconds": 1}
    spec = {
        "name": "ls-loop",
        "seed": 3,
        "data": {"source": {"name": "memory", "config": {"generate": 30, "topics": 6}}, "test_size": 6},
        "strategy": {"name": "test-random"},
        "annotator": {"name": "label-studio", "config": config},
        "trainer": {"name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}},
        "metrics": ["accuracy"],
        "loop": {"initial_size": 3, "query_size": 3, "iterations": 1, "evaluate_untrained": False},
        "output_dir": str(tmp_path / "run"),
    }
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("label-studio", ls_hooks)])
    team = Team(Person(env_token.url, env_token.token), title)
    team.start()
    try:
        with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
            summary = experiment.run()
    finally:
        team.stop.set()
        team.join(10)
    assert team.error is None, team.error
    assert summary.labels == 6
    train_log = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    assert [entry["n"] for entry in train_log] == [3, 6]
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert {r.id: r.text for r in store.labels()} == team.answers
        assert {r.annotator for r in store.labels()} == {"label-studio"}
    finally:
        store.close()
    assert len(team.person.tasks(title)) == 6


def test_a_refused_token_is_a_clear_error(
    label_studio: LabelStudio, run_store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "0" * 40
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", wrong)
    work = Annotating(annotator(label_studio.url, "never-created"), run_store, items_of(run_store, ["ex-0"]))
    work.run()
    assert isinstance(work.error, LabelStudioError)
    assert "refused the token" in str(work.error) and wrong not in str(work.error)
    assert Person(label_studio.url, label_studio.token).project_id("never-created") is None


def test_a_task_deleted_in_label_studio_is_recorded_as_failed(env_token: LabelStudio, run_store: RunStore) -> None:
    title = f"atgen-delete-{uuid.uuid4().hex[:8]}"
    person = Person(env_token.url, env_token.token)
    work = Annotating(annotator(env_token.url, title), run_store, items_of(run_store, ["ex-0", "ex-1"]))
    work.start()
    first, second = person.wait_tasks(title, 2, work=work)
    person.client.tasks.delete(id=str(first["id"]))
    person.submit(second, "kept")
    results = {r.id: r for r in work.finish()}
    assert results[item_id(first)].status == "failed"
    assert results[item_id(first)].error == "the task was deleted in Label Studio"
    assert {r.id: r.text for r in run_store.labels()} == {item_id(second): "kept"}
    assert RunAnnotationStore(run_store).answers(0)[item_id(first)].status == "failed"


def test_an_unknown_project_id_says_how_to_fix_it(env_token: LabelStudio, run_store: RunStore) -> None:
    work = Annotating(annotator(env_token.url, 987654), run_store, items_of(run_store, ["ex-0"]))
    work.run()
    assert isinstance(work.error, LabelStudioError)
    assert "no project with id 987654" in str(work.error) and "a title" in str(work.error)
