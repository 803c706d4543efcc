"""A person working in Label Studio, through its API (what the web page sends when one clicks Submit/Skip)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from atgen_label_studio.annotator import LabelStudioAnnotator
from atgen_label_studio.config import LabelStudioConfig
from label_studio_sdk import LabelStudio

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult
from atgen_core.annotation import RunAnnotationStore
from atgen_core.store import RunStore


def _dump(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else dict(value.model_dump())


class Person:
    """Reads the tasks of one project and submits or skips them."""

    def __init__(self, url: str, token: str) -> None:
        self.client = LabelStudio(base_url=url, api_key=token)

    def project_id(self, title: str) -> int | None:
        found = [_dump(p) for p in self.client.projects.list(title=title) if _dump(p).get("title") == title]
        return int(found[0]["id"]) if found else None

    def tasks(self, title: str) -> list[dict[str, Any]]:
        """Every task of the project (with annotations and predictions), oldest first."""
        pid = self.project_id(title)
        if pid is None:
            return []
        tasks = [_dump(t) for t in self.client.tasks.list(project=pid, fields="all")]
        return sorted(tasks, key=lambda t: int(t["id"]))

    def wait_tasks(
        self, title: str, n: int, timeout: float = 60.0, work: Annotating | None = None
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            if work is not None and work.error is not None:
                raise work.error
            tasks = self.tasks(title)
            if len(tasks) >= n:
                return tasks
            assert time.monotonic() < deadline, f"{len(tasks)} task(s) in {title!r} after {timeout} s, wanted {n}"
            time.sleep(0.3)

    def submit(self, task: dict[str, Any], text: str) -> None:
        result = [{"from_name": "answer", "to_name": "input", "type": "textarea", "value": {"text": [text]}}]
        self.client.annotations.create(id=int(task["id"]), result=result, was_cancelled=False, lead_time=3.5)

    def skip(self, task: dict[str, Any]) -> None:
        self.client.annotations.create(id=int(task["id"]), result=[], was_cancelled=True)


def annotator(url: str, title: int | str, **options: Any) -> LabelStudioAnnotator:
    """The annotator on project ``title`` of the server at ``url``, polling fast."""
    config = {"url": url, "project": title, "poll_interval_seconds": 0.2, "max_poll_interval_seconds": 1.0}
    return LabelStudioAnnotator(LabelStudioConfig(**{**config, **options}))


def items_of(store: RunStore, ids: list[str] | None = None) -> list[AnnotationItem]:
    """The items of round 0 (or of ``ids``), each with the draft ``draft of <id>``."""
    ids = ids if ids is not None else list(store.selection(0) or [])
    examples = RunAnnotationStore(store).examples(ids)
    return [AnnotationItem(examples[i], draft=f"draft of {i}") for i in ids]


def item_id(task: dict[str, Any]) -> str:
    """The atgen item id a task stands for (from the ``atgen_key`` in its data)."""
    import json

    return str(json.loads(task["data"]["atgen_key"])[2])


class Annotating(threading.Thread):
    """Runs the annotator on a round in a thread, committing results like the loop does."""

    def __init__(
        self,
        annotator: LabelStudioAnnotator,
        store: RunStore,
        items: Sequence[AnnotationItem],
        round_: int = 0,
        guidelines: str | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.annotator, self.store, self.items, self.round = annotator, store, items, round_
        self.guidelines = guidelines
        self.results: list[AnnotationResult] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        ctx = AnnotationContext(iteration=self.round, store=RunAnnotationStore(self.store), guidelines=self.guidelines)
        try:
            for result in self.annotator.annotate(self.items, ctx):
                self.store.record_result(self.round, result, self.annotator.name)
                self.results.append(result)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def finish(self, timeout: float = 60.0) -> list[AnnotationResult]:
        self.join(timeout)
        assert not self.is_alive(), "the annotator did not finish"
        if self.error is not None:
            raise self.error
        return self.results
