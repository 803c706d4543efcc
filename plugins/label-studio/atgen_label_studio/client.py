"""The Label Studio calls atgen makes, through the official SDK (``label-studio-sdk``).

Every SDK error is turned into an :class:`~atgen_core.errors.AtgenError` saying what to fix (a wrong token,
an unknown project) or into :class:`TransientError` (the server is restarting or unreachable: the poller
waits and tries again). The token only lives in the SDK client; no message here contains it.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atgen_core.errors import AtgenError
from atgen_label_studio.tasks import KEY_FIELD, Controls, controls_of, label_config

__all__ = ["LabelStudioError", "ProjectInfo", "Server", "TransientError", "health_problem"]


class LabelStudioError(AtgenError):
    """Label Studio refused a request for a reason the user must fix (token, project, labelling config)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of the refusal (0 when it was not an HTTP error)."""


class TransientError(Exception):
    """The server could not be reached or answered 5xx / 429: worth trying again later."""


def health_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why ``url`` is not a reachable Label Studio server (``None`` when ``/health`` answers)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            if response.status == 200:
                return None
            return f"{url}/health answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url}/health answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach {url} ({reason})"


@dataclass(frozen=True)
class ProjectInfo:
    """The project tasks go to, and where answers are written in its labelling config."""

    id: int
    title: str
    controls: Controls


def _dump(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None) or getattr(value, "dict", None)
    return dict(dump()) if dump is not None else {}


class Server:
    """One Label Studio server reached with one token (SDK client created lazily)."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        from label_studio_sdk import LabelStudio

        self.url = url
        self._client = LabelStudio(base_url=url, api_key=token, timeout=timeout)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            code = exc.status_code or 0
            if code in (401, 403):
                raise LabelStudioError(
                    f"Label Studio at {self.url} refused the token while trying to {what} (HTTP {code}): check "
                    "that the token variable holds a valid access token of a user of that server"
                ) from None
            if code == 429 or code >= 500:
                raise TransientError(f"{what}: HTTP {code}") from None
            raise LabelStudioError(
                f"Label Studio at {self.url} could not {what}: HTTP {code}: {str(exc.body)[:300]}", code
            ) from None
        except (httpx.HTTPError, OSError) as exc:
            raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from None

    def project(self, project: int | str, guidelines: str | None) -> ProjectInfo:
        """The configured project: by id (must exist), or by title (created when absent)."""
        if isinstance(project, int):
            try:
                found = _dump(self._call(f"open project {project}", self._client.projects.get, id=project))
            except LabelStudioError as exc:
                if exc.status != 404:
                    raise
                raise LabelStudioError(
                    f"Label Studio at {self.url} has no project with id {project} (or this "
                    "token's user cannot see it): give an existing project id, or a title to "
                    "use or create the project by name",
                    404,
                ) from None
        else:
            pager = self._call("list projects", self._client.projects.list, title=project, page_size=100)
            same = [p for p in self._iterate(pager) if p.get("title") == project]
            if same:
                found = _dump(
                    self._call(
                        f"open project {project!r}", self._client.projects.get, id=min(int(p["id"]) for p in same)
                    )
                )
            else:
                created = self._call(
                    f"create project {project!r}",
                    self._client.projects.create,
                    title=project,
                    label_config=label_config(),
                    expert_instruction=guidelines or "",
                    show_instruction=bool(guidelines),
                    show_skip_button=True,
                )
                found = _dump(
                    self._call(f"open project {project!r}", self._client.projects.get, id=int(_dump(created)["id"]))
                )
        controls = controls_of(found.get("parsed_label_config"))
        if controls is None:
            raise LabelStudioError(
                f"Label Studio project {found.get('title')!r} (id {found.get('id')}) has no TextArea in its "
                "labelling config: atgen needs one to receive free-text answers (and a Text showing $input); "
                "give a new project title to let atgen create one"
            )
        return ProjectInfo(int(found["id"]), str(found.get("title") or ""), controls)

    def task_ids_by_key(self, project: int, keys: set[str]) -> dict[str, int]:
        """The ids of the project's tasks whose ``data.atgen_key`` is one of ``keys`` (oldest task first)."""
        out: dict[str, int] = {}
        pager = self._call("list tasks", self._client.tasks.list, project=project, page_size=500)
        for task in self._iterate(pager):
            data = task.get("data") or {}
            key = data.get(KEY_FIELD) if isinstance(data, Mapping) else None
            if key in keys and key not in out:
                out[str(key)] = int(task["id"])
        return out

    def _iterate(self, pager: Iterable[Any]) -> Iterator[dict[str, Any]]:
        items = iter(pager)
        while True:
            try:
                item = self._call("list tasks", next, items)
            except StopIteration:
                return
            yield _dump(item)

    def import_tasks(self, project: int, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
        """Create ``tasks`` (data and predictions) in one request; their ids, in order."""
        response = self._call(
            f"import {len(tasks)} task(s)",
            self._client.projects.import_tasks,
            project,
            request=list(tasks),
            return_task_ids=True,
        )
        ids = [int(i) for i in _dump(response).get("task_ids") or []]
        if len(ids) != len(tasks):
            raise LabelStudioError(
                f"Label Studio at {self.url} created {len(ids)} task(s) for {len(tasks)} sent; "
                "check the project's labelling config uses $input"
            )
        return ids

    def annotations(self, task_id: int) -> list[dict[str, Any]] | None:
        """The annotations of a task, skipped ones included (``None`` when the task was deleted)."""
        try:
            task = self._call(f"read task {task_id}", self._client.tasks.get, id=str(task_id))
        except LabelStudioError as exc:
            if exc.status == 404:
                return None
            raise
        return [_dump(a) for a in _dump(task).get("annotations") or []]

    def task_exists(self, task_id: int) -> bool:
        """Whether the task is still in the project (a deleted task is created again)."""
        try:
            return self.annotations(task_id) is not None
        except TransientError:
            return True  # polling will tell
