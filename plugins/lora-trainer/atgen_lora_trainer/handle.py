"""``TorchModelHandle``: the ``ModelHandle`` (generate / sample / embed) over a transformers model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from atgen_core import Generation, GenerationSettings
from atgen_core.types import ProgressFn, no_progress
from atgen_lora_trainer.decoding import (
    DecodedRow,
    DecodeOptions,
    decode_causal,
    decode_seq2seq,
    forward_kwargs_supported,
)
from atgen_lora_trainer.prompts import PromptFormat

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TorchModelHandle", "stop_token_ids"]


def stop_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """End-of-sequence ids: the generation config's (one or a list) plus the tokenizer's EOS."""
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured is not None:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


class TorchModelHandle:
    """Generation, sampling and embeddings of a (possibly adapted) transformers model.

    Prompts are rendered by ``prompt_format`` (the same rendering as in training), batched by length
    (results come back in input order) and decoded by :func:`decode_causal` without gradients.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt_format: PromptFormat,
        *,
        device: Any = None,
        embed_batch_size: int = 16,
        description: str = "",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.prompt_format = prompt_format
        self.device = device if device is not None else next(model.parameters()).device
        self.embed_batch_size = embed_batch_size
        self.description = description
        self.encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
        self.eos_ids = stop_token_ids(model, tokenizer)
        if not self.eos_ids:
            raise ValueError("the model has no end-of-sequence token (neither generation config nor tokenizer)")
        self.pad_id = int(tokenizer.pad_token_id)
        self._supported = forward_kwargs_supported(model)

    def __repr__(self) -> str:
        return f"TorchModelHandle({self.description or type(self.model).__name__}, format={self.prompt_format.name})"

    # -- generation --------------------------------------------------------------------------------

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        """One output per prompt (greedy unless ``settings.do_sample``), scored token by token."""
        return [outputs[0] for outputs in self._run(prompts, 1, settings, progress)]

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        """``n`` sampled outputs per prompt (``settings.seed`` makes them reproducible)."""
        if n < 1:
            raise ValueError(f"sample: n must be at least 1, got {n}")
        return self._run(prompts, n, replace(settings, do_sample=True), progress)

    def _run(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn
    ) -> list[list[Generation]]:
        import torch

        if settings.do_sample and (settings.temperature <= 0 or not 0 < settings.top_p <= 1):
            raise ValueError("sampling needs temperature > 0 and 0 < top_p <= 1")
        token_ids = self.prompt_format.prompt_ids(list(prompts))
        order = sorted(range(len(token_ids)), key=lambda i: (len(token_ids[i]), i))
        per_batch = max(1, -(-max(1, settings.batch_size) // n))
        batches = [order[s : s + per_batch] for s in range(0, len(order), per_batch)]
        options = DecodeOptions(
            max_new_tokens=settings.max_new_tokens,
            eos_ids=self.eos_ids,
            pad_id=self.pad_id,
            do_sample=settings.do_sample,
            temperature=settings.temperature,
            top_p=settings.top_p,
        )
        generator = torch.Generator(device="cpu" if self.device is None else self.device)
        generator.manual_seed(settings.seed)
        results: list[list[Generation]] = [[] for _ in prompts]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for batch in progress(batches, total=len(batches), desc="generate"):
                    rows = self._decode([token_ids[i] for i in batch], options, n, generator)
                    for j, index in enumerate(batch):
                        results[index] = [self._to_generation(r) for r in rows[j * n : (j + 1) * n]]
        finally:
            self.model.train(was_training)
        return results

    def _decode(self, prompts: list[list[int]], options: DecodeOptions, n: int, generator: Any) -> list[DecodedRow]:
        if self.encoder_decoder:
            return decode_seq2seq(self.model, prompts, options, num_samples=n, generator=generator, device=self.device)
        return decode_causal(
            self.model,
            prompts,
            options,
            num_samples=n,
            generator=generator,
            device=self.device,
            supported=self._supported,
        )

    def _to_generation(self, row: DecodedRow) -> Generation:
        tokens = row.tokens[:-1] if row.tokens and row.tokens[-1] in self.eos_ids else row.tokens
        text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        return Generation(text=text, token_logprobs=tuple(row.logprobs), token_entropies=tuple(row.entropies))

    # -- embeddings --------------------------------------------------------------------------------

    def _hidden_states(self, ids: Any, mask: Any) -> Any:
        model = self.model
        if self.encoder_decoder:
            return model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        # Left padding: positions come from the mask so that padding changes nothing.
        extra = {"position_ids": (mask.cumsum(-1) - 1).clamp(min=0)} if "position_ids" in self._supported else {}
        inner = getattr(model, "get_base_model", lambda: model)()
        body = getattr(inner, "base_model", None)
        if body is not None and body is not inner:
            return body(input_ids=ids, attention_mask=mask, **extra).last_hidden_state
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, **extra)
        return out.hidden_states[-1]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """Mask-aware mean of the last hidden state over each text's tokens (float32, one row per text).

        Texts are embedded as they are (no chat template), cut to ``max_input_tokens`` from the left.
        """
        import numpy as np
        import torch

        limit = self.prompt_format.max_input_tokens
        encoded = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"] if texts else []
        fallback = self.pad_id if self.tokenizer.eos_token_id is None else int(self.tokenizer.eos_token_id)
        token_ids = [list(ids)[-limit:] or [fallback] for ids in encoded]
        order = sorted(range(len(token_ids)), key=lambda i: (len(token_ids[i]), i))
        size = self.embed_batch_size
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        hidden = int(getattr(self.model.config, "hidden_size", 0) or getattr(self.model.config, "d_model", 0))
        matrix = np.zeros((len(token_ids), hidden), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for batch in progress(batches, total=len(batches), desc="embed"):
                    width = max(len(token_ids[i]) for i in batch)
                    ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                    mask = torch.zeros_like(ids)
                    for row, index in enumerate(batch):
                        seq = token_ids[index]
                        if self.encoder_decoder:
                            ids[row, : len(seq)] = torch.tensor(seq)
                            mask[row, : len(seq)] = 1
                        else:
                            ids[row, width - len(seq) :] = torch.tensor(seq)
                            mask[row, width - len(seq) :] = 1
                    ids, mask = ids.to(self.device), mask.to(self.device)
                    states = self._hidden_states(ids, mask).float()
                    weights = mask.unsqueeze(-1).to(states.dtype)
                    pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                    matrix[batch] = pooled.cpu().numpy()
        finally:
            self.model.train(was_training)
        return matrix
