"""The validated configuration of the ``lora`` trainer (no heavy imports here)."""

from __future__ import annotations

import importlib.util
from typing import Literal

from pydantic import Field, field_validator, model_validator

from atgen_core import PluginConfig

__all__ = ["LoraTrainerConfig"]

Method = Literal["lora", "dora", "qlora", "full"]


class LoraTrainerConfig(PluginConfig):
    """Options of the ``lora`` trainer. Every field has a default; unknown keys are rejected."""

    method: Method = Field(
        "lora",
        description="'lora' (low-rank adapters), 'dora' (weight-decomposed LoRA), 'qlora' (LoRA on a 4-bit "
        "base; needs bitsandbytes and a CUDA GPU) or 'full' (all weights trained; saves the whole model).",
    )
    r: int = Field(16, ge=1, le=1024, description="LoRA rank.")
    alpha: int = Field(16, ge=1, le=4096, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input (0 keeps training deterministic).")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="'all-linear' (every linear layer except the output head) or a list of module names "
        "(e.g. ['q_proj', 'v_proj']). The output head (lm_head) is never adapted.",
    )
    learning_rate: float = Field(
        2e-3,
        gt=0,
        le=1,
        description="Peak learning rate of AdamW. The default 2e-3 is measured for small models (SmolLM2-135M, "
        "r=16, alpha=16) on 16-128 labels (benchmarks/training_parity.py): 5e-4 learnt much less from the same "
        "labels (ROUGE-L 0.517 vs 0.572 at 64 labels). Lower it for models of a billion parameters or more.",
    )
    epochs: int = Field(
        3,
        ge=1,
        le=1000,
        description="Passes over the labelled set per training round. How many a task needs differs: on "
        "reasoning-gym sentence_reordering (SmolLM2-135M, lr 2e-3) 6 epochs lifted ROUGE-L at 64 labels from "
        "0.566 to 0.607 (3 seeds) at the same 16-label score, so the quickstart uses 6; on E2E (lr 1e-3) 6 "
        "epochs were no better than 3 (0.618 vs 0.633 at 128 labels, 1 seed). Measure with "
        "benchmarks/training_parity.py --variant '{\"epochs\": 6}'.",
    )
    batch_size: int = Field(4, ge=1, le=4096, description="Examples per micro-batch.")
    gradient_accumulation: int = Field(1, ge=1, le=1024, description="Micro-batches per optimizer step.")
    max_input_tokens: int | None = Field(
        None,
        ge=8,
        description="Prompt token limit for training (rendered prompt incl. template); None uses the spec's "
        "model.max_input_tokens. The user message is cut from the left to fit.",
    )
    max_output_tokens: int = Field(
        256, ge=1, le=65536, description="Completion token limit for training (longer labels are cut at the end)."
    )
    warm_start: Literal["fresh", "previous"] = Field(
        "fresh",
        description="'fresh': every round trains a new adapter from the base model on the whole labelled set "
        "(the model then depends only on the labels, not on the history); 'previous': continue from the "
        "previous round's adapter.",
    )
    weight_decay: float = Field(0.01, ge=0, le=1, description="AdamW decoupled weight decay.")
    warmup_ratio: float = Field(0.03, ge=0, le=1, description="Share of optimizer steps with linear warm-up.")
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(
        "linear", description="Learning-rate decay after warm-up."
    )
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping norm (None: no clipping).")
    prompt_format: Literal["auto", "chat", "plain"] = Field(
        "auto",
        description="'chat' renders prompts with the tokenizer's chat template, 'plain' as 'prompt\\n' + target "
        "+ EOS, 'auto' uses the chat template when the tokenizer has one.",
    )
    system_prompt: str | None = Field(
        None, description="Optional system message added before the user turn (chat format only)."
    )
    merge_for_inference: bool = Field(
        True, description="Merge the adapter into the weights of the model handed out for generation (faster)."
    )
    device: str = Field("auto", description="'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.")

    @field_validator("target_modules")
    @classmethod
    def _check_targets(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if value != "all-linear":
                raise ValueError("target_modules: use 'all-linear' or a list of module names, e.g. ['q_proj']")
            return value
        if not value:
            raise ValueError("target_modules: the list is empty; use 'all-linear' or name at least one module")
        if any(name in ("lm_head", "embed_out", "output") for name in value):
            raise ValueError("target_modules: the output head is never adapted; remove it from the list")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda", "mps") and not value.startswith("cuda:"):
            raise ValueError(f"device: {value!r} is not one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'")
        return value

    @model_validator(mode="after")
    def _check_qlora(self) -> LoraTrainerConfig:
        if self.method == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
            raise ValueError(
                "method: 'qlora' needs the bitsandbytes package and a CUDA GPU; install it with "
                "`pip install bitsandbytes` on a GPU machine, or use method: lora"
            )
        if self.method == "qlora" and self.device == "cpu":
            raise ValueError("method: 'qlora' needs a CUDA GPU; use method: lora on the CPU")
        return self
