"""The training loop: completion-only loss, AdamW, warm-up + decay, gradient clipping, accumulation.

A plain PyTorch loop (no HF Trainer): on the CPU it is deterministic for a fixed seed (same seed, same
data -> identical weights and losses). The loss is the mean token cross-entropy over the completion
tokens of each optimizer step (micro-batches are weighted by their completion-token counts). For
decoder-only models whose output head is a plain projection of the last hidden state (checked
numerically once), the head is applied only at completion positions, which skips most of the
vocabulary projection of the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atgen_core.types import ProgressFn, no_progress
from atgen_lora_trainer.prompts import EncodedPair

__all__ = ["LoopSettings", "LoopStats", "lr_multiplier", "run_training"]

IGNORE = -100


@dataclass(frozen=True)
class LoopSettings:
    """Optimisation settings of one training round (taken from the trainer config)."""

    epochs: int
    batch_size: int
    gradient_accumulation: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    lr_scheduler: str
    max_grad_norm: float | None
    seed: int


@dataclass
class LoopStats:
    """What happened: optimizer steps, per-step and per-epoch mean token losses, completion tokens."""

    steps: int = 0
    step_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    tokens: int = 0
    fast_head: bool = False

    @property
    def final_loss(self) -> float | None:
        """Mean completion-token loss over the last epoch."""
        return self.epoch_losses[-1] if self.epoch_losses else None


def lr_multiplier(step: int, total: int, warmup: int, kind: str) -> float:
    """Learning-rate factor of optimizer step ``step`` (0-based) of ``total``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if kind == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)


def _micro_batches(n: int, settings: LoopSettings) -> list[list[list[int]]]:
    """Per epoch and optimizer step, the example indices of each micro-batch (seeded shuffle)."""
    rng = np.random.default_rng(settings.seed)
    plan: list[list[list[int]]] = []
    for _ in range(settings.epochs):
        order = rng.permutation(n).tolist()
        micro = [order[s : s + settings.batch_size] for s in range(0, n, settings.batch_size)]
        ga = settings.gradient_accumulation
        plan.extend(micro[s : s + ga] for s in range(0, len(micro), ga))
    return plan


def _head_split(model: Any) -> tuple[Any, Any] | None:
    """(body, head) when logits == head(body(x).last_hidden_state) for this model, else None."""
    import torch

    inner = getattr(model, "get_base_model", lambda: model)()
    if getattr(inner.config, "is_encoder_decoder", False):
        return None
    body, head = getattr(inner, "base_model", None), inner.get_output_embeddings()
    if body is None or body is inner or head is None:
        return None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ids = torch.arange(1, 9, device=head.weight.device)[None] % int(inner.config.vocab_size)
            full = model(input_ids=ids).logits.float()
            split = head(body(input_ids=ids).last_hidden_state).float()
        ok = full.shape == split.shape and torch.allclose(full, split, atol=1e-4, rtol=1e-4)
    except Exception:  # any mismatch in call conventions: use the plain path
        ok = False
    finally:
        model.train(was_training)
    return (body, head) if ok else None


def _collate(pairs: Sequence[EncodedPair], pad_id: int, encoder_decoder: bool, device: Any) -> dict[str, Any]:
    import torch

    if encoder_decoder:
        width = max(len(p.prompt_ids) for p in pairs)
        out_width = max(len(p.completion_ids) for p in pairs)
        ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full((len(pairs), out_width), IGNORE, dtype=torch.long)
        for row, pair in enumerate(pairs):
            ids[row, : len(pair.prompt_ids)] = torch.tensor(pair.prompt_ids)
            mask[row, : len(pair.prompt_ids)] = 1
            labels[row, : len(pair.completion_ids)] = torch.tensor(pair.completion_ids)
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
    seqs = [p.prompt_ids + p.completion_ids for p in pairs]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, IGNORE)
    for row, (pair, seq) in enumerate(zip(pairs, seqs)):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        labels[row, len(pair.prompt_ids) : len(seq)] = torch.tensor(pair.completion_ids)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def _loss_sum(model: Any, batch: dict[str, Any], split: tuple[Any, Any] | None, encoder_decoder: bool) -> Any:
    """Summed cross-entropy over the completion tokens of one micro-batch."""
    import torch.nn.functional as F

    if encoder_decoder:
        logits = model(**batch).logits.float()
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
    targets = batch["labels"][:, 1:]
    if split is not None:
        body, head = split
        hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        selected = targets != IGNORE
        logits = head(hidden[:, :-1][selected]).float()
        return F.cross_entropy(logits, targets[selected], reduction="sum")
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


def run_training(
    model: Any,
    pairs: Sequence[EncodedPair],
    settings: LoopSettings,
    *,
    pad_id: int,
    device: Any,
    progress: ProgressFn = no_progress,
    desc: str = "train",
    on_step: Callable[[int, float], None] | None = None,
    fast_head: bool = True,
) -> LoopStats:
    """Train the parameters of ``model`` that require gradients on ``pairs``; returns the loop stats.

    ``fast_head=False`` always computes the logits of every position (the plain path; for comparison).
    """
    import torch

    if not pairs:
        return LoopStats()
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RuntimeError("the model has no trainable parameters")
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": settings.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate, foreach=False)
    plan = _micro_batches(len(pairs), settings)
    total = len(plan)
    warmup = math.ceil(settings.warmup_ratio * total) if settings.warmup_ratio > 0 else 0
    steps_per_epoch = total // settings.epochs
    split = _head_split(model) if fast_head else None
    stats = LoopStats(fast_head=split is not None)
    model.train()

    def micro_iter() -> Iterator[tuple[int, int, list[int]]]:
        for step, micro in enumerate(plan):
            for m, indices in enumerate(micro):
                yield step, m, indices

    n_micro = sum(len(m) for m in plan)
    epoch_sum, epoch_tokens = 0.0, 0
    step_sum, step_tokens = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        for step, m, indices in progress(micro_iter(), total=n_micro, desc=desc):
            micro = plan[step]
            if m == 0:
                step_tokens = sum(len(pairs[i].completion_ids) for mb in micro for i in mb)
                step_sum = 0.0
                for group in optimizer.param_groups:
                    group["lr"] = settings.learning_rate * lr_multiplier(step, total, warmup, settings.lr_scheduler)
            batch = _collate([pairs[i] for i in indices], pad_id, encoder_decoder, device)
            loss_sum = _loss_sum(model, batch, split, encoder_decoder)
            (loss_sum / max(1, step_tokens)).backward()
            step_sum += float(loss_sum.detach())
            if m == len(micro) - 1:
                if settings.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step_loss = step_sum / max(1, step_tokens)
                stats.step_losses.append(step_loss)
                stats.steps += 1
                stats.tokens += step_tokens
                epoch_sum += step_sum
                epoch_tokens += step_tokens
                if on_step is not None:
                    on_step(step, step_loss)
                if (step + 1) % steps_per_epoch == 0:
                    stats.epoch_losses.append(epoch_sum / max(1, epoch_tokens))
                    epoch_sum, epoch_tokens = 0.0, 0
    model.eval()
    return stats
