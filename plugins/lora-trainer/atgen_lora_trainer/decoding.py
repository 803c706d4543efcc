"""A KV-cached batched decoding loop that scores every generated token.

For one batch of (already tokenised) prompts it

1. runs the token prefix shared by all prompts once (batch 1) and copies its KV cache to every row, so a
   chat template's system prompt and an instruction shared by the pool are computed once per batch;
2. runs the rest of each prompt left-padded, with explicit position ids and an attention mask, so that
   every row sees exactly the positions and tokens it would see alone (padding changes no score);
3. decodes greedily or by sampling (temperature, top-p, a seeded generator); at each step the
   log-probability of the chosen token and the entropy are taken from the model's *raw* distribution
   (before temperature and top-p); a row stops after its first end-of-sequence token, and finished rows
   are dropped from the batch (and from the KV cache) so they cost nothing afterwards.

Encoder-decoder models use ``model.generate`` with the raw logits returned and the same scoring.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DecodeOptions", "DecodedRow", "decode_causal", "decode_seq2seq", "forward_kwargs_supported"]


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings for one call (a subset of ``GenerationSettings`` plus the stop tokens)."""

    max_new_tokens: int
    eos_ids: frozenset[int]
    pad_id: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0


@dataclass
class DecodedRow:
    """Generated token ids with their log-probabilities and entropies (up to and including EOS)."""

    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)


def forward_kwargs_supported(model: Any) -> set[str]:
    """Which optional forward arguments (``position_ids``, ``logits_to_keep``, ``cache``) the model accepts.

    ``cache`` is the name transformers 5.25+ gives the KV cache (``past_key_values`` is deprecated there
    and goes away in 5.40); older models only know ``past_key_values``.
    """
    target = model
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base):
        target = get_base()
    try:
        params = inspect.signature(target.forward).parameters
    except (TypeError, ValueError):
        return set()
    return {name for name in ("position_ids", "logits_to_keep", "cache") if name in params}


def _shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix common to every prompt, leaving at least one token per prompt."""
    first = prompts[0]
    length = min(len(p) for p in prompts) - 1
    for other in prompts[1:]:
        i = 0
        while i < length and first[i] == other[i]:
            i += 1
        length = i
    return max(length, 0)


def _score(logits: Any) -> tuple[Any, Any]:
    """Log-softmax and entropy (nats) of each row of raw logits, in float32."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    # p * log p with log p clamped to a finite value, so that tokens of probability 0 add 0 (not NaN).
    entropy = -(logp.exp() * logp.clamp(min=torch.finfo(logp.dtype).min)).sum(-1)
    return logp, entropy


def _choose(logits: Any, logp: Any, options: DecodeOptions, generator: Any) -> Any:
    """The next token of each row: argmax, or a sample from the temperature/top-p warped distribution."""
    import torch

    if not options.do_sample:
        return logp.argmax(-1)
    scaled = logits.float() / options.temperature
    if options.top_p >= 1.0:
        return torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=generator).squeeze(1)
    # Nucleus: the smallest set of most likely tokens whose mass reaches top_p. The candidates are the
    # top 256 tokens when they already hold that mass in every row (the usual case), else the full sort.
    probs = torch.softmax(scaled, dim=-1)
    k = min(256, probs.shape[-1])
    top_probs, top_idx = probs.topk(k, dim=-1)
    if k < probs.shape[-1] and bool((top_probs.sum(-1) < options.top_p).any()):
        top_probs, top_idx = probs.sort(dim=-1, descending=True)
    # Drop a token when the mass before it already reaches top_p (the first token always stays).
    drop = (top_probs.cumsum(-1) - top_probs) >= options.top_p
    top_probs = top_probs.masked_fill(drop, 0.0)
    choice = torch.multinomial(top_probs, 1, generator=generator)
    return top_idx.gather(-1, choice).squeeze(1)


