"""The ``data_source`` kind: the rows (dicts of column -> value) of named splits."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from atgen_core.components.base import Component, ConfigT

__all__ = ["DataContext", "DataSource"]


@dataclass(frozen=True)
class DataContext:
    """Context for loading data: the seed and a cache directory."""

    seed: int = 0
    cache_dir: Path | None = None
    base_dir: Path | None = None
    """Directory that relative paths in the spec are resolved against (the spec file's folder)."""


class DataSource(Component[ConfigT]):
    """Base class of data sources: yields rows (dicts of column -> value) of a named split."""

    kind: ClassVar[str] = "data_source"

    @abstractmethod
    def splits(self, ctx: DataContext) -> Sequence[str]:
        """The split names this source provides."""

    @abstractmethod
    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        """The rows of ``split``, in a stable order."""
