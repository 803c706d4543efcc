"""Configuration of the ``human`` annotator, and reading its guidelines."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from atgen_core import PluginConfig
from atgen_core.errors import AtgenError

MAX_GUIDELINES_BYTES = 1_000_000


class HumanConfig(PluginConfig):
    """Where the annotation page is served and what it shows."""

    host: str = Field("127.0.0.1", min_length=1, description="Address the page is served on. Keep the default "
                      "(this machine only) unless you need remote annotators; then put the page behind a TLS proxy.")
    port: int = Field(0, ge=0, le=65535, description="TCP port; 0 picks a free port (printed with the URL).")
    guidelines: str | None = Field(None, description="Annotation guidelines shown above every item (plain text).")
    guidelines_file: str | None = Field(None, description="Read the guidelines from this UTF-8 text file instead "
                                        "(relative paths: the spec's folder, then the working directory).")
    timeout_seconds: float | None = Field(None, gt=0, description="Stop waiting for a batch after this many "
                                          "seconds; unanswered items are recorded as skipped (None: wait until "
                                          "every item is saved or skipped).")
    show_draft: bool = Field(True, description="Pre-fill the answer with the current model's output (when the "
                             "strategy produced one).")
    open_browser: bool = Field(False, description="Open the page in the default web browser when a batch starts.")

    @model_validator(mode="after")
    def _one_guidelines_source(self) -> HumanConfig:
        if self.guidelines is not None and self.guidelines_file is not None:
            raise ValueError("set either `guidelines` or `guidelines_file`, not both")
        return self

    def guidelines_text(self, base_dir: Path | None) -> str | None:
        """The guidelines (inline, or read from ``guidelines_file``); ``None`` when neither is set."""
        if self.guidelines_file is not None:
            return read_guidelines(self.guidelines_file, base_dir)
        return self.guidelines


def read_guidelines(path: str | Path, base_dir: Path | None, field: str = "guidelines_file") -> str:
    """The text of a guidelines file; relative paths are tried against ``base_dir`` then the working directory."""
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [*([base_dir / given] if base_dir else []), Path.cwd() / given]
    for candidate in candidates:
        if candidate.is_file():
            if candidate.stat().st_size > MAX_GUIDELINES_BYTES:
                raise AtgenError(f"human annotator: {field} {str(candidate)!r} is larger than 1 MB; shorten it")
            try:
                return candidate.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise AtgenError(f"human annotator: cannot read {field} {str(candidate)!r}: {exc}") from None
    looked = ", ".join(repr(str(c)) for c in candidates)
    raise AtgenError(f"human annotator: {field} {str(path)!r} not found (looked at {looked}); give an absolute path "
                     "or one relative to the spec's folder")