def decode_causal(
    model: Any,
    prompts: Sequence[Sequence[int]],
    options: DecodeOptions,
    *,
    num_samples: int = 1,
    generator: Any = None,
    device: Any = None,
    supported: set[str] | None = None,
    spare_room: bool = True,
) -> list[DecodedRow]:
    """Decode ``num_samples`` continuations of each prompt; row ``i * num_samples + j`` is sample j of i.

    ``spare_room=False`` uses transformers' plain ``DynamicCache`` (for comparison). Must be called under
    ``torch.inference_mode()``.
    """
    import torch
    from transformers import DynamicCache

    from atgen_lora_trainer.kv_cache import decoding_cache

    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("decode_causal: every prompt needs at least one token")
    if supported is None:
        supported = forward_kwargs_supported(model)
    use_pos = "position_ids" in supported
    cache_arg = "cache" if "cache" in supported else "past_key_values"
    keep = {"logits_to_keep": 1} if "logits_to_keep" in supported else {}
    n_rows = len(prompts) * num_samples
    results = [DecodedRow() for _ in range(n_rows)]
    if options.max_new_tokens <= 0:
        return results

    def run(ids: Any, mask: Any, pos: Any, cache: Any) -> Any:
        kwargs: dict[str, Any] = {**keep, cache_arg: cache}
        if use_pos:
            kwargs["position_ids"] = pos
        out = model(input_ids=ids, attention_mask=mask, use_cache=True, **kwargs)
        return out.logits[:, -1, :]

    cache = decoding_cache(model.config, options.max_new_tokens) if spare_room else DynamicCache(config=model.config)
    prefix = _shared_prefix(prompts) if use_pos else 0
    n_prompts = len(prompts)
    if prefix > 0:
        ids = torch.tensor([list(prompts[0][:prefix])], dtype=torch.long, device=device)
        pos = torch.arange(prefix, device=device)[None]
        run(ids, torch.ones_like(ids), pos, cache)
        cache.reorder_cache(torch.zeros(n_prompts, dtype=torch.long, device=device))  # type: ignore[arg-type]

    # The rest of each prompt, left-padded; positions continue after the shared prefix.
    suffixes = [list(p[prefix:]) for p in prompts]
    width = max(len(s) for s in suffixes)
    ids = torch.full((n_prompts, width), options.pad_id, dtype=torch.long)
    suffix_mask = torch.zeros((n_prompts, width), dtype=torch.long)
    for row, suffix in enumerate(suffixes):
        ids[row, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
        suffix_mask[row, width - len(suffix) :] = 1
    ids, suffix_mask = ids.to(device), suffix_mask.to(device)
    mask = torch.cat([torch.ones((n_prompts, prefix), dtype=torch.long, device=device), suffix_mask], dim=1)
    pos = (prefix + suffix_mask.cumsum(-1) - 1).clamp(min=0)
    logits = run(ids, mask, pos, cache)
    next_pos = pos[:, -1] + 1

    if num_samples > 1:
        expand = torch.arange(n_prompts, device=device).repeat_interleave(num_samples)
        cache.reorder_cache(expand)  # type: ignore[arg-type]
        logits, mask, next_pos = logits[expand], mask[expand], next_pos[expand]

    eos = torch.tensor(sorted(options.eos_ids), dtype=torch.long, device=device)
    rows = torch.arange(n_rows, device=device)  # result index of each batch row
    done = torch.zeros(n_rows, dtype=torch.bool, device=device)  # finished rows still in the batch
    for step in range(options.max_new_tokens):
        logp, entropy = _score(logits)
        tokens = _choose(logits, logp, options, generator)
        chosen = logp.gather(1, tokens[:, None]).squeeze(1)
        live = (~done).nonzero().squeeze(1).tolist()
        tok_list, lp_list, ent_list, row_list = (
            tokens.tolist(),
            chosen.tolist(),
            entropy.tolist(),
            rows.tolist(),
        )
        for i in live:
            result = results[row_list[i]]
            result.tokens.append(tok_list[i])
            result.logprobs.append(lp_list[i])
            result.entropies.append(ent_list[i])
        done = done | torch.isin(tokens, eos)
        if step == options.max_new_tokens - 1 or bool(done.all()):
            break
        n_done = int(done.sum())
        if n_done and n_done * 8 >= len(done):
            # Drop finished rows from the batch and the KV cache.
            alive = (~done).nonzero().squeeze(1)
            cache.reorder_cache(alive)  # type: ignore[arg-type]
            rows, mask, next_pos, tokens = rows[alive], mask[alive], next_pos[alive], tokens[alive]
            done = done[alive]
        tokens = tokens.masked_fill(done, options.pad_id)
        mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype, device=device)], dim=1)
        logits = run(tokens[:, None], mask, next_pos[:, None], cache)
        next_pos = next_pos + 1
    return results


def decode_seq2seq(
    model: Any,
    prompts: Sequence[Sequence[int]],
    options: DecodeOptions,
    *,
    num_samples: int = 1,
    generator: Any = None,
    device: Any = None,
) -> list[DecodedRow]:
    """Encoder-decoder decoding through ``model.generate``, scored from the raw logits of each step.

    Sampling is seeded through the global torch RNG (forked, so the caller's state is untouched).
    """
    import torch

    if not prompts or options.max_new_tokens <= 0:
        return [DecodedRow() for _ in range(len(prompts) * num_samples)]
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), options.pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):  # right padding: the encoder is bidirectional
        ids[row, : len(prompt)] = torch.tensor(list(prompt), dtype=torch.long)
        mask[row, : len(prompt)] = 1
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item()) if generator is not None else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=options.max_new_tokens,
            do_sample=options.do_sample,
            temperature=options.temperature if options.do_sample else None,
            top_p=options.top_p if options.do_sample else None,
            top_k=None,
            num_return_sequences=num_samples,
            num_beams=1,
            eos_token_id=sorted(options.eos_ids),
            pad_token_id=options.pad_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
    start = out.sequences.shape[1] - len(out.logits)
    results = [DecodedRow() for _ in range(out.sequences.shape[0])]
    finished = [False] * len(results)
    for step, step_logits in enumerate(out.logits):
        logp, entropy = _score(step_logits)
        tokens = out.sequences[:, start + step]
        chosen = logp.gather(1, tokens[:, None]).squeeze(1)
        for i, result in enumerate(results):
            if finished[i]:
                continue
            token = int(tokens[i])
            result.tokens.append(token)
            result.logprobs.append(float(chosen[i]))
            result.entropies.append(float(entropy[i]))
            finished[i] = token in options.eos_ids
    return results
