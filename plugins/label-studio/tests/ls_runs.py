"""The server handle and the run stores the Label Studio tests share (a module of its own: every
plugin's tests run in one pytest session, where ``conftest`` names another plugin's file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from atgen_core import Example
from atgen_core.store import RunStore


@dataclass(frozen=True)
class LabelStudio:
    """A running server: its URL and the API token of its user."""

    url: str
    token: str


def make_examples(n: int) -> list[Example]:
    """``n`` examples ``ex-0`` ... with distinct inputs."""
    return [
        Example(id=f"ex-{i}", input=f"Summarise item number {i}.", prompt=f"Summarise item number {i}.")
        for i in range(n)
    ]


def make_run(run_dir: Path, n: int = 4) -> RunStore:
    """A run store whose round 0 selected ``ex-0`` ... ``ex-{n-1}``."""
    store = RunStore(run_dir)
    examples = make_examples(n + 2)
    store.save_examples("pool", examples)
    store.save_selection(0, [e.id for e in examples[:n]], "test")
    store.set_meta("spec", '{"name": "label-studio-test"}')
    return store
