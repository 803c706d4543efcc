"""A spec using BERTScore, AlignScore and an LLM judge validates and runs on the tiny model.

BERTScore uses the offline MiniLM backbone; AlignScore a tiny random checkpoint in the published format
(written by the nlg-metrics test kit); the judge is the local OpenAI-compatible stub server, which
answers "Score: 4" (normalised to 0.75 on the 1-5 scale).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("atgen_nlg_metrics")
pytest.importorskip("atgen_openai_annotator")
pytest.importorskip("atgen_lora_trainer")
ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "lora-trainer" / "tests"))
sys.path.insert(0, str(ROOT / "plugins" / "nlg-metrics" / "tests"))
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply  # noqa: E402
from lora_trainer_helpers import CHATML_TEMPLATE, make_model_dir  # noqa: E402
from nlg_metrics_testkit import make_tiny_alignscore  # noqa: E402

from atgen_core.loop import Experiment  # noqa: E402
from atgen_core.plugins import load_registry  # noqa: E402


def test_bertscore_alignscore_and_llm_judge_run_in_the_loop(tmp_path: Path) -> None:
    model_dir = make_model_dir(tmp_path / "tiny-llama", CHATML_TEMPLATE, "<|im_end|>")
    base, checkpoint = make_tiny_alignscore(tmp_path / "alignscore")
    rows = [{"input": f"name: Place {i}, area: riverside", "target": f"Place {i} is by the riverside."}
            for i in range(20)]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with OpenAIStub() as stub:
        stub.responder = lambda request: StubReply.text("Score: 4")
        spec = {
            "name": "metrics-in-loop",
            "data": {"source": {"name": "files", "config": {"train": str(data)}}, "test_size": 4},
            "model": {"path": str(model_dir), "max_input_tokens": 48, "generation": {"max_new_tokens": 5}},
            "loop": {"initial_size": 4, "iterations": 0},
            "strategy": "random",
            "trainer": {"name": "lora", "config": {"epochs": 1, "batch_size": 2}},
            "metrics": [
                "bertscore",
                {"name": "alignscore", "config": {"checkpoint": str(checkpoint), "base_model": str(base)}},
                {"name": "llm-judge", "config": {"base_url": stub.base_url, "model": "judge", "api_key_env": None,
                                                 "input_price_per_1m": 1.0, "output_price_per_1m": 1.0}},
            ],
            "output_dir": str(tmp_path / "run"),
        }
        registry = load_registry()
        with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
            experiment.run()
            rounds = experiment.store.metrics()
            sources = {e.id: e.input for e in experiment.test}
            pairs = {(sources[i], text) for r in (-1, 0) for i, text in experiment.store.generations(r).items()}
        judged = stub.count()
    assert [r for r, _, _ in rounds] == [-1, 0]
    for _, _, values in rounds:
        for key in ("bertscore_precision", "bertscore_recall", "bertscore_f1", "alignscore"):
            assert 0.0 <= values[key] <= 1.0 and not math.isnan(values[key])
        assert values["llm_judge"] == pytest.approx(0.75)
        assert values["llm_judge_failed"] == 0
    assert judged == len(pairs)  # one request per distinct (source, output) pair: repeats come from the cache
    lines = (tmp_path / "run" / "generations" / "round-0.jsonl").read_text().splitlines()
    scores = json.loads(lines[0])["scores"]
    assert {"bertscore_f1", "alignscore", "llm_judge"} <= set(scores)
