"""Prompt rendering: the one place that turns a prompt (and a label) into token ids.

Training, evaluation generation and strategy scoring all go through :class:`PromptFormat`, so the model
always sees the same text.

*Chat format* (the tokenizer has a chat template): the prompt is the user turn (after an optional system
turn) rendered with the generation prompt. The completion boundary is found from the template itself:
the conversation is rendered once without and once with the assistant turn, and the completion is what
the second rendering adds after the first (this includes the template's end-of-turn tokens, so the model
learns to stop). No separator string is hard-coded. When a template renders the history differently
from the generation prompt (so that the first rendering is not a prefix of the second), the completion
is what follows the longest common prefix of the two renderings.

*Plain format* (no chat template, or ``prompt_format: plain``): the prompt is ``prompt + "\\n"`` encoded
with the tokenizer's special tokens (e.g. BOS), and the completion is ``target`` followed by EOS.

*Encoder-decoder models*: the encoder reads the prompt (with special tokens), the decoder the target
(with the tokenizer's end token).

Prompts longer than ``max_input_tokens`` lose the start of the user message (the template tokens are kept).
The first such prompt is logged as a warning (an instruction at the start of the prompt is lost with it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from atgen_core.errors import AtgenError

__all__ = ["EncodedPair", "PromptFormat", "PromptSettingsError"]

log = logging.getLogger("atgen")


class PromptSettingsError(AtgenError, ValueError):
    """The prompt settings do not fit the model (a user mistake: exit 2, no traceback)."""


@dataclass(frozen=True)
class EncodedPair:
    """A training pair as token ids: the loss is taken on ``completion_ids`` only."""

    prompt_ids: list[int]
    completion_ids: list[int]


def _common_prefix_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PromptFormat:
    """Renders prompts and prompt/target pairs for one tokenizer (see the module docstring)."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        mode: Literal["auto", "chat", "plain"] = "auto",
        system_prompt: str | None = None,
        max_input_tokens: int = 512,
        encoder_decoder: bool = False,
    ) -> None:
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if mode == "chat" and not has_template:
            raise PromptSettingsError(
                "prompt_format: 'chat' was requested but the tokenizer has no chat template; "
                "use prompt_format: plain (or auto)"
            )
        self.tokenizer = tokenizer
        self.encoder_decoder = encoder_decoder
        self.use_chat = has_template and mode != "plain" and not encoder_decoder
        self.system_prompt = system_prompt
        self.max_input_tokens = max_input_tokens
        self.prompts_cut = 0
        """How many prompts lost their start to ``max_input_tokens`` so far."""
        if not self.use_chat and not encoder_decoder and tokenizer.eos_token_id is None:
            raise ValueError("the plain prompt format needs an EOS token, and the tokenizer has none")
        overhead = len(self._encode_rendered(self.render(""))) if self.use_chat else 0
        if overhead >= max_input_tokens:
            raise PromptSettingsError(
                f"max_input_tokens = {max_input_tokens} leaves no room for the prompt: the chat template "
                f"alone takes {overhead} tokens; raise max_input_tokens"
            )

    @property
    def name(self) -> str:
        """'chat', 'plain' or 'encoder-decoder'."""
        return "encoder-decoder" if self.encoder_decoder else ("chat" if self.use_chat else "plain")

    # -- rendering ---------------------------------------------------------------------------------

    def _messages(self, prompt: str, target: str | None = None) -> list[dict[str, str]]:
        messages = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        if target is not None:
            messages.append({"role": "assistant", "content": target})
        return messages

    def render(self, prompt: str) -> str:
        """The text the model reads before generating (chat template with generation prompt, or plain)."""
        if self.use_chat:
            text = self.tokenizer.apply_chat_template(
                self._messages(prompt), add_generation_prompt=True, tokenize=False
            )
            return str(text)
        if self.encoder_decoder:
            return prompt
        return prompt + "\n"

    def _encode_rendered(self, text: str) -> list[int]:
        # Chat templates carry their own special tokens (BOS etc.); the plain format uses the tokenizer's.
        special = not self.use_chat
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def _fit(self, prompt: str, ids: list[int]) -> list[int]:
        """Cut the start of the user message until the rendered prompt fits ``max_input_tokens``."""
        limit = self.max_input_tokens
        if len(ids) <= limit:
            return ids
        self.prompts_cut += 1
        if self.prompts_cut == 1:
            log.warning(
                "a prompt of %d tokens is longer than max_input_tokens = %d and loses its start (an instruction "
                "before {input} with it; later cuts are not logged): raise model.max_input_tokens, shorten "
                "inputs with data.max_input_chars, or put the instruction after {input}", len(ids), limit,
            )
        content = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        excess = len(ids) - limit
        for _ in range(6):
            kept = self.tokenizer.decode(content[min(excess, len(content)) :])
            ids = self._encode_rendered(self.render(kept))
            if len(ids) <= limit:
                return ids
            excess += len(ids) - limit
        if self.encoder_decoder or not self.use_chat:
            return ids[-limit:]
        raise PromptSettingsError(f"could not fit a prompt into max_input_tokens = {limit}; raise max_input_tokens")

    def prompt_ids(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids of each rendered prompt (what generation and scoring feed the model)."""
        if not prompts:
            return []
        texts = [self.render(p) for p in prompts]
        encoded = self.tokenizer(texts, add_special_tokens=not self.use_chat)["input_ids"]
        return [self._fit(p, list(ids)) for p, ids in zip(prompts, encoded)]

    def completion_text(self, prompt: str, target: str) -> str:
        """What the assistant turn adds after the rendered prompt (chat format only)."""
        prompt_text = self.render(prompt)
        full_text = str(self.tokenizer.apply_chat_template(self._messages(prompt, target), tokenize=False))
        if full_text.startswith(prompt_text):
            completion = full_text[len(prompt_text) :]
        else:
            completion = full_text[_common_prefix_length(prompt_text, full_text) :]
        if target.strip() and target.strip() not in completion:
            raise ValueError(
                "the chat template does not render the assistant turn after the prompt; "
                "use prompt_format: plain for this model"
            )
        return completion

    def encode_pair(self, prompt: str, target: str, max_output_tokens: int) -> EncodedPair:
        """Prompt ids (as in generation) and completion ids (what the loss is taken on)."""
        (prompt_ids,) = self.prompt_ids([prompt])
        tok = self.tokenizer
        if self.encoder_decoder:
            completion = list(tok(text_target=target, add_special_tokens=True)["input_ids"])
        elif self.use_chat:
            completion = list(tok(self.completion_text(prompt, target), add_special_tokens=False)["input_ids"])
        else:
            completion = [*tok(target, add_special_tokens=False)["input_ids"], int(tok.eos_token_id)]
        return EncodedPair(prompt_ids, completion[:max_output_tokens])
