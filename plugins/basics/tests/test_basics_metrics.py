"""Tests of the core metrics with values computed by hand or with the underlying libraries directly."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pytest
from atgen_basics.metrics import (
    METRICS,
    ChrfMetric,
    ExactMatchMetric,
    LengthMetric,
    NumericAccuracyMetric,
    RougeMetric,
    SacreBleuMetric,
    extract_number,
    normalize_answer,
    split_sentences,
)
from pydantic import ValidationError

from atgen_core import Metric, MetricContext
from atgen_core.testing import check_light_import


def ctx(predictions: Sequence[str], references: Sequence[Sequence[str]], sources: Sequence[str] = ()) -> MetricContext:
    n = len(predictions)
    return MetricContext(
        ids=[f"ex{i}" for i in range(n)],
        predictions=list(predictions),
        references=[list(r) for r in references],
        sources=list(sources) or [""] * n,
    )


# --------------------------------------------------------------------------------------------------
# Common behaviour
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
def test_keys_match_values_and_per_example(cls: type[Metric]) -> None:
    metric = cls()
    started = time.perf_counter()
    result = metric.compute(ctx(["The answer is 4. #### 4", "two words"], [["#### 4"], ["#### 5 two words"]]))
    elapsed = time.perf_counter() - started
    assert set(result.values) == set(metric.keys())
    assert set(result.per_example) == set(metric.keys())
    for key, scores in result.per_example.items():
        assert len(scores) == 2
        spec = metric.keys()[key]
        assert spec.low <= result.values[key] <= spec.high
    assert 0 < result.seconds <= elapsed  # the metric's own compute time, not the default 0


@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
def test_empty_predictions_are_a_clear_error(cls: type[Metric]) -> None:
    with pytest.raises(ValueError, match="no predictions"):
        cls().compute(ctx([], []))


@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
def test_mismatched_reference_count_is_an_error(cls: type[Metric]) -> None:
    bad = MetricContext(ids=["a", "b"], predictions=["x", "y"], references=[["x"]], sources=["", ""])
    with pytest.raises(ValueError, match="2 predictions but 1 reference"):
        cls().compute(bad)


@pytest.mark.parametrize("cls", [RougeMetric, SacreBleuMetric, ChrfMetric, ExactMatchMetric, NumericAccuracyMetric])
def test_missing_reference_names_the_example(cls: type[Metric]) -> None:
    with pytest.raises(ValueError, match="'ex1' has no reference"):
        cls().compute(ctx(["a 1", "b 2"], [["a 1"], []]))


def test_module_import_is_light() -> None:
    assert check_light_import("atgen_basics.metrics", ("rouge_score", "sacrebleu", "torch", "nltk")) == []


def test_string_reference_is_one_reference() -> None:
    context = MetricContext(ids=["a"], predictions=["the cat"], references=["the cat"], sources=[""])
    assert RougeMetric().compute(context).values["rouge1"] == 1.0


# --------------------------------------------------------------------------------------------------
# ROUGE
# --------------------------------------------------------------------------------------------------


def test_rouge_identical_and_unrelated() -> None:
    result = RougeMetric().compute(
        ctx(["the cat sat on the mat", "the cat sat"], [["the cat sat on the mat"], ["dogs bark loudly"]])
    )
    for key in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert result.per_example[key][0] == pytest.approx(1.0)
        assert result.per_example[key][1] == 0.0
        assert result.values[key] == pytest.approx(0.5)


def test_rouge_hand_computed() -> None:
    # prediction: the cat sat on the mat   reference: the cat lay on a mat
    # unigram overlap (clipped): the, cat, on, mat = 4 of 6 each side -> P = R = F1 = 2/3
    # bigrams: only "the cat" is shared, 1 of 5 each side -> F1 = 0.2
    # LCS: the cat on mat = 4 -> F1 = 2/3
    result = RougeMetric().compute(ctx(["the cat sat on the mat"], [["the cat lay on a mat"]]))
    assert result.values["rouge1"] == pytest.approx(2 / 3)
    assert result.values["rouge2"] == pytest.approx(0.2)
    assert result.values["rougeL"] == pytest.approx(2 / 3)


def test_rouge_hand_computed_unequal_lengths() -> None:
    # prediction "a b c" vs reference "a b d e f g": overlap 2, P = 2/3, R = 2/6, F1 = 2PR/(P+R) = 4/9
    result = RougeMetric(RougeMetric.Config(rouge_types=("rouge1",))).compute(ctx(["a b c"], [["a b d e f g"]]))
    assert result.values == {"rouge1": pytest.approx(4 / 9)}


def test_rouge_multi_reference_takes_the_best() -> None:
    result = RougeMetric().compute(
        ctx(["the cat sat on the mat"], [["dogs bark", "the cat sat on the mat", "the cat lay on a mat"]])
    )
    assert result.values["rouge1"] == pytest.approx(1.0)
    assert result.values["rouge2"] == pytest.approx(1.0)


def test_rouge_matches_library_mean_f1() -> None:
    from rouge_score import rouge_scorer

    preds = ["police killed the gunman", "the quick brown fox jumps", "running runners ran"]
    refs = ["the gunman was shot dead by police", "a fast brown fox leaped", "the runner runs"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    expected = sum(scorer.score(r, p)["rouge1"].fmeasure for p, r in zip(preds, refs)) / 3
    result = RougeMetric().compute(ctx(preds, [[r] for r in refs]))
    assert result.values["rouge1"] == pytest.approx(expected)
    # stemming matters: "runners"/"runner" match only with the stemmer
    no_stem = RougeMetric(RougeMetric.Config(use_stemmer=False)).compute(ctx(preds, [[r] for r in refs]))
    assert no_stem.per_example["rouge1"][2] < result.per_example["rouge1"][2]


def test_rouge_lsum_uses_sentences() -> None:
    prediction, reference = "A b c. D e f.", "D e f. A b c."
    plain = RougeMetric().compute(ctx([prediction], [[reference]]))
    # one line each: LCS of (a b c d e f) and (d e f a b c) is 3 -> 0.5 for rougeL and rougeLsum
    assert plain.values["rougeL"] == pytest.approx(0.5)
    assert plain.values["rougeLsum"] == pytest.approx(0.5)
    split = RougeMetric(RougeMetric.Config(split_sentences=True)).compute(ctx([prediction], [[reference]]))
    assert split.values["rougeLsum"] == pytest.approx(1.0)
    assert split.values["rougeL"] == pytest.approx(0.5)
    newlines = RougeMetric().compute(ctx(["A b c.\nD e f."], [["D e f.\nA b c."]]))
    assert newlines.values["rougeLsum"] == pytest.approx(1.0)


def test_rouge_whitespace_tokenizer_handles_non_latin_text() -> None:
    text = "привет мир"
    assert RougeMetric().compute(ctx([text], [[text]])).values["rouge1"] == 0.0
    whitespace = RougeMetric(RougeMetric.Config(tokenizer="whitespace")).compute(ctx([text], [[text]]))
    assert whitespace.values["rouge1"] == pytest.approx(1.0)


def test_rouge_config_validation() -> None:
    with pytest.raises(ValidationError, match="rouge0"):
        RougeMetric.Config(rouge_types=("rouge0",))
    with pytest.raises(ValidationError):
        RougeMetric.Config(rouge_types=())
    with pytest.raises(ValidationError):
        RougeMetric.Config(unknown=1)  # type: ignore[call-arg]
    metric = RougeMetric(RougeMetric.Config(rouge_types=("rouge3", "rougeL")))
    assert set(metric.keys()) == {"rouge3", "rougeL"}


def test_split_sentences() -> None:
    assert split_sentences('He said "Hi." Then left! Why? ok\nnext line') == [
        'He said "Hi."',
        "Then left!",
        "Why?",
        "ok",
        "next line",
    ]
    assert split_sentences("3.5 apples") == ["3.5 apples"]


# --------------------------------------------------------------------------------------------------
# sacreBLEU and chrF
# --------------------------------------------------------------------------------------------------


def test_sacrebleu_identical_and_unrelated() -> None:
    same = SacreBleuMetric().compute(ctx(["the cat sat on the mat today"], [["the cat sat on the mat today"]]))
    assert same.values["sacrebleu"] == pytest.approx(100.0)
    assert same.per_example["sacrebleu"] == [pytest.approx(100.0)]
    other = SacreBleuMetric().compute(ctx(["dogs bark loudly at night"], [["the cat sat on the mat today"]]))
    assert other.values["sacrebleu"] == 0.0
    assert other.per_example["sacrebleu"] == [0.0]


def test_sacrebleu_hand_computed_brevity_penalty() -> None:
    # every n-gram of the 4-word prediction is in the 8-word reference: precisions are all 1,
    # BLEU = BP = exp(1 - 8/4) * 100
    result = SacreBleuMetric().compute(ctx(["a b c d"], [["a b c d e f g h"]]))
    assert result.values["sacrebleu"] == pytest.approx(100 * math.exp(1 - 8 / 4))


def test_sacrebleu_variable_reference_counts_match_library() -> None:
    import sacrebleu

    preds = ["the cat is on the mat", "there is a dog in the garden", "birds fly south in winter"]
    refs = [
        ["the cat sits on the mat", "a cat is on the mat"],
        ["a dog is in the garden"],
        ["in winter birds fly to the south", "birds migrate south in winter", "birds fly south for winter"],
    ]
    streams = [
        [refs[0][0], refs[1][0], refs[2][0]],
        [refs[0][1], None, refs[2][1]],
        [None, None, refs[2][2]],
    ]
    expected = sacrebleu.corpus_bleu(preds, streams).score
    result = SacreBleuMetric().compute(ctx(preds, refs))
    assert result.values["sacrebleu"] == pytest.approx(expected)
    for i, (p, r) in enumerate(zip(preds, refs)):
        assert result.per_example["sacrebleu"][i] == pytest.approx(sacrebleu.sentence_bleu(p, r).score)


def test_sacrebleu_pads_missing_references_with_none() -> None:
    import sacrebleu

    # "ok" has one reference of 4 words: its reference length must be 4. Padding the second stream
    # with "" would make the empty string the closest reference (length 0) and remove the brevity
    # penalty; padding with None leaves it out.
    preds = ["ok", "the cat is on the mat"]
    refs = [["ok fine then good"], ["the cat is on the mat", "a cat is on the mat"]]
    result = SacreBleuMetric().compute(ctx(preds, refs))
    expected = sacrebleu.corpus_bleu(preds, [[refs[0][0], refs[1][0]], [None, refs[1][1]]])
    assert result.values["sacrebleu"] == pytest.approx(expected.score)
    assert expected.ref_len == 10
    padded_badly = sacrebleu.corpus_bleu(preds, [[refs[0][0], refs[1][0]], ["", refs[1][1]]])
    assert padded_badly.ref_len == 6
    assert padded_badly.score > result.values["sacrebleu"]


def test_sacrebleu_multi_reference_helps() -> None:
    single = SacreBleuMetric().compute(ctx(["the cat is on the mat"], [["there is a cat on the mat"]]))
    multi = SacreBleuMetric().compute(
        ctx(["the cat is on the mat"], [["there is a cat on the mat", "the cat is on the mat"]])
    )
    assert multi.values["sacrebleu"] == pytest.approx(100.0)
    assert single.values["sacrebleu"] < 100.0


def test_chrf_identical_unrelated_and_library() -> None:
    import sacrebleu

    assert ChrfMetric().compute(ctx(["hello there world"], [["hello there world"]])).values["chrf"] == pytest.approx(
        100
    )
    assert ChrfMetric().compute(ctx(["xyz"], [["abc"]])).values["chrf"] == 0.0
    preds, refs = ["the cats sat down", "a brown dog"], [["the cat sat"], ["brown dogs", "the dog is brown"]]
    expected = sacrebleu.corpus_chrf(preds, [["the cat sat", "brown dogs"], [None, "the dog is brown"]]).score
    result = ChrfMetric().compute(ctx(preds, refs))
    assert result.values["chrf"] == pytest.approx(expected)
    assert 0 < result.values["chrf"] < 100
    plus = ChrfMetric(ChrfMetric.Config(word_order=2)).compute(ctx(preds, refs))
    assert plus.values["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(preds, [["the cat sat", "brown dogs"], [None, "the dog is brown"]], word_order=2).score
    )


# --------------------------------------------------------------------------------------------------
# Exact match
# --------------------------------------------------------------------------------------------------


def test_normalize_answer_steps() -> None:
    assert normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("«Paris»…") == "paris"  # Unicode punctuation
    assert normalize_answer("The Cat", ignore_case=False) == "Cat"
    assert normalize_answer("the cat.", ignore_punctuation=False, ignore_articles=False) == "the cat."
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words


def test_exact_match_any_reference() -> None:
    result = ExactMatchMetric().compute(
        ctx(
            ["The Eiffel Tower!", "Paris", "london", "Rome"],
            [["eiffel tower"], ["London"], ["Paris", "London"], ["Roma"]],
        )
    )
    assert result.per_example["exact_match"] == [1.0, 0.0, 1.0, 0.0]
    assert result.values["exact_match"] == 0.5
    strict = ExactMatchMetric(ExactMatchMetric.Config(ignore_case=False)).compute(ctx(["london"], [["London"]]))
    assert strict.values["exact_match"] == 0.0


# --------------------------------------------------------------------------------------------------
# Numeric accuracy
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Natalia sold 48/2 = 24 clips in May.\n#### 72", 72.0),
        ("The total is #### 1,234,567", 1234567.0),
        ("#### -5", -5.0),
        ("#### \u22123", -3.0),  # Unicode minus
        ("#### 3.75 dollars", 3.75),
        ("#### $1,000.50", 1000.5),
        ("#### 42.0", 42.0),
        ("So she has 5 apples. The answer is 18.", 18.0),  # fallback: last number
        ("between 3-5 days", 5.0),  # a hyphen between numbers is not a sign
        ("first #### 1 then #### 2 and 7", 2.0),  # first number after the last marker
        ("9 apples #### none", 9.0),  # marker without a number after it: last number
        ("no number at all", None),
        ("step2 is weird", None),  # digits glued to a word are not numbers
        ("1,2,3", 3.0),  # not a thousands group: three numbers
        ("costs .5 each", 0.5),
    ],
)
def test_extract_number(text: str, expected: float | None) -> None:
    assert extract_number(text) == expected


def test_extract_number_options() -> None:
    assert extract_number("answer 7", fallback_last_number=False) is None
    assert extract_number("#### 7", marker=None) == 7.0
    assert extract_number("Answer: 12 (approx 13)", marker="Answer:") == 12.0
    assert extract_number("#### x, 8", marker="####") == 8.0


def test_numeric_accuracy_gsm8k() -> None:
    refs = [
        ["Janet has 16 eggs ... 16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars.\n#### 18"],
        ["#### 1,000"],
        ["#### 42"],
        ["#### -7"],
        ["#### 3.5"],
        ["#### 10"],
    ]
    preds = [
        "She sells 9 eggs for $2 each, so 18. #### 18",
        "The answer is 1000",
        "It is 42.0",
        "#### -7",
        "#### 3.50",
        "I cannot tell",
    ]
    result = NumericAccuracyMetric().compute(ctx(preds, refs))
    assert result.per_example["numeric_accuracy"] == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert result.values["numeric_accuracy"] == pytest.approx(5 / 6)
    wrong = NumericAccuracyMetric().compute(ctx(["#### 17", "#### 7"], [["#### 18"], ["#### -7"]]))
    assert wrong.per_example["numeric_accuracy"] == [0.0, 0.0]
    no_fallback = NumericAccuracyMetric(NumericAccuracyMetric.Config(fallback_last_number=False))
    assert no_fallback.compute(ctx(["The answer is 18"], [["#### 18"]])).values["numeric_accuracy"] == 0.0


def test_numeric_accuracy_reference_without_number_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no number found in the reference.*'ex0'"):
        NumericAccuracyMetric().compute(ctx(["#### 3"], [["no answer here"]]))


# --------------------------------------------------------------------------------------------------
# Length
# --------------------------------------------------------------------------------------------------


def test_length_words_and_ratio() -> None:
    result = LengthMetric().compute(
        ctx(["a b c", "one two three four", "x"], [["a b c d e f"], ["1 2", "1 2 3 4 5 6"], [""]])
    )
    assert result.per_example["length_words"] == [3.0, 4.0, 1.0]
    assert result.values["length_words"] == pytest.approx(8 / 3)
    ratios = result.per_example["length_ratio"]
    assert ratios[0] == pytest.approx(0.5)
    assert ratios[1] == pytest.approx(1.0)  # 4 words / mean(2, 6) reference words
    assert math.isnan(ratios[2])  # empty reference: left out of the mean
    assert result.values["length_ratio"] == pytest.approx(0.75)
    assert LengthMetric().keys()["length_words"].high == float("inf")


def test_length_without_references() -> None:
    result = LengthMetric().compute(ctx(["a b", ""], [[], []]))
    assert result.values["length_words"] == 1.0
    assert math.isnan(result.values["length_ratio"])
