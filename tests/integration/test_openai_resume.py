"""A run killed (SIGKILL) during LLM annotation and resumed pays for no item twice.

The test's stub server plays the API. When the 7th request arrives, the stub kills the atgen process
before answering it; `atgen resume` then finishes the run. The stub's request log must show every item
answered exactly once (the one request that was in flight at the kill is re-sent, never answered twice),
and the final labels are the stub's answers for every selected item.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("atgen_openai_annotator")
from atgen_openai_annotator.stub_server import OpenAIStub, RecordedRequest, StubReply

from atgen_core.store import RunStore

TESTS = Path(__file__).parents[1]


def test_kill_during_llm_annotation_then_resume_sends_no_duplicate(tmp_path: Path) -> None:
    spec = {
        "name": "llm-resume",
        "seed": 5,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": {"name": "openai", "config": {"base_url": "", "model": "stub", "api_key_env": None,
                                                   "concurrency": 1, "input_price_per_1m": 1.0,
                                                   "output_price_per_1m": 2.0, "max_attempts": 2,
                                                   "backoff_initial": 0.0}},
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2},
        "output_dir": str(tmp_path / "run"),
    }
    victim: dict[str, subprocess.Popen[str]] = {}
    served: list[str] = []

    def answer(request: RecordedRequest) -> StubReply:
        text = request.user_text
        if len(served) == 6 and "first" in victim:
            os.kill(victim["first"].pid, signal.SIGKILL)
            victim.pop("first")
            return StubReply.text("too late")
        served.append(text)
        topic = text.split()[1] if text.startswith("topic") else "?"
        return StubReply.text(f"answer {topic}")

    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    with OpenAIStub() as stub:
        stub.responder = answer
        spec["annotator"]["config"]["base_url"] = stub.base_url  # type: ignore[index]
        path = tmp_path / "spec.json"
        path.write_text(json.dumps(spec))
        proc = subprocess.Popen(
            [sys.executable, "-m", "atgen_core", "run", str(path), "-p", "atgen_test_components", "-q"],
            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        victim["first"] = proc
        assert proc.wait(timeout=120) == -signal.SIGKILL
        assert len(served) == 6
        resume = subprocess.run(
            [sys.executable, "-m", "atgen_core", "resume", str(tmp_path / "run"), "-p", "atgen_test_components",
             "-q"], env=env, capture_output=True, text=True, timeout=120,
        )
        assert resume.returncode == 0, resume.stderr
    counts = Counter(served)
    assert all(n == 1 for n in counts.values()), counts.most_common(3)
    assert len(served) == 12  # 3 rounds x 4 items, each answered once
    store = RunStore(tmp_path / "run", create=False)
    try:
        labels = {x.id: x.text for x in store.labels()}
        pool = {e.id: e for e in store.load_examples("pool")}
        assert len(labels) == 12
        assert all(text == pool[i].target for i, text in labels.items())
        assert store.spent()[1] > 0
    finally:
        store.close()
