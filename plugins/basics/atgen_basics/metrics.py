"""Core text-generation metrics: ROUGE, sacreBLEU, chrF, exact match, GSM8K numeric accuracy, length.

Every metric returns a :class:`~atgen_core.MetricResult` with corpus values, per-example scores (in
the order of the inputs) and the seconds taken. Scales are declared by ``keys()``: ROUGE and the
accuracies are 0-1, BLEU and chrF are 0-100 (the sacreBLEU convention), lengths are 0-inf.

Common rules:

- An empty prediction list is an error (``ValueError``), never a silent ``nan``.
- ``references`` is one sequence of reference texts per example; a plain string is accepted as a
  single reference. Reference-based metrics raise ``ValueError`` naming the example when an example
  has no reference at all.
- Aggregation is deterministic: plain means over examples (no bootstrap resampling).

``rouge-score`` and ``sacrebleu`` are imported inside ``compute()`` so that importing this module is
cheap.
"""

from __future__ import annotations

import math
import re
import string
import time
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig

__all__ = [
    "METRICS",
    "ChrfMetric",
    "ExactMatchMetric",
    "LengthMetric",
    "NumericAccuracyMetric",
    "RougeMetric",
    "SacreBleuMetric",
    "extract_number",
    "normalize_answer",
    "split_sentences",
]


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")


_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences with a simple rule (no model, no downloads).

    A sentence ends at ``.``, ``!`` or ``?`` (optionally followed by closing quotes or brackets)
    followed by whitespace; existing newlines also end sentences. Abbreviations such as "Dr." are
    split too; this is a cheap approximation of a trained splitter.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


# --------------------------------------------------------------------------------------------------
# ROUGE
# --------------------------------------------------------------------------------------------------

_ROUGE_TYPE = re.compile(r"^rouge([1-9]|L|Lsum)$")


class _WhitespaceTokenizer:
    """Lower-cases and splits on whitespace (keeps non-Latin characters, unlike the default)."""

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()


class RougeConfig(PluginConfig):
    """Options of the ``rouge`` metric."""

    rouge_types: tuple[str, ...] = Field(
        ("rouge1", "rouge2", "rougeL", "rougeLsum"),
        min_length=1,
        description="ROUGE variants to report: 'rouge1'..'rouge9' (n-gram overlap), 'rougeL' (longest common "
        "subsequence over the whole text) and 'rougeLsum' (LCS per sentence; sentences are the lines).",
    )
    use_stemmer: bool = Field(True, description="Porter-stem words before matching (only with tokenizer='default').")
    tokenizer: Literal["default", "whitespace"] = Field(
        "default",
        description="'default': rouge-score's tokenizer (lower-case, every character other than a-z and 0-9 "
        "is a separator, so non-Latin text scores 0); 'whitespace': lower-case and split on whitespace "
        "(use for non-English text; no stemming).",
    )
    split_sentences: bool = Field(
        False,
        description="For rougeLsum: split predictions and references into sentences with a simple rule "
        "(after '.', '!' or '?' followed by whitespace) before scoring. By default only newlines separate "
        "sentences, the rouge-score convention.",
    )

    @field_validator("rouge_types")
    @classmethod
    def _check_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for rouge_type in value:
            if not _ROUGE_TYPE.match(rouge_type):
                raise ValueError(
                    f"rouge_types: {rouge_type!r} is not a ROUGE variant; use rouge1..rouge9, rougeL or rougeLsum"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"rouge_types: duplicate entries in {list(value)}")
        return value


