"""atgen plugin: the ``label-studio`` annotator (each round's selection labelled in a Label Studio project)."""

from __future__ import annotations

__all__: list[str] = []
