"""The run store's steps, timings, metrics and test-set generations per round."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from atgen_core.store_db import StoreBase

__all__ = ["RoundStore"]


class RoundStore(StoreBase):
    """Which step of which round is done, how long it took, and what each evaluation measured."""

    def step_done(self, round_: int, step: str) -> dict[str, Any] | None:
        row = self._one("SELECT info FROM steps WHERE round = ? AND step = ?", (round_, step))
        return None if row is None else dict(json.loads(row[0]))

    def mark_step(self, round_: int, step: str, seconds: float, info: Mapping[str, Any] | None = None) -> None:
        self._execute(
            "INSERT OR REPLACE INTO steps (round, step, seconds, info, created) VALUES (?, ?, ?, ?, ?)",
            (round_, step, float(seconds), json.dumps(dict(info or {}), default=str), time.time()),
        )

    def forget_step(self, round_: int, step: str) -> None:
        """Mark a step as not done (so that it runs again); never used for steps that hold labels."""
        self._execute("DELETE FROM steps WHERE round = ? AND step = ?", (round_, step))

    def timings(self) -> list[tuple[int, str, float]]:
        return [tuple(r) for r in self._execute("SELECT round, step, seconds FROM steps ORDER BY round, created")]  # type: ignore[misc]

    def save_evaluation(
        self, round_: int, values: Mapping[str, float], n_labels: int, generations: Iterable[tuple[str, str]]
    ) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO metrics (round, key, value, n_labels) VALUES (?, ?, ?, ?)",
                [(round_, k, float(v), n_labels) for k, v in values.items()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO generations (round, id, text) VALUES (?, ?, ?)",
                [(round_, id_, text) for id_, text in generations],
            )

    def metrics(self) -> list[tuple[int, int, dict[str, float]]]:
        """(round, n_labels, {key: value}) per evaluated round, in round order."""
        out: dict[int, tuple[int, dict[str, float]]] = {}
        for round_, key, value, n_labels in self._execute(
            "SELECT round, key, value, n_labels FROM metrics ORDER BY round, key"
        ):
            out.setdefault(round_, (n_labels, {}))[1][key] = value
        return [(r, n, vals) for r, (n, vals) in sorted(out.items())]

    def generations(self, round_: int) -> dict[str, str]:
        return dict(self._execute("SELECT id, text FROM generations WHERE round = ?", (round_,)))