class RougeMetric(Metric[RougeConfig]):
    """ROUGE F1 (rouge-score): mean over examples, best reference per example; 0-1."""

    name = "rouge"
    default = True
    """The default metric: specs without `metrics` get this one."""
    Config = RougeConfig

    def keys(self) -> Mapping[str, MetricKey]:
        return {t: MetricKey(low=0.0, high=1.0, higher_is_better=True) for t in self.config.rouge_types}

    def compute(self, ctx: MetricContext) -> MetricResult:
        start = time.perf_counter()
        references = ctx.checked_references(self.name)
        from rouge_score import rouge_scorer

        cfg = self.config
        tokenizer = _WhitespaceTokenizer() if cfg.tokenizer == "whitespace" else None
        scorer = rouge_scorer.RougeScorer(list(cfg.rouge_types), use_stemmer=cfg.use_stemmer, tokenizer=tokenizer)

        def prepare(text: str) -> str:
            return "\n".join(split_sentences(text)) if cfg.split_sentences else text

        per_example: dict[str, list[float]] = {t: [] for t in cfg.rouge_types}
        for prediction, refs in zip(ctx.progress(ctx.predictions, total=len(references), desc="rouge"), references):
            scores = scorer.score_multi([prepare(r) for r in refs], prepare(prediction))
            for rouge_type in cfg.rouge_types:
                per_example[rouge_type].append(float(scores[rouge_type].fmeasure))
        values = {t: _mean(v) for t, v in per_example.items()}
        return MetricResult(values=values, per_example=per_example, seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------
# sacreBLEU and chrF
# --------------------------------------------------------------------------------------------------


def _reference_streams(references: list[list[str]]) -> Any:
    """Transpose per-example reference lists into sacreBLEU reference streams, padding with ``None``.

    sacreBLEU ignores ``None`` entries, so examples with fewer references are scored against the ones
    they have (padding with ``""`` would add an empty reference and change the brevity penalty).
    """
    width = max(len(refs) for refs in references)
    streams: list[list[str | None]] = [
        [refs[j] if j < len(refs) else None for refs in references] for j in range(width)
    ]
    return streams


SacreTokenizer = Literal["13a", "intl", "none", "char", "zh", "ja-mecab", "ko-mecab", "spm", "flores101", "flores200"]


class SacreBleuConfig(PluginConfig):
    """Options of the ``sacrebleu`` metric."""

    tokenize: SacreTokenizer = Field(
        "13a",
        description="sacreBLEU tokenizer: '13a' (WMT default), 'intl', 'none', 'char', 'zh'; 'ja-mecab', "
        "'ko-mecab', 'spm', 'flores101' and 'flores200' need extra packages or downloads.",
    )
    lowercase: bool = Field(False, description="Lower-case predictions and references before scoring.")
    smooth_method: Literal["exp", "floor", "add-k", "none"] = Field(
        "exp", description="Smoothing of n-gram precisions (corpus and per-example scores)."
    )
    smooth_value: float | None = Field(
        None, ge=0, description="Value for 'floor' (default 0.1) or 'add-k' (default 1) smoothing."
    )
    max_ngram_order: int = Field(4, ge=1, le=9, description="Highest n-gram order (BLEU-4 by default).")


class SacreBleuMetric(Metric[SacreBleuConfig]):
    """Corpus BLEU (sacreBLEU, 13a tokenisation by default), multi-reference; 0-100."""

    name = "sacrebleu"
    Config = SacreBleuConfig

    def keys(self) -> Mapping[str, MetricKey]:
        return {"sacrebleu": MetricKey(low=0.0, high=100.0, higher_is_better=True)}

    def _bleu(self, effective_order: bool) -> Any:
        from sacrebleu.metrics import BLEU

        cfg = self.config
        return BLEU(
            lowercase=cfg.lowercase,
            tokenize=cfg.tokenize,
            smooth_method=cfg.smooth_method,
            smooth_value=cfg.smooth_value,
            max_ngram_order=cfg.max_ngram_order,
            effective_order=effective_order,
        )

    def compute(self, ctx: MetricContext) -> MetricResult:
        start = time.perf_counter()
        references = ctx.checked_references(self.name)
        predictions = [str(p) for p in ctx.predictions]
        corpus = self._bleu(effective_order=False).corpus_score(predictions, _reference_streams(references))
        sentence_bleu = self._bleu(effective_order=True)
        per_example = [
            min(100.0, float(sentence_bleu.sentence_score(p, refs).score))
            for p, refs in zip(ctx.progress(predictions, total=len(predictions), desc="sacrebleu"), references)
        ]
        return MetricResult(
            values={"sacrebleu": min(100.0, float(corpus.score))},
            per_example={"sacrebleu": per_example},
            seconds=time.perf_counter() - start,
        )


class ChrfConfig(PluginConfig):
    """Options of the ``chrf`` metric."""

    char_order: int = Field(6, ge=1, le=12, description="Character n-gram order.")
    word_order: int = Field(0, ge=0, le=4, description="Word n-gram order (2 gives chrF++).")
    beta: int = Field(2, ge=1, description="Recall weight of the F-score (2 weighs recall twice as much).")
    lowercase: bool = Field(False, description="Lower-case before scoring.")
    whitespace: bool = Field(False, description="Keep whitespace characters in character n-grams.")


class ChrfMetric(Metric[ChrfConfig]):
    """Corpus chrF (sacreBLEU), multi-reference; 0-100."""

    name = "chrf"
    Config = ChrfConfig

    def keys(self) -> Mapping[str, MetricKey]:
        return {"chrf": MetricKey(low=0.0, high=100.0, higher_is_better=True)}

    def compute(self, ctx: MetricContext) -> MetricResult:
        start = time.perf_counter()
        references = ctx.checked_references(self.name)
        from sacrebleu.metrics import CHRF

        cfg = self.config
        chrf = CHRF(
            char_order=cfg.char_order,
            word_order=cfg.word_order,
            beta=cfg.beta,
            lowercase=cfg.lowercase,
            whitespace=cfg.whitespace,
        )
        predictions = [str(p) for p in ctx.predictions]
        corpus = chrf.corpus_score(predictions, _reference_streams(references))
        per_example = [
            min(100.0, float(chrf.sentence_score(p, refs).score))
            for p, refs in zip(ctx.progress(predictions, total=len(predictions), desc="chrf"), references)
        ]
        return MetricResult(
            values={"chrf": min(100.0, float(corpus.score))},
            per_example={"chrf": per_example},
            seconds=time.perf_counter() - start,
        )


# --------------------------------------------------------------------------------------------------
# Exact match
# --------------------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _is_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def normalize_answer(
    text: str, *, ignore_case: bool = True, ignore_punctuation: bool = True, ignore_articles: bool = True
) -> str:
    """SQuAD-style answer normalisation, step by step.

    1. lower-case (``ignore_case``);
    2. delete punctuation: ASCII ``string.punctuation`` (which includes symbols such as ``$`` and
       ``%``) and every Unicode punctuation character (``ignore_punctuation``); characters are deleted,
       not replaced, so "New-York" becomes "newyork";
    3. delete the English articles "a", "an", "the" as whole words (``ignore_articles``);
    4. collapse all whitespace runs to one space and strip the ends (always).
    """
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = "".join(ch for ch in text if not _is_punctuation(ch))
    if ignore_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


