"""Rows in and out of ``ray.data.llm``'s vLLM processor (plain functions: testable without vLLM or a GPU).

Input rows carry ``shard``, ``id``, ``sample``, ``prompt`` and ``seed``. ``VllmRequestBuilder`` (the
processor's ``preprocess``) turns one into what the vLLM stages read: ``messages`` (chat format) or
``prompt`` (plain format), ``sampling_params``, and ``model`` = the LoRA adapter folder when there is
one. ``VllmResultReader`` (the ``postprocess``) turns an engine output row (``generated_text``,
``generated_tokens``, ``logprobs``: one {token id: {logprob, rank, decoded_token}} per generated
token) into the shard row: the text, the chosen tokens' log-probabilities and an entropy estimate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atgen_core import Generation, GenerationSettings

__all__ = ["VllmRequestBuilder", "VllmResultReader", "generation_from_result", "row_seed", "topk_entropy"]

PASSTHROUGH = ("shard", "id", "sample")


def row_seed(shard_seed: int, index: int, sample: int) -> int:
    """A per-request vLLM seed from the shard's seed, the row's position in the shard and the sample index."""
    return (shard_seed * 1_000_003 + index * 1_009 + sample) & 0x7FFFFFFF


@dataclass(frozen=True)
class VllmRequestBuilder:
    """``preprocess`` of the vLLM processor: one engine request per (id, sample) row."""

    settings: GenerationSettings
    logprobs: int
    prompt_format: str = "chat"
    system_prompt: str | None = None
    max_input_tokens: int | None = None
    lora_path: str | None = None

    def sampling_params(self, seed: int) -> dict[str, Any]:
        """vLLM ``SamplingParams`` fields: greedy is temperature 0; log-probs of the top alternatives."""
        params: dict[str, Any] = {
            "max_tokens": self.settings.max_new_tokens,
            "temperature": float(self.settings.temperature) if self.settings.do_sample else 0.0,
            "top_p": float(self.settings.top_p) if self.settings.do_sample else 1.0,
            "logprobs": self.logprobs,
            "seed": int(seed),
        }
        if self.max_input_tokens is not None:
            params["truncate_prompt_tokens"] = self.max_input_tokens
        return params

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: row[k] for k in PASSTHROUGH}
        prompt = str(row["prompt"])
        if self.prompt_format == "chat":
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            out["messages"] = [*messages, {"role": "user", "content": prompt}]
        else:
            out["prompt"] = prompt + "\n"
        out["sampling_params"] = self.sampling_params(int(row["seed"]))
        if self.lora_path is not None:
            out["model"] = self.lora_path
        return out


def _entry(logprobs: Mapping[Any, Any], token: int) -> Mapping[str, Any] | None:
    found = logprobs.get(token)
    if found is None:
        found = logprobs.get(str(token))
    return found if isinstance(found, Mapping) else None


def topk_entropy(logprobs: Mapping[Any, Any]) -> float:
    """-sum p log p over the returned alternatives: a lower bound of the full distribution's entropy."""
    total = 0.0
    for value in logprobs.values():
        if not isinstance(value, Mapping) or value.get("logprob") is None:
            continue  # absent keys of other rows when Arrow stored the dicts as structs
        lp = float(value["logprob"])
        if math.isfinite(lp):
            total -= math.exp(lp) * lp
    return total


def generation_from_result(row: Mapping[str, Any]) -> Generation:
    """The ``Generation`` of one vLLM engine output row."""
    tokens = [int(t) for t in (row.get("generated_tokens") or [])]
    per_token: Sequence[Mapping[Any, Any]] = row.get("logprobs") or []
    if tokens and len(per_token) != len(tokens):
        raise ValueError(
            f"vLLM returned {len(per_token)} log-prob entries for {len(tokens)} tokens; is `logprobs` set in "
            "the sampling parameters?"
        )
    lps: list[float] = []
    ents: list[float] = []
    for token, alternatives in zip(tokens, per_token):
        entry = _entry(alternatives, token)
        if entry is None or entry.get("logprob") is None:
            raise ValueError(f"vLLM returned no log-prob for the chosen token {token}")
        lps.append(float(entry["logprob"]))
        ents.append(topk_entropy(alternatives))
    return Generation(text=str(row.get("generated_text") or "").strip(), token_logprobs=tuple(lps),
                      token_entropies=tuple(ents))


@dataclass(frozen=True)
class VllmResultReader:
    """``postprocess`` of the vLLM processor: keep the row keys and the scores as one JSON string column."""

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        error = row.get("__inference_error__")
        if error:
            raise RuntimeError(f"vLLM failed on id {row.get('id')!r}: {error}")
        gen = generation_from_result(row)
        out: dict[str, Any] = {k: row[k] for k in PASSTHROUGH}
        out["result"] = json.dumps(
            {"text": gen.text, "token_logprobs": list(gen.token_logprobs), "token_entropies": list(gen.token_entropies)}
        )
        return out
