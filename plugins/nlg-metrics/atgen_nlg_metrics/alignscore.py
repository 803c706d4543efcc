"""AlignScore (Zha et al., ACL 2023): factual consistency of an output with its source.

Following AlignScore's ``nli_sp`` evaluation: the source (context) is split into sentences that are
grouped into chunks of about ``chunk_words`` words, the output (claim) is split into sentences, every
(chunk, sentence) pair is scored by the alignment model, and the example's score is the mean over
output sentences of the maximum over chunks. Chunking follows AlignScore: with W source words and S
source sentences there are ``n = W // chunk_words + 1`` target chunks of ``max(S // n, 1)`` consecutive
sentences each (a remainder forms one more chunk). Sentences are split with a rule (see
``split_sentences``) instead of NLTK's punkt model, which cannot be downloaded offline; on text with
many abbreviations the sentence boundaries, and so the scores, can differ slightly from AlignScore's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from pydantic import Field

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig
from atgen_core.types import ProgressFn, no_progress
from atgen_nlg_metrics._common import batched, checked_sources, resolve_device, split_sentences
from atgen_nlg_metrics.alignscore_model import AlignScoreModel, Mode, load_state_dict

__all__ = [
    "AlignScoreConfig",
    "AlignScoreMetric",
    "PairScorer",
    "aggregate",
    "chunk_source",
    "score_examples",
]

PairScorer = Callable[[Sequence[str], Sequence[str]], Sequence[float]]
"""Scores a batch of (context chunk, claim sentence) pairs given as two parallel lists."""


def chunk_source(source: str, chunk_words: int = 350) -> list[str]:
    """The source split into chunks of whole sentences of about ``chunk_words`` words (AlignScore's rule).

    An empty source gives one empty chunk, so that every claim sentence still gets a score.
    """
    sentences = split_sentences(source) or [""]
    n_chunks = len(source.split()) // chunk_words + 1
    per_chunk = max(len(sentences) // n_chunks, 1)
    return [" ".join(sentences[i : i + per_chunk]) for i in range(0, len(sentences), per_chunk)]


def aggregate(scores: Sequence[Sequence[float]]) -> float:
    """``scores[c][s]`` is the score of chunk ``c`` against claim sentence ``s``: the mean over
    sentences of the maximum over chunks."""
    if not scores or not scores[0]:
        raise ValueError("aggregate: needs at least one chunk and one claim sentence")
    n_sentences = len(scores[0])
    best = [max(row[s] for row in scores) for s in range(n_sentences)]
    return sum(best) / n_sentences


def score_examples(
    sources: Sequence[str],
    outputs: Sequence[str],
    scorer: PairScorer,
    *,
    chunk_words: int = 350,
    batch_size: int = 32,
    empty_score: float = 0.0,
    progress: ProgressFn = no_progress,
) -> list[float]:
    """AlignScore of every (source, output) pair with ``scorer`` doing the pair scoring.

    Every distinct (chunk, sentence) pair is scored once, in batches of ``batch_size`` sorted by
    length. An output with no sentence (empty or whitespace) gets ``empty_score``.
    """
    plans: list[tuple[list[str], list[str]]] = []
    pairs: dict[tuple[str, str], float] = {}
    for source, output in zip(sources, outputs):
        chunks, claims = chunk_source(source, chunk_words), split_sentences(output)
        plans.append((chunks, claims))
        for chunk in chunks:
            for claim in claims:
                pairs.setdefault((chunk, claim), float("nan"))
    ordered = sorted(pairs, key=lambda pair: len(pair[0]) + len(pair[1]))
    batches = list(batched(ordered, batch_size))
    for batch in progress(batches, total=len(batches), desc="alignscore"):
        values = scorer([chunk for chunk, _ in batch], [claim for _, claim in batch])
        if len(values) != len(batch):
            raise ValueError(f"alignscore: the scorer returned {len(values)} scores for {len(batch)} pairs")
        for pair, value in zip(batch, values):
            pairs[pair] = float(value)
    return [
        aggregate([[pairs[(chunk, claim)] for claim in claims] for chunk in chunks]) if claims else empty_score
        for chunks, claims in plans
    ]


class AlignScoreConfig(PluginConfig):
    """Options of the ``alignscore`` metric."""

    checkpoint: str | None = Field(
        None,
        description="Path of the AlignScore checkpoint (download AlignScore-base.ckpt from the AlignScore "
        "release once). Required: the metric fails with a clear message without it.",
    )
    base_model: str = Field(
        "roberta-base",
        description="Hub id or local folder of the encoder the checkpoint was trained from; only its "
        "config and tokenizer are read (roberta-base for AlignScore-base, roberta-large for "
        "AlignScore-large).",
    )
    mode: Mode = Field(
        "nli_sp",
        description="'nli_sp': probability of 'aligned' from the 3-way head (AlignScore's default); "
        "'bin_sp': probability of 'aligned' from the binary head; 'reg_sp': output of the regression head.",
    )
    chunk_words: int = Field(350, ge=1, description="Target size of source chunks, in whitespace words.")
    batch_size: int = Field(32, ge=1, description="(chunk, sentence) pairs per forward pass.")
    max_length: int | None = Field(
        None,
        ge=8,
        description="Token limit of a (chunk, sentence) pair; the chunk is truncated first. Null: the "
        "tokenizer's model_max_length capped by the model's positions (512 for RoBERTa).",
    )
    empty_output_score: float = Field(
        0.0, ge=0.0, le=1.0, description="Score of an output with no sentence (empty or only whitespace)."
    )
    device: str = Field("cpu", description="Torch device: 'cpu', 'cuda', 'cuda:1', ... or 'auto'.")
    trust_checkpoint: bool = Field(
        False,
        description="Unpickle the checkpoint fully (torch.load weights_only=False). Only for files you "
        "trust; needed only if safe loading refuses the file.",
    )


class AlignScoreMetric(Metric[AlignScoreConfig]):
    """AlignScore factual consistency of the output with the source (nli_sp, 0-1)."""

    name = "alignscore"
    Config = AlignScoreConfig

    def __init__(self, config: AlignScoreConfig | None = None) -> None:
        super().__init__(config)
        self._model: AlignScoreModel | None = None

    def keys(self) -> Mapping[str, MetricKey]:
        if self.config.mode == "reg_sp":
            return {"alignscore": MetricKey(low=float("-inf"), high=float("inf"), higher_is_better=True)}
        return {"alignscore": MetricKey(low=0.0, high=1.0, higher_is_better=True)}

    def _load(self) -> AlignScoreModel:
        """Load the checkpoint once per metric instance."""
        if self._model is None:
            cfg = self.config
            if not cfg.checkpoint:
                raise ValueError(
                    "alignscore: config.checkpoint is required: download AlignScore-base.ckpt from the "
                    "AlignScore release once and set checkpoint: /path/to/AlignScore-base.ckpt"
                )
            state = load_state_dict(cfg.checkpoint, trust=cfg.trust_checkpoint)
            self._model = AlignScoreModel(
                state,
                cfg.base_model,
                cfg.mode,
                device=resolve_device(cfg.device),
                max_length=cfg.max_length,
            )
        return self._model

    def close(self) -> None:
        """Release the model."""
        self._model = None

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Score each prediction against its source (``ctx.sources``); references are not used."""
        start = time.perf_counter()
        sources = checked_sources(ctx, self.name)
        model = self._load()
        scores = score_examples(
            sources,
            [str(p) for p in ctx.predictions],
            model.score,
            chunk_words=self.config.chunk_words,
            batch_size=self.config.batch_size,
            empty_score=self.config.empty_output_score,
            progress=ctx.progress,
        )
        return MetricResult(
            values={"alignscore": float(sum(scores) / len(scores))},
            per_example={"alignscore": scores},
            seconds=time.perf_counter() - start,
        )