class ExactMatchConfig(PluginConfig):
    """Options of the ``exact-match`` metric (whitespace is always collapsed and stripped)."""

    ignore_case: bool = Field(True, description="Compare case-insensitively.")
    ignore_punctuation: bool = Field(True, description="Delete ASCII and Unicode punctuation before comparing.")
    ignore_articles: bool = Field(True, description="Delete the English articles 'a', 'an', 'the' before comparing.")


class ExactMatchMetric(Metric[ExactMatchConfig]):
    """Exact match after normalisation against any reference; 0-1."""

    name = "exact-match"
    Config = ExactMatchConfig

    def keys(self) -> Mapping[str, MetricKey]:
        return {"exact_match": MetricKey(low=0.0, high=1.0, higher_is_better=True)}

    def _normalize(self, text: str) -> str:
        cfg = self.config
        return normalize_answer(
            text,
            ignore_case=cfg.ignore_case,
            ignore_punctuation=cfg.ignore_punctuation,
            ignore_articles=cfg.ignore_articles,
        )

    def compute(self, ctx: MetricContext) -> MetricResult:
        start = time.perf_counter()
        references = ctx.checked_references(self.name)
        scores = []
        for prediction, refs in zip(ctx.predictions, references):
            normalized = self._normalize(str(prediction))
            scores.append(1.0 if any(self._normalize(r) == normalized for r in refs) else 0.0)
        return MetricResult(
            values={"exact_match": _mean(scores)},
            per_example={"exact_match": scores},
            seconds=time.perf_counter() - start,
        )


# --------------------------------------------------------------------------------------------------
# Numeric accuracy (GSM8K)
# --------------------------------------------------------------------------------------------------

# A number not glued to a preceding word character or dot: optional sign (ASCII or Unicode
# minus), digits with optional thousands commas ("1,234,567"), optional decimals; or ".5".
_NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)")


def _parse_number(token: str) -> float:
    return float(token.replace(",", "").replace("\u2212", "-"))


def extract_number(text: str, marker: str | None = "####", fallback_last_number: bool = True) -> float | None:
    """The answer number in ``text``, GSM8K style, or ``None`` when there is none.

    With a ``marker``, the answer is the first number after the marker's last occurrence
    ("... #### 1,234" gives 1234.0). When there is no marker (or no number after it) and
    ``fallback_last_number`` is set, the answer is the last number anywhere in the text. Thousands
    commas are removed, decimals and signs are kept ("-3.5"), and "42.0" and "42" are the same number.
    """
    if marker:
        position = text.rfind(marker)
        if position >= 0:
            found = _NUMBER.search(text, position + len(marker))
            if found is not None:
                return _parse_number(found.group())
    if fallback_last_number:
        numbers = _NUMBER.findall(text)
        if numbers:
            return _parse_number(numbers[-1])
    return None


