"""Validated configuration of the ``openai`` annotator and the ``llm-judge`` metric.

Both share :class:`ClientConfig` (endpoint, credentials by environment-variable *name*, decoding,
attempts, concurrency, prices, caching). The API key itself is never accepted: a config carrying an
``api_key`` (or similar) key is rejected with a message saying where the key belongs, and
validation errors never echo input values (``hide_input_in_errors``), so a key pasted into the
wrong field is not printed either.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from atgen_core import PluginConfig
from atgen_core.templates import PromptTemplate

__all__ = ["AnnotatorConfig", "ClientConfig", "JudgeConfig", "SelfConsistencyConfig"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
_SECRET_KEYS = {"api_key", "apikey", "openai_api_key", "token", "secret", "authorization"}
_RESERVED_PARAMS = {"model", "messages", "n", "stream", "temperature", "max_tokens", "max_completion_tokens"}
_KEY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RETIRED = {"backoff_initial", "backoff_multiplier", "backoff_max", "backoff_jitter", "retry_after_max"}


class ClientConfig(PluginConfig):
    """Settings shared by everything that calls an OpenAI-compatible chat endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(
        "https://api.openai.com/v1",
        description="Base URL of the OpenAI-compatible API; requests go to <base_url>/chat/completions.",
    )
    model: str = Field("gpt-4o", min_length=1, description="Model name sent in every request.")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY",
        description="NAME of the environment variable holding the API key (the key itself is never "
        "accepted in the spec); null for local servers that need no key.",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(512, ge=1, le=1_000_000, description="Maximum completion tokens per choice.")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens",
        description="Request field for max_tokens ('max_completion_tokens' for OpenAI reasoning models).",
    )
    extra_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra JSON fields sent with every request (e.g. seed, top_p, reasoning_effort); part of "
        "the cache key. Must not repeat model, messages, n, stream, temperature or max_tokens.",
    )
    input_price_per_1m: float = Field(
        2.5, ge=0.0, description="Price per 1M prompt tokens (spec currency); set it for your model."
    )
    output_price_per_1m: float = Field(
        10.0, ge=0.0, description="Price per 1M completion tokens (spec currency); set it for your model."
    )
    bytes_per_token_bound: float = Field(
        2.0,
        gt=0.0,
        le=16.0,
        description="Assumed minimum UTF-8 bytes per prompt token for the cost upper bound (1.0 is a strict "
        "bound for byte-level BPE tokenizers; English averages about 4).",
    )
    concurrency: int = Field(4, ge=1, le=256, description="Maximum number of requests in flight at once.")
    timeout: float = Field(60.0, gt=0.0, le=3600.0, description="Seconds before one request times out.")
    max_attempts: int = Field(
        4,
        ge=1,
        le=20,
        description="Attempts per request (the openai client's max_retries + 1): retries on 408/409/429/5xx, "
        "timeouts, connection errors and malformed responses, with the client's back-off and Retry-After.",
    )
    strip_reasoning: bool = Field(True, description="Remove reasoning blocks such as <think>...</think>.")
    reasoning_tags: tuple[str, ...] = Field(
        ("think", "thinking", "reasoning"),
        description="Tag names of reasoning blocks to strip (a lone closing tag drops everything before it).",
    )
    cache: bool = Field(True, description="Store and reuse every successful request/response.")

    @model_validator(mode="before")
    @classmethod
    def _reject_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            retired = sorted(k for k in data if k in _RETIRED)
            if retired:
                warnings.warn(
                    f"openai config: {', '.join(retired)} no longer apply (the openai client's back-off and "
                    "Retry-After handling are used) and are ignored; remove them from the spec",
                    DeprecationWarning,
                    stacklevel=2,
                )
                data = {k: v for k, v in data.items() if k not in _RETIRED}
            secret = sorted(k for k in data if isinstance(k, str) and k.lower() in _SECRET_KEYS)
            if secret:
                raise ValueError(
                    f"{secret[0]!r} is not accepted: never put an API key in the spec. Export it in an "
                    "environment variable and set api_key_env to that variable's NAME (e.g. OPENAI_API_KEY)"
                )
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "api_key_env must be the NAME of an environment variable (upper-case letters, digits and "
                "'_', e.g. OPENAI_API_KEY), not the key itself"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("base_url must start with http:// or https:// (e.g. https://api.openai.com/v1)")
        return value.rstrip("/")

    @field_validator("extra_params")
    @classmethod
    def _extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(value) & _RESERVED_PARAMS)
        if clash:
            raise ValueError(f"extra_params must not set {', '.join(clash)}: use the dedicated config fields")
        secret = sorted(k for k in value if k.lower() in _SECRET_KEYS)
        if secret:
            raise ValueError(f"extra_params must not carry credentials ({secret[0]!r}); use api_key_env")
        return value

    @field_validator("reasoning_tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_:-]*$", tag):
                raise ValueError(f"reasoning_tags: {tag!r} is not a tag name (e.g. 'think', without brackets)")
        return value


