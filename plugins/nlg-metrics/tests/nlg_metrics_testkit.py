"""Builders of a tiny AlignScore-format checkpoint (shared by this plugin's tests and the integration tests).

A unique module name, so that tests of every plugin can run in one pytest session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

CORPUS = [
    "The cat sat on the mat.",
    "Paris is the capital of France.",
    "A dog barked at the moon during the night.",
    "The restaurant serves cheap Italian food near the river.",
    "Blue Spice is a coffee shop in the city centre.",
]


def write_base_model(folder: Path, hidden: int = 32) -> None:
    """A tiny RoBERTa config and a byte-level BPE tokenizer trained here (what base_model points to)."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 3, vocab_size=320, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=64,
    )
    tokenizer.save_pretrained(str(folder))
    RobertaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    ).save_pretrained(str(folder))


def write_checkpoint(path: Path, base: Path, *, heads: Sequence[str] = ("tri", "bin", "reg")) -> None:
    """A Lightning-style checkpoint in AlignScore's format, randomly initialised with a fixed seed."""
    from transformers import AutoConfig, RobertaModel

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(str(base))
    encoder = RobertaModel(config)
    state: dict[str, Any] = {f"base_model.{k}": v for k, v in encoder.state_dict().items()}
    # Old transformers saved this buffer; the loader must ignore it.
    state["base_model.embeddings.position_ids"] = torch.arange(config.max_position_embeddings)[None]
    state["mlm_head.dense.weight"] = torch.randn(config.hidden_size, config.hidden_size)
    state["mlm_head.bias"] = torch.randn(config.vocab_size)
    sizes = {"tri": 3, "bin": 2, "reg": 1}
    for head in heads:
        layer = torch.nn.Linear(config.hidden_size, sizes[head])
        state[f"{head}_layer.weight"] = layer.weight.detach().clone()
        state[f"{head}_layer.bias"] = layer.bias.detach().clone()
    torch.save(
        {
            "state_dict": state,
            "hyper_parameters": {"model": "roberta-base", "using_pretrained": True},
            "epoch": 3,
            "global_step": 1000,
            "pytorch-lightning_version": "1.7.7",
        },
        str(path),
    )


def make_tiny_alignscore(root: Path) -> tuple[Path, Path]:
    """A tiny base-model folder and a checkpoint in ``root``; returns (base folder, checkpoint path)."""
    base = root / "tiny-roberta"
    base.mkdir(parents=True, exist_ok=True)
    write_base_model(base)
    checkpoint = root / "AlignScore-tiny.ckpt"
    write_checkpoint(checkpoint, base)
    return base, checkpoint
