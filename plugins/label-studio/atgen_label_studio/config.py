"""Configuration of the ``label-studio`` annotator.

The API token is never accepted in the spec: only the NAME of the environment variable that holds it
(``token_env``). A config carrying a ``token`` / ``api_key`` key is rejected with a message saying where
the token belongs, and validation errors never echo input values, so a pasted token is not printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from atgen_core import PluginConfig
from atgen_core.errors import AtgenError

__all__ = ["LabelStudioConfig", "MissingTokenError", "read_token"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
_SECRET_KEYS = {"token", "api_key", "apikey", "api_token", "access_token", "secret", "authorization", "password"}


class MissingTokenError(AtgenError):
    """The environment variable that should hold the Label Studio token is not set."""


class LabelStudioConfig(PluginConfig):
    """Which Label Studio server and project receive each round's items, and how long to wait for answers."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(
        "http://localhost:8080", description="Base URL of the Label Studio server (scheme, host, port; no /api suffix)."
    )
    project: int | str = Field(
        ...,
        description="The project: its numeric id (must exist), or its title (created "
        "with a text-generation labelling config when no project has that title).",
    )
    token_env: str = Field(
        "LABEL_STUDIO_API_KEY",
        description="NAME of the environment variable that holds the "
        "Label Studio access token (Account & Settings > Access Token). The token itself is "
        "never accepted in the spec.",
    )
    guidelines: str | None = Field(
        None, description="Instructions shown with every task (default: the spec's annotation guidelines, when set)."
    )
    send_draft: bool = Field(
        True,
        description="Attach the current model's output to each task as a prediction "
        "(a pre-annotation the annotator can accept or edit).",
    )
    on_skip: Literal["skip", "wait"] = Field(
        "skip",
        description="A task skipped (cancelled) in Label Studio: "
        "'skip' records it as skipped (not labelled; it stays in the pool "
        "and may be selected again), 'wait' keeps waiting for another "
        "annotator to submit an answer.",
    )
    poll_interval_seconds: float = Field(2.0, gt=0, le=3600, description="First wait between two polls.")
    max_poll_interval_seconds: float = Field(
        30.0, gt=0, le=3600, description="The wait grows by half after every poll that brings nothing new, up to this."
    )
    timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Stop waiting for a round after this many "
        "seconds; unanswered tasks are recorded as skipped (their tasks stay "
        "in the project). None: wait until every task is answered.",
    )
    request_timeout_seconds: float = Field(30.0, gt=0, le=600, description="Timeout of one HTTP request.")

    @model_validator(mode="before")
    @classmethod
    def _no_secret(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            secret = sorted(k for k in data if isinstance(k, str) and k.lower() in _SECRET_KEYS)
            if secret:
                raise ValueError(
                    f"{secret[0]!r} is not accepted in the spec: export the token in an environment "
                    "variable and give its NAME as token_env (default LABEL_STUDIO_API_KEY)"
                )
        return data

    @field_validator("token_env", "url", "project")
    @classmethod
    def _field_rules(cls, value: Any, info: ValidationInfo) -> Any:
        """``token_env`` is a variable NAME, ``url`` an http(s) address, ``project`` an id or a title."""
        bad = {
            "token_env": not _ENV_NAME.match(str(value)),
            "url": not re.match(r"^https?://[^/\s]+", str(value)),
            "project": (isinstance(value, str) and not value.strip()) or (isinstance(value, int) and value < 1),
        }
        if bad[str(info.field_name)]:
            raise ValueError(_RULES[str(info.field_name)])
        return value.rstrip("/").removesuffix("/api") if info.field_name == "url" else value


_RULES = {
    "token_env": "token_env must be the NAME of an environment variable (upper-case letters, digits and '_', e.g. "
    "LABEL_STUDIO_API_KEY), not the token itself",
    "url": "url must start with http:// or https:// followed by the host, e.g. http://localhost:8080",
    "project": "project must be a project id (1 or more) or a non-empty title",
}


def read_token(env_name: str, environ: Mapping[str, str] | None = None) -> str:
    """The access token from the environment variable ``env_name`` (its value is never shown)."""
    value = (os.environ if environ is None else environ).get(env_name, "").strip()
    if not value:
        raise MissingTokenError(
            f"label-studio annotator: environment variable {env_name} is not set: export your Label Studio access "
            f"token as {env_name} (Label Studio: Account & Settings > Access Token), or set token_env to the name "
            "of the variable that holds it"
        )
    return value
