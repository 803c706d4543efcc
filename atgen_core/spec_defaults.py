"""Declared defaults: what a spec gets for a component it leaves out, without the core naming a plugin.

A component class sets ``default = True`` to become the default of its kind (``Registry.default_name``).
Before validation, :func:`with_declared_defaults` fills every left-out component of a raw spec with the
declared default; when no installed component (or more than one) declares itself the default, the key
stays missing and validation asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from atgen_core.registry import Registry

__all__ = ["DEFAULTED", "default_field", "with_declared_defaults"]

DEFAULTED: tuple[tuple[str, str], ...] = (("annotator", "annotator"), ("trainer", "trainer"), ("metrics", "metric"))
"""Top-level spec keys (and their component kind) filled from the declared default when left out."""


def with_declared_defaults(raw: Mapping[str, Any], registry: Registry) -> dict[str, Any]:
    """A copy of ``raw`` with each left-out component set to the declared default of its kind."""
    out = dict(raw)
    for key, kind in DEFAULTED:
        name = registry.default_name(kind)
        if key not in out and name is not None:
            out[key] = [name] if key == "metrics" else name
    data = out.get("data")
    source = registry.default_name("data_source")
    if isinstance(data, Mapping) and data.get("source") is None and source is not None:
        out["data"] = {**data, "source": source}
    return out


def default_field(registry: Registry, kind: str, description: str, *, many: bool = False) -> Any:
    """A pydantic ``Field`` for the JSON Schema: the declared default of ``kind``, or required without one."""
    name = registry.default_name(kind)
    if name is None:
        return Field(description=description)
    return Field([name] if many else name, description=description)
