"""Run-directory rules the loop relies on: which spec changes a stored run accepts, and adapter paths
stored relative to the run directory (so that a run directory can be moved or copied)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.errors import StoreError
from atgen_core.store import RunStore, run_has_progress

if TYPE_CHECKING:
    from atgen_core.spec import ExperimentSpec

__all__ = [
    "EXTENDABLE",
    "canonical_spec",
    "other_spec_error",
    "refuse_other_spec",
    "relative_to_run",
    "spec_changes",
    "spec_diff",
    "stored_adapter_path",
]

EXTENDABLE = ("iterations", "schedule", "budget", "stop_when")
"""``loop`` fields that may change when a stored run is continued (to extend it)."""


def canonical_spec(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as stored in a run (JSON form, without the editor-only ``$schema``)."""
    data = spec.model_dump(mode="json", by_alias=True)
    data.pop("$schema", None)
    return data


def spec_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths at which two canonical specs differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out.extend(spec_diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key))
        return out
    return [] if old == new else [prefix or "<root>"]


def spec_changes(old: Any, new: Any) -> tuple[list[str], list[str]]:
    """(every changed path, the changed paths that a stored run cannot take)."""
    diff = [d for d in spec_diff(old, new) if d != "output_dir"]  # a moved run is still the same run
    return diff, [
        d for d in diff
        if not (d.startswith("loop.") and d.split(".")[1] in EXTENDABLE)
        and d != "reference" and d.split(".")[0] != "tracking"
    ]


def other_spec_error(run_dir: Path, blocking: Sequence[str]) -> StoreError:
    """The error for a run directory that holds a started run of another spec."""
    return StoreError(
        f"{run_dir} holds a run of a different spec (differs in: {', '.join(blocking)}); choose another "
        f"output_dir, or continue the stored run with `atgen resume {run_dir}`"
    )


def refuse_other_spec(run_dir: Path, canonical: dict[str, Any]) -> None:
    """Refuse, before touching it, a run directory whose started run has a different spec."""
    if not run_has_progress(run_dir):
        return
    store = RunStore(run_dir, read_only=True)
    try:
        stored = store.get_meta("spec")
    finally:
        store.close()
    if stored is not None:
        blocking = spec_changes(json.loads(stored), canonical)[1]
        if blocking:
            raise other_spec_error(run_dir, blocking)


def stored_adapter_path(run_dir: Path, stored: str | None) -> Path | None:
    """An adapter path from the store, relative to the run directory.

    Runs written before paths were relative hold absolute paths; when the same ``adapters/...`` folder
    exists in this run directory it is used (so a copied run never reads the original's adapters).
    """
    if not stored:
        return None
    path = Path(stored)
    if not path.is_absolute():
        return run_dir / path
    parts = path.parts
    if "adapters" in parts:
        local = run_dir.joinpath(*parts[len(parts) - parts[::-1].index("adapters") - 1:])
        if local.exists() or not path.exists():
            return local
    return path


def relative_to_run(run_dir: Path, path: Path | None) -> str | None:
    """``path`` relative to the run directory for the store (kept as given when it lies outside)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return str(path)
