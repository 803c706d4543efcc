"""The cache a context holds outside a run: it remembers nothing."""

from __future__ import annotations

__all__ = ["NullCache"]


class NullCache:
    """A ``KeyValueCache`` that stores nothing (the default of contexts built outside the loop)."""

    def get(self, key: str) -> str | None:
        """Always ``None``."""
        del key
        return None

    def put(self, key: str, value: str) -> None:
        """Forget ``value``."""
        del key, value
