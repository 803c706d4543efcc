"""The ``label-studio`` annotator against a real Label Studio server (started by conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from ls_runs import LabelStudio, make_run
from ls_testkit import Annotating, Person, annotator, item_id, items_of

from atgen_core.annotation import RunAnnotationStore
from atgen_core.store import RunStore

GUIDELINES = "Write a one-line summary."


def labels(store: RunStore) -> dict[str, str]:
    return {r.id: r.text for r in store.labels()}


def test_a_round_annotated_in_label_studio(env_token: LabelStudio, run_store: RunStore) -> None:
    title = f"atgen-e2e-{uuid.uuid4().hex[:8]}"
    person = Person(env_token.url, env_token.token)
    work = Annotating(annotator(env_token.url, title), run_store, items_of(run_store), guidelines=GUIDELINES)
    work.start()
    tasks = person.wait_tasks(title, 4, work=work)
    assert {item_id(t) for t in tasks} == {"ex-0", "ex-1", "ex-2", "ex-3"}
    for task in tasks:  # what a person sees: the input, the guidelines and the model's draft pre-filled
        assert task["data"]["input"] == f"Summarise item number {item_id(task)[3:]}."
        assert task["data"]["guidelines"] == GUIDELINES
        [pred] = task["predictions"]
        assert pred["result"][0]["value"]["text"] == [f"draft of {item_id(task)}"]
    submitted = {item_id(t): f"summary {item_id(t)} by a person" for t in tasks}
    for task in tasks:
        person.submit(task, submitted[item_id(task)])
    results = work.finish()
    assert sorted(r.id for r in results) == sorted(submitted)
    assert labels(run_store) == submitted
    stored = RunAnnotationStore(run_store).answers(0)
    assert {i: a.meta["draft"] for i, a in stored.items()} == dict.fromkeys(submitted, "edited")
    assert all(a.meta["label_studio"]["task"] in {t["id"] for t in tasks} for a in stored.values())
    assert len(person.tasks(title)) == 4


def test_skipped_tasks_are_reported_not_labelled(env_token: LabelStudio, run_store: RunStore) -> None:
    title = f"atgen-skip-{uuid.uuid4().hex[:8]}"
    person = Person(env_token.url, env_token.token)
    work = Annotating(annotator(env_token.url, title), run_store, items_of(run_store, ["ex-0", "ex-1"]))
    work.start()
    first, second = person.wait_tasks(title, 2, work=work)
    person.skip(first)
    person.submit(second, "the answer")
    results = {r.id: r for r in work.finish()}
    skipped, answered = item_id(first), item_id(second)
    assert results[skipped].status == "skipped" and results[skipped].error == "skipped in Label Studio"
    assert results[answered].status == "ok"
    assert labels(run_store) == {answered: "the answer"}


def test_on_skip_wait_keeps_waiting_for_a_real_answer(env_token: LabelStudio, run_store: RunStore) -> None:
    title = f"atgen-wait-{uuid.uuid4().hex[:8]}"
    person = Person(env_token.url, env_token.token)
    work = Annotating(annotator(env_token.url, title, on_skip="wait"), run_store, items_of(run_store, ["ex-2"]))
    work.start()
    [task] = person.wait_tasks(title, 1, work=work)
    person.skip(task)
    time.sleep(1.5)  # several polls see only the skip
    assert work.is_alive() and not work.results
    person.submit(task, "answered after all")
    [result] = work.finish()
    assert (result.id, result.status, result.text) == ("ex-2", "ok", "answered after all")
    assert labels(run_store) == {"ex-2": "answered after all"}


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from atgen_core import AnnotationContext, AnnotationItem
    from atgen_core.annotation import RunAnnotationStore
    from atgen_core.store import RunStore
    from atgen_label_studio.annotator import LabelStudioAnnotator
    from atgen_label_studio.config import LabelStudioConfig

    store = RunStore(Path(sys.argv[1]), create=False)
    view = RunAnnotationStore(store)
    examples = view.examples(store.selection(0))
    items = [AnnotationItem(examples[i], draft="draft") for i in store.selection(0)]
    config = LabelStudioConfig(url=sys.argv[2], project=sys.argv[3], poll_interval_seconds=0.2,
                               max_poll_interval_seconds=0.5)
    for result in LabelStudioAnnotator(config).annotate(items, AnnotationContext(store=view)):
        store.record_result(0, result, "label-studio")
        print("got", result.id, flush=True)
""")


def test_kill_9_mid_round_then_resume_creates_no_duplicate(env_token: LabelStudio, tmp_path: Path) -> None:
    title = f"atgen-resume-{uuid.uuid4().hex[:8]}"
    person = Person(env_token.url, env_token.token)
    run_dir = tmp_path / "run"
    make_run(run_dir).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run_dir), env_token.url, title],
        env={**os.environ},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        tasks = person.wait_tasks(title, 4)
        early = {item_id(t): f"early {item_id(t)}" for t in tasks[:2]}
        for task in tasks[:2]:
            person.submit(task, early[item_id(task)])
        assert child.stdout is not None
        got = {child.stdout.readline().split()[-1] for _ in early}
        assert got == set(early)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    store = RunStore(run_dir, create=False)
    try:
        assert labels(store) == early  # written before the kill
        pending = [i for i in store.selection(0) or [] if i not in store.attempted_ids(0)]
        assert sorted(pending) == sorted(set(store.selection(0) or []) - set(early))
        ledger = store.cache("label-studio:tasks")
        lost = next(t["data"]["atgen_key"] for t in tasks if item_id(t) == pending[0])
        marker = {"url": env_token.url, "project": tasks[0]["project"], "task": None}
        ledger.put(lost, json.dumps(marker))  # as if killed between creating the task and recording its id
        work = Annotating(annotator(env_token.url, title), store, items_of(store, pending))
        work.start()
        time.sleep(1.0)  # the resumed annotator is polling the reused tasks
        tasks = person.tasks(title)
        assert len(tasks) == 4, "resuming created new tasks"
        late = {item_id(t): f"late {item_id(t)}" for t in tasks if item_id(t) in pending}
        for task in tasks:
            if item_id(task) in late:
                person.submit(task, late[item_id(task)])
        assert sorted(r.id for r in work.finish()) == sorted(pending)
        assert labels(store) == {**early, **late}
        assert len(person.tasks(title)) == 4
        keys = [t["data"]["atgen_key"] for t in tasks]
        assert sorted(json.loads(ledger.get(k) or "{}")["task"] for k in keys) == sorted(t["id"] for t in tasks)
    finally:
        store.close()
