"""The ``label-studio`` annotator: each round's items become tasks of a Label Studio project.

The annotator creates one task per item (the input, the guidelines, the model's draft as a prediction),
keeps the task ids in the run store (cache namespace ``label-studio:tasks``) and polls the tasks until each
one has an answer. Each answer is written to the run store the moment it is read (so a crash loses nothing
already answered) and handed to the loop. A resumed round reuses its tasks: those recorded in the store,
and those created just before a crash (found by the ``atgen_key`` in their data); none is created twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Generator, Iterator, Sequence
from typing import Any, ClassVar

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    PreflightContext,
    Problem,
)
from atgen_core.annotation import AnnotationStore
from atgen_core.errors import AtgenError
from atgen_label_studio.client import ProjectInfo, Server, TransientError, health_problem
from atgen_label_studio.config import LabelStudioConfig, read_token
from atgen_label_studio.tasks import Answer, latest_answer, prediction, task_data, task_key

__all__ = ["LabelStudioAnnotator"]

log = logging.getLogger("atgen")

TASKS_NAMESPACE = "label-studio:tasks"
RUN_NAMESPACE = "label-studio:run"
IMPORT_CHUNK = 200


class LabelStudioAnnotator(Annotator[LabelStudioConfig]):
    """Label each round in a Label Studio project (tasks with the model's draft pre-filled; answers polled).

    Skipped tasks (Label Studio's "Skip") are recorded as skipped, not labelled (``on_skip: "skip"``), or
    waited on until someone submits an answer (``on_skip: "wait"``). A task deleted in Label Studio is
    recorded as failed. Unanswered tasks at ``timeout_seconds`` are recorded as skipped.
    """

    name: ClassVar[str] = "label-studio"
    Config = LabelStudioConfig

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """The token variable must be set and the server must answer ``/health`` (the token is never shown)."""
        cfg = self.config
        problems: list[Problem] = []
        if not ctx.environ.get(cfg.token_env, "").strip():
            problems.append(
                Problem(
                    ctx.field("token_env"),
                    f"environment variable {cfg.token_env} is not set",
                    hint=f"export your Label Studio access token (Account & Settings > Access "
                    f"Token) as {cfg.token_env}, or set token_env to the variable that holds it",
                )
            )
        unreachable = health_problem(cfg.url, timeout=min(5.0, cfg.request_timeout_seconds))
        if unreachable is not None:
            problems.append(
                Problem(
                    ctx.field("url"),
                    f"Label Studio is not reachable: {unreachable}",
                    hint="start the server (`label-studio start`) or set url to your team's "
                    "Label Studio address, e.g. https://labelstudio.example.org",
                )
            )
        return problems

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        """Send ``items`` as tasks and yield each answer as soon as Label Studio has it."""
        if not items:
            return
        store = ctx.store
        if store is None:
            raise AtgenError(
                "the label-studio annotator needs the run store (AnnotationContext.store); run it "
                "through the atgen loop (`atgen run`, or Experiment.annotate() in Python)"
            )
        cfg = self.config
        server = Server(cfg.url, read_token(cfg.token_env), cfg.request_timeout_seconds)
        guidelines = cfg.guidelines if cfg.guidelines is not None else ctx.guidelines
        try:
            project = server.project(cfg.project, guidelines)
            tasks = self._tasks(server, project, store, items, ctx.iteration, guidelines)
        except TransientError as exc:
            raise AtgenError(
                f"label-studio annotator: Label Studio at {cfg.url} is not reachable ({exc}); start "
                "it or fix url, then resume the run (`atgen run` again): tasks already created are "
                "reused"
            ) from None
        log.info(
            "round %d: %d task(s) in Label Studio project %r (id %d): %s/projects/%d",
            ctx.iteration,
            len(tasks),
            project.title,
            project.id,
            cfg.url,
            project.id,
        )
        results = self._poll(server, project, store, items, tasks, ctx.iteration)
        try:
            yield from ctx.progress(results, total=len(items), desc=f"Label Studio, round {ctx.iteration}")
        finally:
            results.close()

    # -- tasks ------------------------------------------------------------------------------------

    def _tasks(
        self,
        server: Server,
        project: ProjectInfo,
        store: AnnotationStore,
        items: Sequence[AnnotationItem],
        round_: int,
        guidelines: str | None,
    ) -> dict[str, int]:
        """The task id of every item: reused when the store or the project has it, created otherwise."""
        ledger, run_uid = store.cache(TASKS_NAMESPACE), _run_uid(store)
        keys = {item.id: task_key(run_uid, round_, item.id) for item in items}
        tasks: dict[str, int] = {}
        unsure: set[str] = set()  # an import was started for these keys: the tasks may exist unrecorded
        for item in items:
            raw = ledger.get(keys[item.id])
            entry = json.loads(raw) if raw else {}
            if entry.get("url") != server.url or entry.get("project") != project.id:
                continue
            if entry.get("task") is None:
                unsure.add(keys[item.id])
            elif server.task_exists(int(entry["task"])):
                tasks[item.id] = int(entry["task"])
        found = server.task_ids_by_key(project.id, unsure) if unsure else {}
        for item in items:
            if item.id not in tasks and keys[item.id] in found:
                tasks[item.id] = found[keys[item.id]]
                _remember(ledger, keys[item.id], server.url, project.id, tasks[item.id])
        reused = len(tasks)
        todo = [item for item in items if item.id not in tasks]
        for start in range(0, len(todo), IMPORT_CHUNK):
            chunk = todo[start : start + IMPORT_CHUNK]
            payload = [self._task(project, item, keys[item.id], guidelines, round_) for item in chunk]
            for item in chunk:  # marked first: a crash during the import makes the resume look for them
                _remember(ledger, keys[item.id], server.url, project.id, None)
            for item, task_id in zip(chunk, server.import_tasks(project.id, payload)):
                tasks[item.id] = task_id
                _remember(ledger, keys[item.id], server.url, project.id, task_id)
        if reused:
            log.info("round %d: reusing %d Label Studio task(s) created before; %d new", round_, reused, len(todo))
        return tasks

    def _task(
        self, project: ProjectInfo, item: AnnotationItem, key: str, guidelines: str | None, round_: int
    ) -> dict[str, Any]:
        task: dict[str, Any] = {"data": task_data(key, item.example.input, guidelines)}
        if self.config.send_draft and item.draft and item.draft.strip():
            task["predictions"] = [prediction(project.controls, item.draft, round_)]
        return task

    # -- answers ----------------------------------------------------------------------------------

    def _poll(
        self,
        server: Server,
        project: ProjectInfo,
        store: AnnotationStore,
        items: Sequence[AnnotationItem],
        tasks: dict[str, int],
        round_: int,
    ) -> Generator[AnnotationResult, None, None]:
        """Yield each item's result as it arrives, polling with a growing wait while nothing new comes."""
        cfg = self.config
        drafts = {item.id: item.draft for item in items}
        pending = [item.id for item in items]
        wait, total = cfg.poll_interval_seconds, len(pending)
        deadline = None if cfg.timeout_seconds is None else time.monotonic() + cfg.timeout_seconds
        while pending:
            arrived = 0
            for id_ in list(pending):
                try:
                    annotations = server.annotations(tasks[id_])
                except TransientError as exc:
                    log.warning("round %d: Label Studio did not answer (%s); trying again in %.0f s", round_, exc, wait)
                    break
                result = self._result(id_, tasks[id_], project, annotations, drafts.get(id_))
                if result is None:
                    continue
                pending.remove(id_)
                arrived += 1
                yield _stored(store, round_, result, self.name)
            if arrived:
                log.info("round %d: %d/%d answered in Label Studio", round_, total - len(pending), total)
                wait = cfg.poll_interval_seconds
            if not pending:
                return
            if deadline is not None and time.monotonic() >= deadline:
                yield from self._time_out(store, project, tasks, pending, round_)
                return
            sleep = wait if deadline is None else max(0.0, min(wait, deadline - time.monotonic()))
            time.sleep(sleep)
            if not arrived:
                wait = min(wait * 1.5, cfg.max_poll_interval_seconds)

    def _result(
        self, id_: str, task_id: int, project: ProjectInfo, annotations: list[dict[str, Any]] | None, draft: str | None
    ) -> AnnotationResult | None:
        """The result of one task, or ``None`` while it has no answer atgen takes."""
        where = {"project": project.id, "task": task_id}
        if annotations is None:
            return AnnotationResult(
                id_, "failed", error="the task was deleted in Label Studio", meta={"label_studio": where}
            )
        answer: Answer = latest_answer(annotations, project.controls.from_name)
        if answer.status == "pending" or (answer.status == "skipped" and self.config.on_skip == "wait"):
            return None
        meta: dict[str, Any] = {"label_studio": {**where, "annotation": answer.annotation_id}, "by": answer.by}
        if answer.status == "skipped":
            return AnnotationResult(id_, "skipped", seconds=answer.seconds, meta=meta, error="skipped in Label Studio")
        meta["draft"] = "none" if not draft else "kept" if answer.text == draft.strip() else "edited"
        return AnnotationResult(id_, "ok", answer.text, seconds=answer.seconds, meta=meta)

    def _time_out(
        self, store: AnnotationStore, project: ProjectInfo, tasks: dict[str, int], pending: list[str], round_: int
    ) -> Iterator[AnnotationResult]:
        log.warning(
            "round %d: %d task(s) unanswered after %g s: recorded as skipped (they stay in the project)",
            round_,
            len(pending),
            self.config.timeout_seconds or 0,
        )
        for id_ in pending:
            meta = {"label_studio": {"project": project.id, "task": tasks[id_]}, "timeout": True}
            result = AnnotationResult(
                id_, "skipped", error=f"no answer within {self.config.timeout_seconds:g} s", meta=meta
            )
            yield _stored(store, round_, result, self.name)


def _run_uid(store: AnnotationStore) -> str:
    """A random id of this run (kept in the store): tasks of two runs sharing a project never mix."""
    cache = store.cache(RUN_NAMESPACE)
    uid = cache.get("uid")
    if uid is None:
        uid = uuid.uuid4().hex
        cache.put("uid", uid)
    return uid


def _remember(ledger: Any, key: str, url: str, project: int, task_id: int | None) -> None:
    ledger.put(key, json.dumps({"url": url, "project": project, "task": task_id}))


def _stored(store: AnnotationStore, round_: int, result: AnnotationResult, annotator: str) -> AnnotationResult:
    """Write ``result`` to the run store now (a crash then loses nothing); an answer stored before wins."""
    saved, _ = store.save_answer(round_, result, annotator, 0)
    if saved:
        return store.answers(round_)[result.id].to_result()
    existing = store.answers(round_).get(result.id)
    return existing.to_result() if existing is not None else result
