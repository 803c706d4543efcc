"""Helpers of the lora-trainer tests (a unique module name, so tests of all plugins can share a session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3_TEMPLATE = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
SPECIALS = [
    "<unk>",
    "<s>",
    "</s>",
    "<pad>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]
CORPUS = [
    "name: Blue Spice, eatType: coffee shop, area: city centre",
    "Blue Spice is a coffee shop in the city centre.",
    "name: The Eagle, food: French, priceRange: cheap, area: riverside",
    "The Eagle serves cheap French food by the riverside.",
    "Summarise the text. Describe the restaurant. What is the capital of France? Paris is the capital.",
    "system user assistant You are a helpful assistant. The quick brown fox jumps over the lazy dog.",
]

EXAMPLES = [
    ("Describe: name: Blue Spice, area: city centre", "Blue Spice is in the city centre."),
    ("Describe: name: The Eagle, food: French", "The Eagle serves French food."),
    ("Describe: name: Blue Spice, eatType: coffee shop", "Blue Spice is a coffee shop."),
    ("Describe: name: The Eagle, priceRange: cheap, area: riverside", "The Eagle is cheap, by the riverside."),
    ("What is the capital of France?", "Paris is the capital."),
]


def make_tokenizer(template: str | None, eos: str) -> Any:
    """A byte-level BPE tokenizer trained on a tiny corpus, with ``template`` as its chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    raw.train_from_iterator(CORPUS, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token=eos, pad_token="<pad>"
    )
    if template is not None:
        tok.chat_template = template
    return tok


def make_model_dir(root: Path, template: str | None, eos: str, seed: int = 0) -> Path:
    """Save a tiny random 2-layer Llama with its tokenizer into ``root`` (a loadable model folder)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer(template, eos)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the default init, so outputs vary with the input
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.3)
    root.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(root)
    tok.save_pretrained(root)
    return root


def make_t5_dir(root: Path, seed: int = 0) -> Path:
    """Save a tiny random 2-layer T5 (encoder-decoder) with a plain tokenizer into ``root``."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = make_tokenizer(None, "</s>")
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    root.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(root)
    tok.save_pretrained(root)
    return root
