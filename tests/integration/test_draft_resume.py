"""A run killed (SIGKILL) while an annotator that reads the model's draft is labelling, then resumed,
stores exactly the labels an uninterrupted run stores: the drafts are kept with the selection.

The stub plays the API and echoes the draft it received into the label, so a resumed run that handed the
annotator a different (say, empty) draft would store different labels.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("atgen_openai_annotator")
from atgen_openai_annotator.stub_server import OpenAIStub, RecordedRequest, StubReply

from atgen_core.store import RunStore

TESTS = Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": str(TESTS)}


def spec_for(run_dir: Path, base_url: str) -> dict[str, Any]:
    return {
        "name": "draft-resume",
        "seed": 11,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 6}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": {"name": "openai", "config": {
            "base_url": base_url, "model": "stub", "api_key_env": None, "concurrency": 1, "max_attempts": 2,
            "backoff_initial": 0.0, "cache": False, "prompt_template": "{prompt}\nDRAFT<{draft}>",
        }},
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2},
        "output_dir": str(run_dir),
    }


def echo_draft(request: RecordedRequest) -> str:
    text = request.user_text
    topic = text.split()[1] if text.startswith("topic") else "?"
    draft = text.rsplit("DRAFT<", 1)[1].rstrip(">")
    return f"answer {topic} (draft: {draft or 'none'})"


def atgen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "atgen_core", *args, "-p", "atgen_test_components", "-q"],
                            env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stored(run_dir: Path) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    store = RunStore(run_dir, read_only=True)
    try:
        labels = {r.id: r.text for r in store.labels()}
        drafts = {r: store.drafts(r) for r in range(3)}
    finally:
        store.close()
    return labels, drafts


def test_resumed_run_hands_annotators_the_same_drafts(tmp_path: Path) -> None:
    with OpenAIStub() as stub:
        stub.responder = lambda request: StubReply.text(echo_draft(request))
        path = tmp_path / "whole.json"
        path.write_text(json.dumps(spec_for(tmp_path / "whole", stub.base_url)))
        whole = atgen("run", str(path))
        assert whole.wait(timeout=120) == 0, whole.communicate()[1]

    victim: dict[str, subprocess.Popen[str]] = {}
    served: list[str] = []

    def answer(request: RecordedRequest) -> StubReply:
        if len(served) == 9 and "first" in victim:  # round 2, second item: drafts from the round-1 model
            os.kill(victim.pop("first").pid, signal.SIGKILL)
            return StubReply.text("too late")
        served.append(request.user_text)
        return StubReply.text(echo_draft(request))

    with OpenAIStub() as stub:
        stub.responder = answer
        path = tmp_path / "killed.json"
        path.write_text(json.dumps(spec_for(tmp_path / "killed", stub.base_url)))
        victim["first"] = first = atgen("run", str(path))
        assert first.wait(timeout=120) == -signal.SIGKILL
        resume = atgen("resume", str(tmp_path / "killed"))
        assert resume.wait(timeout=120) == 0, resume.communicate()[1]

    whole_labels, whole_drafts = stored(tmp_path / "whole")
    killed_labels, killed_drafts = stored(tmp_path / "killed")
    assert len(whole_labels) == 12
    assert killed_labels == whole_labels
    assert killed_drafts == whole_drafts
    # The random first batch has no draft; later rounds hand each item the model's output, which the
    # annotator received (the label echoes it) and which, after training, is often a learnt answer.
    assert whole_drafts[0] == {} and len(whole_drafts[1]) == len(whole_drafts[2]) == 4
    for round_ in (1, 2):
        for id_, draft in whole_drafts[round_].items():
            assert whole_labels[id_].endswith(f"(draft: {draft})")
    assert any(d.startswith("answer") for d in whole_drafts[2].values())
