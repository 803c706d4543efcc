"""Loading AlignScore checkpoints with current ``transformers`` and scoring (context, claim) pairs.

The published AlignScore checkpoints (``AlignScore-base.ckpt``, ``AlignScore-large.ckpt``) are
PyTorch Lightning checkpoints: a dict whose ``state_dict`` holds

- ``base_model.*``: a RoBERTa encoder with its pooler (dense + tanh on the first token);
- ``tri_layer.{weight,bias}``: a linear 3-way head (aligned / contradiction / neutral) on the pooled
  output; ``bin_layer``: a 2-way head (index 1 = aligned); ``reg_layer``: a 1-output regression head;
- ``mlm_head.*``: the masked-LM head used in training (ignored here).

Only the tensors are needed: the encoder is built from the base model's config (``roberta-base``
for AlignScore-base) and the heads are plain linear layers. ``alignscore``'s own package pins old
library versions, which is why this module reads the format itself.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

__all__ = ["HEADS", "AlignScoreModel", "Mode", "load_state_dict"]

Mode = Literal["nli_sp", "bin_sp", "reg_sp"]

HEADS: dict[str, tuple[str, int]] = {
    "nli_sp": ("tri_layer", 3),
    "bin_sp": ("bin_layer", 2),
    "reg_sp": ("reg_layer", 1),
}
"""Evaluation mode -> (head name in the checkpoint, number of outputs)."""

_ENCODER_PREFIX = "base_model."
_IGNORED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"}


def load_state_dict(path: str | Path, *, trust: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of an AlignScore checkpoint (Lightning ``.ckpt``, plain ``torch.save`` of a state
    dict, or ``.safetensors``)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"alignscore: checkpoint {str(path)!r} does not exist; download AlignScore-base.ckpt from the "
            "AlignScore release once and set config.checkpoint to its path"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"alignscore: checkpoint {str(path)!r} holds Python objects that safe loading refuses ({exc}). "
            "If you trust the file, set config.trust_checkpoint: true to unpickle it fully"
        ) from exc
    state = loaded.get("state_dict", loaded) if isinstance(loaded, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"alignscore: {str(path)!r} is not an AlignScore checkpoint (expected a dict with a 'state_dict' "
            "of tensors)"
        )
    return dict(state)


class AlignScoreModel:
    """An AlignScore encoder plus one head, scoring (context, claim) pairs in batches."""

    def __init__(
        self,
        state_dict: Mapping[str, torch.Tensor],
        base_model: str,
        mode: Mode = "nli_sp",
        *,
        device: str = "cpu",
        max_length: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        head_name, outputs = HEADS[mode]
        try:
            config = AutoConfig.from_pretrained(base_model)
            self.tokenizer = AutoTokenizer.from_pretrained(base_model)
        except OSError as exc:
            raise ValueError(
                f"alignscore: could not load the config and tokenizer of base_model {base_model!r} ({exc}); "
                "set config.base_model to a local folder (e.g. a saved roberta-base) or a reachable hub id"
            ) from exc
        encoder_state = {
            key[len(_ENCODER_PREFIX) :]: value
            for key, value in state_dict.items()
            if key.startswith(_ENCODER_PREFIX) and not key[len(_ENCODER_PREFIX) :].endswith(_IGNORED_BUFFERS)
        }
        if not encoder_state:
            prefixes = sorted({key.split(".", 1)[0] for key in state_dict})
            raise ValueError(
                f"alignscore: the checkpoint has no 'base_model.*' encoder weights (top-level names: {prefixes})"
            )
        weight_key, bias_key = f"{head_name}.weight", f"{head_name}.bias"
        if weight_key not in state_dict or bias_key not in state_dict:
            raise ValueError(
                f"alignscore: mode {mode!r} needs the head {head_name!r} but the checkpoint has no "
                f"{weight_key!r}/{bias_key!r}; choose another mode or check the checkpoint"
            )
        self.encoder = AutoModel.from_config(config)
        own = self.encoder.state_dict()
        missing = sorted(set(own) - set(encoder_state))
        unexpected = sorted(set(encoder_state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"alignscore: the checkpoint's encoder does not fit base_model {base_model!r} "
                f"(missing: {missing[:5]}, unexpected: {unexpected[:5]}); use the model the checkpoint was "
                "trained from (roberta-base for AlignScore-base, roberta-large for AlignScore-large)"
            )
        try:
            self.encoder.load_state_dict(encoder_state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"alignscore: the checkpoint's tensor shapes do not fit base_model {base_model!r}: {exc}"
            ) from exc
        weight = state_dict[weight_key]
        if tuple(weight.shape) != (outputs, config.hidden_size):
            raise ValueError(
                f"alignscore: head {head_name!r} has shape {tuple(weight.shape)}, expected "
                f"({outputs}, {config.hidden_size})"
            )
        self.head = torch.nn.Linear(config.hidden_size, outputs)
        self.head.load_state_dict({"weight": weight, "bias": state_dict[bias_key]})
        self.mode: Mode = mode
        self.device = device
        self.encoder.eval().to(device)
        self.head.eval().to(device)
        self.max_length = max_length or self._default_max_length(config)

    def _default_max_length(self, config: Any) -> int:
        limit = int(getattr(self.tokenizer, "model_max_length", 512) or 512)
        if limit > 100_000:  # "no limit" sentinel of tokenizers without a configured length
            limit = 512
        positions = int(getattr(config, "max_position_embeddings", limit))
        if getattr(config, "model_type", "") in _ROBERTA_LIKE:
            positions -= 2  # RoBERTa positions start after the padding index
        return max(8, min(limit, positions))

    def _tokenize(self, contexts: Sequence[str], claims: Sequence[str]) -> Any:
        try:
            # Like AlignScore: only the context is truncated.
            return self.tokenizer(
                list(contexts),
                list(claims),
                truncation="only_first",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
        except Exception:  # the claim alone is too long: truncate both, longest first
            return self.tokenizer(
                list(contexts),
                list(claims),
                truncation="longest_first",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )

    def score(self, contexts: Sequence[str], claims: Sequence[str]) -> list[float]:
        """The head's score of each (context, claim) pair: P(aligned) for nli_sp (softmax of the 3-way
        head, index 0) and bin_sp (2-way head, index 1), the raw output for reg_sp. One batch."""
        import torch

        if len(contexts) != len(claims):
            raise ValueError(f"alignscore: {len(contexts)} contexts but {len(claims)} claims")
        if not contexts:
            return []
        batch = self._tokenize(contexts, claims)
        inputs = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        if "token_type_ids" in batch and getattr(self.encoder.config, "type_vocab_size", 1) > 1:
            inputs["token_type_ids"] = batch["token_type_ids"].to(self.device)
        with torch.inference_mode():
            pooled = self.encoder(**inputs).pooler_output
            logits = self.head(pooled).float()
            if self.mode == "nli_sp":
                values = torch.softmax(logits, dim=-1)[:, 0]
            elif self.mode == "bin_sp":
                values = torch.softmax(logits, dim=-1)[:, 1]
            else:
                values = logits[:, 0]
        return [float(v) for v in values.cpu()]
