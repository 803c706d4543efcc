"""Finding the annotation guidelines: inline text, or a text file next to the spec."""

from __future__ import annotations

from pathlib import Path

from atgen_core.errors import AtgenError

__all__ = ["read_guidelines"]

MAX_GUIDELINES_BYTES = 1_000_000


def read_guidelines(path: str | Path, base_dir: str | Path | None = None, field: str = "guidelines_file") -> str:
    """The text of a guidelines file; relative paths are tried against ``base_dir`` then the working directory."""
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [
        *([Path(base_dir) / given] if base_dir else []), Path.cwd() / given,
    ]
    for candidate in candidates:
        if candidate.is_file():
            if candidate.stat().st_size > MAX_GUIDELINES_BYTES:
                raise AtgenError(f"human annotator: {field} {str(candidate)!r} is larger than 1 MB; shorten it")
            try:
                return candidate.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise AtgenError(f"human annotator: cannot read {field} {str(candidate)!r}: {exc}") from None
    looked = ", ".join(repr(str(c)) for c in candidates)
    raise AtgenError(
        f"human annotator: {field} {str(path)!r} not found (looked at {looked}); give an absolute path or one "
        "relative to the spec's folder"
    )
