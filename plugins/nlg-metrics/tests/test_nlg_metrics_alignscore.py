"""AlignScore: checkpoint format round trip with a tiny random model, and the chunk/sentence aggregation.

A randomly initialised model knows nothing about factual consistency, so the model tests check the
loading (scores equal an independent computation from the checkpoint tensors), determinism, shapes and
errors; they say nothing about quality. The aggregation is checked with a fake pair scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from atgen_nlg_metrics.alignscore import AlignScoreMetric, aggregate, chunk_source, score_examples
from nlg_metrics_testkit import CORPUS, make_tiny_alignscore, write_base_model, write_checkpoint

from atgen_core import MetricContext

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tiny_alignscore(tmp_path_factory.mktemp("alignscore"))


def _metric(tiny: tuple[Path, Path], **options: Any) -> AlignScoreMetric:
    base, checkpoint = tiny
    return AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(checkpoint), base_model=str(base), **options))


def _ctx(sources: Sequence[str], predictions: Sequence[str]) -> MetricContext:
    return MetricContext(
        ids=[f"s{i}" for i in range(len(predictions))],
        predictions=list(predictions),
        references=[[] for _ in predictions],
        sources=list(sources),
    )


def _expected_pair_score(tiny: tuple[Path, Path], context: str, claim: str, mode: str) -> float:
    """The head's score of one pair, computed directly from the checkpoint tensors."""
    from transformers import AutoConfig, AutoTokenizer, RobertaModel

    base, checkpoint = tiny
    state = torch.load(str(checkpoint), weights_only=True)["state_dict"]
    encoder = RobertaModel(AutoConfig.from_pretrained(str(base)))
    encoder.load_state_dict(
        {
            k[len("base_model.") :]: v
            for k, v in state.items()
            if k.startswith("base_model.") and "position_ids" not in k
        }
    )
    encoder.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    batch = tokenizer([context], [claim], return_tensors="pt")
    head = {"nli_sp": "tri_layer", "bin_sp": "bin_layer", "reg_sp": "reg_layer"}[mode]
    with torch.no_grad():
        pooled = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output
        logits = pooled @ state[f"{head}.weight"].T + state[f"{head}.bias"]
    if mode == "nli_sp":
        return float(torch.softmax(logits, -1)[0, 0])
    if mode == "bin_sp":
        return float(torch.softmax(logits, -1)[0, 1])
    return float(logits[0, 0])


# --------------------------------------------------------------------------------------------------
# The model: loading, heads, determinism
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nli_sp", "bin_sp", "reg_sp"])
def test_single_pair_equals_direct_computation(tiny: tuple[Path, Path], mode: str) -> None:
    source, output = "Paris is the capital of France.", "The cat sat on the mat."
    metric = _metric(tiny, mode=mode)
    result = metric.compute(_ctx([source], [output]))
    expected = _expected_pair_score(tiny, source, output, mode)
    assert result.values["alignscore"] == pytest.approx(expected, abs=1e-5)
    if mode != "reg_sp":
        assert 0.0 <= expected <= 1.0


def test_example_score_aggregates_pair_scores(tiny: tuple[Path, Path]) -> None:
    # Two output sentences, a short source (one chunk): the score is the mean of the two pair scores.
    source = "Blue Spice is a coffee shop in the city centre."
    output = "Blue Spice is a coffee shop. It serves cheap Italian food."
    expected = (
        _expected_pair_score(tiny, source, "Blue Spice is a coffee shop.", "nli_sp")
        + _expected_pair_score(tiny, source, "It serves cheap Italian food.", "nli_sp")
    ) / 2
    result = _metric(tiny).compute(_ctx([source], [output]))
    assert result.values["alignscore"] == pytest.approx(expected, abs=1e-5)


