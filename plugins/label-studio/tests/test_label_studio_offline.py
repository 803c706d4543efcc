"""What needs no Label Studio server: registration, config rules, preflight, task payloads and answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from atgen_label_studio import hooks
from atgen_label_studio.annotator import LabelStudioAnnotator
from atgen_label_studio.config import LabelStudioConfig, MissingTokenError, read_token
from atgen_label_studio.tasks import Controls, controls_of, latest_answer, prediction
from pydantic import ValidationError

from atgen_core import Annotator, ModelSpec
from atgen_core.components import PreflightContext
from atgen_core.testing import check_component, check_light_import

SECRET = "tok-0123456789abcdef-secret"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_registered_through_the_entry_point() -> None:
    assert [ep.value for ep in entry_points(group="atgen") if ep.name == "label-studio"] == ["atgen_label_studio.hooks"]
    cls = hooks.atgen_register_annotators()
    assert issubclass(cls, Annotator) and cls.name == "label-studio"
    assert check_component(cls, config={"project": "p"}) is not None
    assert all(f.description for f in cls.Config.model_fields.values())


def test_importing_the_plugin_is_light() -> None:
    run = "m.atgen_register_annotators()"
    assert check_light_import("atgen_label_studio.hooks", ("torch", "label_studio_sdk", "httpx"), run=run) == []


def test_the_token_is_never_accepted_in_the_spec() -> None:
    with pytest.raises(ValidationError) as err:
        LabelStudioConfig(project="p", token=SECRET)  # type: ignore[call-arg]
    assert "token_env" in str(err.value) and SECRET not in str(err.value)
    with pytest.raises(ValidationError) as err:
        LabelStudioConfig(project="p", token_env=SECRET)
    assert "NAME of an environment variable" in str(err.value) and SECRET not in str(err.value)
    assert LabelStudioConfig(project=3, url="http://ls.example.org:8080/api/").url == "http://ls.example.org:8080"


def test_missing_token_is_an_error_naming_the_variable() -> None:
    with pytest.raises(MissingTokenError, match="MY_LS_TOKEN is not set"):
        read_token("MY_LS_TOKEN", {})
    assert read_token("MY_LS_TOKEN", {"MY_LS_TOKEN": f" {SECRET} "}) == SECRET


def test_preflight_names_the_unset_variable_and_the_unreachable_server() -> None:
    url = closed_port_url()
    annotator = LabelStudioAnnotator(LabelStudioConfig(project="p", url=url, token_env="MY_LS_TOKEN"))
    ctx = PreflightContext(path="annotator", model=ModelSpec(path="m"), environ={})
    problems = {p.path: p.render() for p in annotator.preflight(ctx)}
    assert set(problems) == {"annotator.config.token_env", "annotator.config.url"}
    assert "MY_LS_TOKEN is not set" in problems["annotator.config.token_env"]
    assert (
        f"cannot reach {url}" in problems["annotator.config.url"]
        and "label-studio start" in problems["annotator.config.url"]
    )


def validate(spec: Path, env: dict[str, str]) -> tuple[int, str]:
    """``atgen validate SPEC``: its exit code and output."""
    cmd = [sys.executable, "-m", "atgen_core", "validate", str(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_atgen_validate_exits_2_without_echoing_the_token(tmp_path: Path) -> None:
    spec = {
        "name": "ls",
        "data": {
            "source": {"name": "reasoning-gym", "config": {"dataset": "sentence_reordering", "size": 40}},
            "test_size": 10,
        },
        "annotator": {"name": "label-studio", "config": {"url": closed_port_url(), "project": "p"}},
        "strategy": "random",
        "trainer": "lora",
        "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k != "LABEL_STUDIO_API_KEY"}
    code, out = validate(path, env)
    assert code == 2, out
    assert "annotator.config.token_env" in out and "LABEL_STUDIO_API_KEY is not set" in out
    assert "annotator.config.url" in out and "Traceback" not in out
    env["LABEL_STUDIO_API_KEY"] = SECRET
    code, out = validate(path, env)
    assert code == 2 and "token_env" not in out and "annotator.config.url" in out, out
    assert SECRET not in out


def test_answers_are_read_from_the_latest_annotation() -> None:
    def area(text: str) -> list[dict[str, object]]:
        return [{"from_name": "answer", "to_name": "input", "type": "textarea", "value": {"text": [text]}}]

    older = {"id": 1, "updated_at": "2026-01-01T10:00:00Z", "result": area("old"), "was_cancelled": False}
    newer = {
        "id": 2,
        "updated_at": "2026-01-01T11:00:00Z",
        "result": area("new"),
        "was_cancelled": False,
        "completed_by": {"id": 7, "email": "ann@example.org"},
        "lead_time": 12.5,
    }
    answer = latest_answer([older, newer], "answer")
    assert (answer.status, answer.text, answer.by, answer.seconds, answer.annotation_id) == (
        "ok",
        "new",
        "ann@example.org",
        12.5,
        2,
    )
    skipped = {"id": 3, "updated_at": "2026-01-01T12:00:00Z", "result": [], "was_cancelled": True}
    assert latest_answer([older, skipped], "answer").status == "skipped"
    assert latest_answer([{**older, "result": area("   ")}], "answer").status == "skipped"
    assert latest_answer([], "answer").status == "pending"


def test_the_draft_is_a_prediction_of_the_projects_text_area() -> None:
    parsed = {"input": {"type": "Text"}, "reply": {"type": "TextArea", "to_name": ["doc"], "inputs": []}}
    controls = controls_of(parsed)
    assert controls == Controls("reply", "doc")
    assert controls_of({"choice": {"type": "Choices", "to_name": ["doc"]}}) is None
    pred = prediction(controls, "the draft", 2)
    assert pred["model_version"] == "atgen-round-2"
    assert pred["result"] == [
        {"from_name": "reply", "to_name": "doc", "type": "textarea", "value": {"text": ["the draft"]}}
    ]
