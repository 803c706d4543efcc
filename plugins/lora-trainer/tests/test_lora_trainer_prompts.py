"""Completion-only masking found from the chat template, for two templates and the plain format."""

from __future__ import annotations

from pathlib import Path

import pytest
from atgen_lora_trainer.prompts import EncodedPair, PromptFormat
from atgen_lora_trainer.training import IGNORE, _collate
from lora_trainer_helpers import CHATML_TEMPLATE, LLAMA3_TEMPLATE, make_tokenizer


@pytest.mark.parametrize(
    ("template", "eos", "prompt_end", "completion_text"),
    [
        (CHATML_TEMPLATE, "<|im_end|>", "<|im_start|>assistant\n", "Paris is the capital.<|im_end|>\n"),
        (
            LLAMA3_TEMPLATE,
            "<|eot_id|>",
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            "Paris is the capital.<|eot_id|>",
        ),
    ],
    ids=["chatml", "llama3"],
)
def test_completion_mask_follows_the_chat_template(
    template: str, eos: str, prompt_end: str, completion_text: str
) -> None:
    tok = make_tokenizer(template, eos)
    fmt = PromptFormat(tok, max_input_tokens=256)
    assert fmt.name == "chat"
    pair = fmt.encode_pair("What is the capital of France?", "Paris is the capital.", max_output_tokens=64)

    prompt_text = tok.decode(pair.prompt_ids)
    assert prompt_text.endswith(prompt_end)
    assert "Paris is the capital." not in prompt_text
    assert tok.decode(pair.completion_ids) == completion_text
    # prompt + completion is exactly the rendered conversation, token for token.
    full = tok.apply_chat_template(
        [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris is the capital."},
        ],
        tokenize=False,
    )
    assert pair.prompt_ids + pair.completion_ids == tok(full, add_special_tokens=False)["input_ids"]
    # Generation sees the very same prompt tokens.
    assert fmt.prompt_ids(["What is the capital of France?"])[0] == pair.prompt_ids

    batch = _collate([pair, EncodedPair([5, 6], [7])], pad_id=tok.pad_token_id, encoder_decoder=False, device=None)
    labels = batch["labels"][0].tolist()
    n_prompt = len(pair.prompt_ids)
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == pair.completion_ids
    assert batch["labels"][1].tolist()[:3] == [IGNORE, IGNORE, 7]
    assert batch["labels"][1].tolist()[3:] == [IGNORE] * (len(labels) - 3)


def test_system_prompt_and_template_without_prefix_property() -> None:
    # A template that renders the last assistant turn with an extra marker the generation prompt lacks.
    template = (
        "{% for m in messages %}[{{ m['role'] }}]{% if m['role'] == 'assistant' %}>> {% endif %}"
        "{{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    tok = make_tokenizer(template, "</s>")
    fmt = PromptFormat(tok, system_prompt="Be brief.", max_input_tokens=256)
    assert fmt.render("hi").startswith("[system]Be brief.</s>[user]hi</s>")
    completion = fmt.completion_text("hi", "Paris")
    assert completion == ">> Paris</s>"


def test_plain_format_without_template(plain_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(plain_model_dir)
    fmt = PromptFormat(tok, max_input_tokens=256)
    assert fmt.name == "plain"
    pair = fmt.encode_pair("Describe: The Eagle", "The Eagle serves French food.", max_output_tokens=64)
    assert tok.decode(pair.prompt_ids, skip_special_tokens=True) == "Describe: The Eagle\n"
    assert pair.completion_ids[-1] == tok.eos_token_id
    assert tok.decode(pair.completion_ids[:-1]) == "The Eagle serves French food."
    with pytest.raises(ValueError, match="no chat template"):
        PromptFormat(tok, mode="chat")


def test_long_prompts_lose_their_start_but_keep_the_template(caplog: pytest.LogCaptureFixture) -> None:
    tok = make_tokenizer(CHATML_TEMPLATE, "<|im_end|>")
    fmt = PromptFormat(tok, max_input_tokens=40)
    long_prompt = " ".join(["The quick brown fox jumps over the lazy dog."] * 20) + " END"
    assert fmt.prompt_ids(["short"]) and fmt.prompts_cut == 0 and not caplog.records
    (ids,) = fmt.prompt_ids([long_prompt])
    fmt.prompt_ids([long_prompt, long_prompt])
    # Counted every time, said once: the user learns that the start of prompts is lost, and how to fix it.
    assert fmt.prompts_cut == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "longer than max_input_tokens = 40" in warnings[0], warnings
    assert "raise model.max_input_tokens" in warnings[0]
    assert len(ids) <= 40
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>user\n")
    assert text.endswith("END<|im_end|>\n<|im_start|>assistant\n")
    pair = fmt.encode_pair(long_prompt, "ok", max_output_tokens=2)
    assert pair.prompt_ids == ids and len(pair.completion_ids) == 2
    with pytest.raises(ValueError, match="max_input_tokens"):
        PromptFormat(tok, max_input_tokens=8)
