"""Label Studio task payloads and answers, without any network access.

A task's ``data`` carries ``input`` (what is labelled), ``guidelines`` and ``atgen_key``: the run, round and
item it belongs to, which is how an interrupted run finds the tasks it already created. The model's draft
goes in as a prediction (a pre-annotation of the text area). An answer is read from the latest annotation
of a task: submitted text (``ok``), or a skip (Label Studio's ``was_cancelled``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

__all__ = [
    "KEY_FIELD",
    "Answer",
    "Controls",
    "controls_of",
    "label_config",
    "latest_answer",
    "prediction",
    "task_data",
    "task_key",
]

KEY_FIELD = "atgen_key"


def label_config(with_guidelines: bool = True) -> str:
    """The labelling config of a project atgen creates: guidelines, the input, and a text area for the answer."""
    guidelines = (
        '  <Header value="Guidelines"/>\n  <Text name="guidelines" value="$guidelines"/>\n' if with_guidelines else ""
    )
    return (
        "<View>\n" + guidelines + '  <Header value="Input"/>\n  <Text name="input" value="$input"/>\n'
        '  <Header value="Your answer (the model\'s draft is pre-filled when there is one)"/>\n'
        '  <TextArea name="answer" toName="input" rows="6" editable="true" maxSubmissions="1" '
        f'required="true" placeholder={quoteattr("Type the label")}/>\n</View>\n'
    )


@dataclass(frozen=True)
class Controls:
    """Where answers go in the project's labelling config: the text area's name and the object it labels."""

    from_name: str
    to_name: str


def controls_of(parsed_config: Mapping[str, Any] | None) -> Controls | None:
    """The first ``TextArea`` of a project's parsed labelling config (``None`` when it has none)."""
    for name, control in (parsed_config or {}).items():
        if isinstance(control, Mapping) and str(control.get("type", "")).lower() == "textarea":
            targets = control.get("to_name") or []
            if targets:
                return Controls(str(name), str(targets[0]))
    return None


def task_key(run_uid: str, round_: int, item_id: str) -> str:
    """The key that ties a Label Studio task to one item of one round of one run."""
    return json.dumps([run_uid, round_, item_id], separators=(",", ":"))


def task_data(key: str, text: str, guidelines: str | None) -> dict[str, Any]:
    """The ``data`` of a task (the variables of the labelling config, plus the atgen key)."""
    return {"input": text, "guidelines": guidelines or "", KEY_FIELD: key}


def prediction(controls: Controls, draft: str, round_: int) -> dict[str, Any]:
    """A pre-annotation of the text area with the model's draft."""
    return {
        "model_version": f"atgen-round-{round_}",
        "result": [
            {
                "from_name": controls.from_name,
                "to_name": controls.to_name,
                "type": "textarea",
                "value": {"text": [draft]},
            }
        ],
    }


@dataclass(frozen=True)
class Answer:
    """What Label Studio holds for a task: ``ok`` (with the text), ``skipped``, or ``pending``."""

    status: Literal["ok", "skipped", "pending"]
    text: str = ""
    annotation_id: int | None = None
    by: str | None = None
    seconds: float = 0.0


def _text(result: Sequence[Any], from_name: str | None) -> str:
    parts: list[str] = []
    for region in result:
        if not isinstance(region, Mapping) or str(region.get("type", "")).lower() != "textarea":
            continue
        if from_name is not None and region.get("from_name") != from_name:
            continue
        value = region.get("value") or {}
        texts = value.get("text") if isinstance(value, Mapping) else None
        parts += [str(t) for t in texts or [] if str(t).strip()]
    return "\n".join(parts).strip()


def latest_answer(annotations: Sequence[Mapping[str, Any]], from_name: str | None) -> Answer:
    """The answer of a task from its annotations: the latest submitted one wins.

    An annotation with ``was_cancelled`` is a skip. An annotation submitted with an empty text area counts as
    a skip too (nothing to learn from). No annotation: ``pending``.
    """
    if not annotations:
        return Answer("pending")
    latest = max(annotations, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0))
    by = latest.get("completed_by")
    who = str(by.get("email") or by.get("id")) if isinstance(by, Mapping) else None if by is None else str(by)
    ident = latest.get("id")
    seconds = float(latest.get("lead_time") or 0.0)
    annotation_id = int(ident) if isinstance(ident, int) else None
    if latest.get("was_cancelled"):
        return Answer("skipped", "", annotation_id, who, seconds)
    text = _text(latest.get("result") or [], from_name)
    return Answer("ok" if text else "skipped", text, annotation_id, who, seconds)