class NumericAccuracyConfig(PluginConfig):
    """Options of the ``numeric-accuracy`` metric (applied to predictions and references alike)."""

    marker: str | None = Field(
        "####",
        description="Text that precedes the final answer (GSM8K: '#### 42'); the first number after its last "
        "occurrence is the answer. Null: no marker, use the last number.",
    )
    fallback_last_number: bool = Field(
        True, description="Without the marker (or no number after it), use the last number in the text."
    )
    tolerance: float = Field(1e-6, ge=0, description="Absolute tolerance of the numeric comparison.")


class NumericAccuracyMetric(Metric[NumericAccuracyConfig]):
    """GSM8K-style accuracy: the final number of the output equals the reference answer; 0-1."""

    name = "numeric-accuracy"
    Config = NumericAccuracyConfig

    def keys(self) -> Mapping[str, MetricKey]:
        return {"numeric_accuracy": MetricKey(low=0.0, high=1.0, higher_is_better=True)}

    def _extract(self, text: str) -> float | None:
        return extract_number(text, self.config.marker, self.config.fallback_last_number)

    def compute(self, ctx: MetricContext) -> MetricResult:
        start = time.perf_counter()
        references = ctx.checked_references(self.name)
        scores = []
        for i, (prediction, refs) in enumerate(zip(ctx.predictions, references)):
            answers = [a for a in (self._extract(r) for r in refs) if a is not None]
            if not answers:
                raise ValueError(
                    f"metric {self.name!r}: no number found in the reference(s) of example "
                    f"{ctx.example_id(i)!r} ({refs[0][:80]!r}); the references need a final answer such as "
                    f"'#### 42' (see the marker and fallback_last_number options)"
                )
            predicted = self._extract(str(prediction))
            correct = predicted is not None and any(
                math.isclose(predicted, a, rel_tol=0.0, abs_tol=self.config.tolerance) for a in answers
            )
            scores.append(1.0 if correct else 0.0)
        return MetricResult(
            values={"numeric_accuracy": _mean(scores)},
            per_example={"numeric_accuracy": scores},
            seconds=time.perf_counter() - start,
        )


# --------------------------------------------------------------------------------------------------
# Length
# --------------------------------------------------------------------------------------------------


class LengthConfig(PluginConfig):
    """Options of the ``length`` metric (none)."""


class LengthMetric(Metric[LengthConfig]):
    """Mean output length in words and mean ratio to the reference length."""

    name = "length"
    Config = LengthConfig

    def keys(self) -> Mapping[str, MetricKey]:
        # Neither direction is better for a length; the flag is nominal.
        return {
            "length_words": MetricKey(low=0.0, high=float("inf"), higher_is_better=True),
            "length_ratio": MetricKey(low=0.0, high=float("inf"), higher_is_better=True),
        }

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Words are whitespace-separated tokens. ``length_ratio`` is the mean over examples of
        (output words / mean word count of the example's references); examples without references,
        or whose references are all empty, get ``nan`` per example and are left out of the mean
        (``length_ratio`` is ``nan`` when no example has a non-empty reference)."""
        start = time.perf_counter()
        references = ctx.checked_references(self.name, required=False)
        lengths = [float(len(str(p).split())) for p in ctx.predictions]
        ratios: list[float] = []
        for length, refs in zip(lengths, references):
            ref_words = _mean([float(len(r.split())) for r in refs]) if refs else 0.0
            ratios.append(length / ref_words if ref_words > 0 else float("nan"))
        valid = [r for r in ratios if not math.isnan(r)]
        return MetricResult(
            values={"length_words": _mean(lengths), "length_ratio": _mean(valid)},
            per_example={"length_words": lengths, "length_ratio": ratios},
            seconds=time.perf_counter() - start,
        )


METRICS: list[type[Metric]] = [
    RougeMetric,
    SacreBleuMetric,
    ChrfMetric,
    ExactMatchMetric,
    NumericAccuracyMetric,
    LengthMetric,
]
"""The metric classes of the basics plugin (registered by ``atgen_basics.hooks``)."""