def test_deterministic_shapes_and_batch_independence(tiny: tuple[Path, Path]) -> None:
    sources = [CORPUS[4], CORPUS[1], CORPUS[3] + " " + CORPUS[0], ""]
    # The second pair is a contradiction; a random model cannot know that, so only shapes and
    # determinism are checked here.
    outputs = ["Blue Spice is a coffee shop.", "Paris is not the capital of France.", "A dog. The cat sat.", "Hi."]
    metric = _metric(tiny, batch_size=32)
    first = metric.compute(_ctx(sources, outputs))
    again = metric.compute(_ctx(sources, outputs))
    one_by_one = _metric(tiny, batch_size=1).compute(_ctx(sources, outputs))
    assert set(first.values) == {"alignscore"} == set(metric.keys())
    assert len(first.per_example["alignscore"]) == 4
    assert all(0.0 <= s <= 1.0 for s in first.per_example["alignscore"])
    assert list(again.per_example["alignscore"]) == list(first.per_example["alignscore"])
    assert one_by_one.per_example["alignscore"] == pytest.approx(first.per_example["alignscore"], abs=1e-5)
    assert first.values["alignscore"] == pytest.approx(sum(first.per_example["alignscore"]) / 4)
    assert first.seconds > 0


def test_empty_output_gets_the_configured_score(tiny: tuple[Path, Path]) -> None:
    result = _metric(tiny, empty_output_score=0.25).compute(_ctx([CORPUS[0], CORPUS[1]], ["  ", CORPUS[1]]))
    assert result.per_example["alignscore"][0] == 0.25
    assert result.per_example["alignscore"][1] != 0.25


def test_model_loaded_once_and_released(tiny: tuple[Path, Path]) -> None:
    metric = _metric(tiny)
    assert metric._model is None  # lazy: nothing loaded at construction
    metric.compute(_ctx([CORPUS[0]], [CORPUS[0]]))
    loaded = metric._model
    metric.compute(_ctx([CORPUS[1]], [CORPUS[1]]))
    assert metric._model is loaded
    metric.close()
    assert metric._model is None


def test_long_pairs_are_truncated(tiny: tuple[Path, Path]) -> None:
    long_source = " ".join(CORPUS * 6)  # far beyond the tiny model's 64 tokens
    long_claim = " ".join(["the cat sat on the mat and the dog barked at the moon"] * 8)
    result = _metric(tiny).compute(_ctx([long_source, "short"], ["The cat sat.", long_claim]))
    assert len(result.per_example["alignscore"]) == 2


def test_reg_mode_is_unbounded(tiny: tuple[Path, Path]) -> None:
    assert _metric(tiny, mode="reg_sp").keys()["alignscore"].high == float("inf")
    assert _metric(tiny).keys()["alignscore"].high == 1.0


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_missing_checkpoint_setting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"config\.checkpoint is required"):
        AlignScoreMetric().compute(_ctx(["a"], ["a"]))


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    metric = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(tmp_path / "nope.ckpt")))
    with pytest.raises(ValueError, match="does not exist"):
        metric.compute(_ctx(["a"], ["a"]))


def test_missing_head_names_the_mode(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = tiny
    checkpoint = tmp_path / "no-tri.ckpt"
    write_checkpoint(checkpoint, base, heads=("bin", "reg"))
    metric = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(checkpoint), base_model=str(base)))
    with pytest.raises(ValueError, match="mode 'nli_sp' needs the head 'tri_layer'"):
        metric.compute(_ctx(["a"], ["a"]))
    bin_metric = AlignScoreMetric(
        AlignScoreMetric.Config(checkpoint=str(checkpoint), base_model=str(base), mode="bin_sp")
    )
    assert len(bin_metric.compute(_ctx(["a b."], ["a."])).per_example["alignscore"]) == 1


def test_wrong_base_model_is_a_clear_error(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    _, checkpoint = tiny
    other = tmp_path / "wider"
    other.mkdir()
    write_base_model(other, hidden=48)
    metric = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(checkpoint), base_model=str(other)))
    with pytest.raises(ValueError, match="do not fit base_model"):
        metric.compute(_ctx(["a"], ["a"]))


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"x": "not a tensor"}}, str(path))
    metric = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(path)))
    with pytest.raises(ValueError, match="not an AlignScore checkpoint"):
        metric.compute(_ctx(["a"], ["a"]))