class SelfConsistencyConfig(PluginConfig):
    """Majority voting over several sampled answers (quality control)."""

    samples: int = Field(5, ge=2, le=32, description="Answers sampled per item (all of them are paid for).")
    mode: Literal["choices", "requests"] = Field(
        "choices",
        description="'choices': one request with n=samples; 'requests': one request per sample (for servers "
        "without n support).",
    )
    threshold: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        description="Minimum share of all samples the majority answer needs to be accepted.",
    )
    case_sensitive: bool = Field(False, description="Compare answers case-sensitively when voting.")


class AnnotatorConfig(ClientConfig):
    """Config of the ``openai`` annotator."""

    prompt_template: str = Field(
        "{prompt}",
        description="User message; fields {input}, {prompt}, {id}, {draft} and the example's other columns. "
        "Data is inserted verbatim (never format-parsed); write {{ and }} for literal braces (a lone brace "
        "is an error).",
    )
    system_prompt: str | None = Field(None, description="Optional system message (sent as is).")
    few_shot: int = Field(0, ge=0, le=64, description="Labelled examples shown as previous turns (0 = none).")
    few_shot_seed: int = Field(0, description="Seed of the deterministic few-shot choice.")
    few_shot_max_bytes: int = Field(
        2000, ge=16, le=100_000, description="Each few-shot input and label is cut to this many UTF-8 bytes."
    )
    answer_regex: str | None = Field(
        None,
        description="Regex extracting the final answer (last match; group 'answer', else group 1, else the "
        r"whole match), e.g. '####\s*(.+)'. No match = failed item.",
    )
    strip_whitespace: bool = Field(True, description="Strip leading/trailing whitespace of the label.")
    fail_truncated: bool = Field(
        False, description="Treat replies cut by max_tokens (finish_reason 'length') as failed."
    )
    self_consistency: SelfConsistencyConfig | None = Field(
        None, description="Optional majority-vote quality control (off when null)."
    )

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, value: str) -> str:
        PromptTemplate(value, where="prompt_template")  # unmatched braces are caught here, not mid-run
        return value

    @field_validator("answer_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"answer_regex is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistency_needs_sampling(self) -> AnnotatorConfig:
        if self.self_consistency is not None and self.temperature == 0.0:
            raise ValueError(
                "self_consistency needs temperature > 0 (with temperature 0 every sample is the same answer)"
            )
        return self


class JudgeConfig(ClientConfig):
    """Config of the ``llm-judge`` metric."""

    max_tokens: int = Field(256, ge=1, le=1_000_000, description="Maximum completion tokens per judgement.")
    rubric: Literal["faithfulness", "relevance", "fluency", "custom"] = Field(
        "faithfulness", description="Built-in criterion, or 'custom' with custom_rubric."
    )
    custom_rubric: str | None = Field(None, description="Criterion text when rubric is 'custom'.")
    score_min: int = Field(1, ge=0, le=1000, description="Lowest score of the scale.")
    score_max: int = Field(5, ge=1, le=1000, description="Highest score of the scale.")
    include_reference: bool = Field(True, description="Show the first reference (when present) to the judge.")
    system_prompt: str | None = Field(None, description="Replaces the built-in system message.")
    prompt_template: str | None = Field(
        None,
        description="Replaces the built-in user message; fields {criterion}, {source}, {prediction}, "
        "{reference}, {score_min}, {score_max}.",
    )
    key: str = Field("llm_judge", description="Name of the reported value (also prefixes _failed and _cost).")
    max_cost: float | None = Field(
        None, ge=0.0, description="Money cap of one compute call; examples beyond it are not judged (NaN)."
    )

    @field_validator("system_prompt", "prompt_template")
    @classmethod
    def _templates(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            PromptTemplate(value, where=str(info.field_name))
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY_NAME.match(value):
            raise ValueError("key must be lower case letters, digits and '_' (e.g. llm_judge_fluency)")
        return value

    @model_validator(mode="after")
    def _check(self) -> JudgeConfig:
        if self.score_min >= self.score_max:
            raise ValueError("score_min must be smaller than score_max")
        if self.rubric == "custom" and not (self.custom_rubric or "").strip():
            raise ValueError("rubric 'custom' needs custom_rubric (the criterion text)")
        return self
