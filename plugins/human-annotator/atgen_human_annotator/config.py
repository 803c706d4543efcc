"""Configuration of the ``human`` annotator."""

from __future__ import annotations

from pydantic import Field, model_validator

from atgen_core import PluginConfig


class HumanConfig(PluginConfig):
    """Where the annotation page is served and what it shows."""

    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the page is served on. Keep the default (this machine only) unless you need "
        "remote annotators; then put the page behind a TLS proxy.",
    )
    port: int = Field(0, ge=0, le=65535, description="TCP port; 0 picks a free port (printed with the URL).")
    guidelines: str | None = Field(
        None, description="Annotation guidelines shown above every item (plain text)."
    )
    guidelines_file: str | None = Field(
        None,
        description="Read the guidelines from this UTF-8 text file instead (relative paths: the spec's folder, "
        "then the working directory).",
    )
    timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Stop waiting for a batch after this many seconds; unanswered items are recorded as "
        "skipped (None: wait until every item is saved or skipped).",
    )
    show_draft: bool = Field(
        True, description="Pre-fill the answer with the current model's output (when the strategy produced one)."
    )
    open_browser: bool = Field(False, description="Open the page in the default web browser when a batch starts.")

    @model_validator(mode="after")
    def _one_guidelines_source(self) -> HumanConfig:
        if self.guidelines is not None and self.guidelines_file is not None:
            raise ValueError("set either `guidelines` or `guidelines_file`, not both")
        return self