def test_checkpoint_with_python_objects_needs_trust(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    import argparse

    base, checkpoint = tiny
    state = torch.load(str(checkpoint), weights_only=True)["state_dict"]
    path = tmp_path / "namespace.ckpt"
    # Old Lightning versions pickled hyper-parameters as argparse.Namespace: safe loading refuses it.
    torch.save({"state_dict": state, "hparams": argparse.Namespace(model="roberta-base")}, str(path))
    refused = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(path), base_model=str(base)))
    with pytest.raises(ValueError, match="trust_checkpoint: true"):
        refused.compute(_ctx(["a"], ["a"]))
    trusted = AlignScoreMetric(
        AlignScoreMetric.Config(checkpoint=str(path), base_model=str(base), trust_checkpoint=True)
    )
    reference = _metric(tiny).compute(_ctx([CORPUS[0]], [CORPUS[1]]))
    assert trusted.compute(_ctx([CORPUS[0]], [CORPUS[1]])).values == reference.values


def test_safetensors_state_dict(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    from safetensors.torch import save_file

    base, checkpoint = tiny
    state = torch.load(str(checkpoint), weights_only=True)["state_dict"]
    path = tmp_path / "alignscore.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    metric = AlignScoreMetric(AlignScoreMetric.Config(checkpoint=str(path), base_model=str(base)))
    reference = _metric(tiny).compute(_ctx([CORPUS[0]], [CORPUS[1]]))
    assert metric.compute(_ctx([CORPUS[0]], [CORPUS[1]])).values == reference.values


def test_source_count_must_match() -> None:
    bad = MetricContext(ids=["a", "b"], predictions=["x", "y"], references=[[], []], sources=["only one"])
    with pytest.raises(ValueError, match="2 predictions but 1 sources"):
        AlignScoreMetric(AlignScoreMetric.Config(checkpoint="unused")).compute(bad)


# --------------------------------------------------------------------------------------------------
# Chunking and aggregation (fake scorer)
# --------------------------------------------------------------------------------------------------


def test_chunk_source_follows_alignscore() -> None:
    # 6 words, chunk_words=2: 6 // 2 + 1 = 4 target chunks, max(3 // 4, 1) = 1 sentence each
    assert chunk_source("A b. C d. E f.", chunk_words=2) == ["A b.", "C d.", "E f."]
    # 10 words, chunk_words=6: 2 target chunks of 5 // 2 = 2 sentences, the remainder forms a third
    source = "A b. C d. E f. G h. I j."
    assert chunk_source(source, chunk_words=6) == ["A b. C d.", "E f. G h.", "I j."]
    # short source: one chunk holding every sentence
    assert chunk_source(source, chunk_words=350) == [source]
    assert chunk_source("", chunk_words=350) == [""]


def test_aggregate_is_mean_over_sentences_of_max_over_chunks() -> None:
    # rows: chunks, columns: claim sentences
    assert aggregate([[0.2, 0.3], [0.9, 0.1], [0.4, 0.5]]) == pytest.approx((0.9 + 0.5) / 2)
    assert aggregate([[0.7]]) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        aggregate([])


def test_score_examples_with_a_fake_scorer() -> None:
    table = {
        ("A b.", "C d."): 0.2,
        ("C d.", "C d."): 0.9,
        ("E f.", "C d."): 0.4,
        ("A b.", "X y."): 0.3,
        ("C d.", "X y."): 0.1,
        ("E f.", "X y."): 0.5,
    }
    calls: list[int] = []

    def scorer(contexts: Sequence[str], claims: Sequence[str]) -> list[float]:
        calls.append(len(contexts))
        return [table[(c, s)] for c, s in zip(contexts, claims)]

    scores = score_examples(
        ["A b. C d. E f.", "A b. C d. E f.", "A b. C d. E f."],
        ["C d. X y.", "X y.", ""],
        scorer,
        chunk_words=2,
        batch_size=4,
        empty_score=0.0,
    )
    assert scores == pytest.approx([(0.9 + 0.5) / 2, 0.5, 0.0])
    assert sum(calls) == 6  # every distinct (chunk, sentence) pair scored once
    assert max(calls) <= 4  # in batches of at most batch_size


def test_score_examples_checks_the_scorer_output() -> None:
    with pytest.raises(ValueError, match="returned 0 scores for 1 pairs"):
        score_examples(["a."], ["b."], lambda contexts, claims: [])
