"""The spec's envelope: the core sections and the ``{"name", "config"}`` component references.

Phase 1 of validation (:mod:`atgen_core.spec.analysis`) checks a raw spec against these models; the
components' own configs are checked in phase 2 (:mod:`atgen_core.spec.resolution`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atgen_core.components import Budget, ModelSpec

__all__ = ["SCHEMA_VERSION", "ComponentRef", "DataSpec", "ExperimentSpec", "LoopSpec", "raw_run_dir"]

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ComponentRef(_Strict):
    """A reference to a component: its registered name and its config (validated by the plugin)."""

    name: str = Field(description="Registered component name (see `atgen list-plugins`).")
    config: dict[str, Any] = Field(default_factory=dict, description="The component's own settings.")

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value


class DataSpec(_Strict):
    """Where the data comes from and how rows become examples."""

    source: ComponentRef | None = Field(
        None,
        description="Data source component, e.g. {'name': 'files', 'config': {'train': 'data.jsonl'}} "
        "(default: the installed data source that declares itself the default).",
    )
    train_split: str = Field("train", description="Split that forms the unlabelled pool.")
    test_split: str | None = Field(None, description="Split used as the test set; None = hold out test_size rows.")
    test_size: float | None = Field(
        None,
        gt=0,
        description="Rows held out of the train split as the test set (a count, or a fraction < 1), "
        "fixed by the seed. Used when test_split is None.",
    )
    input_column: str = Field("input", description="Column holding the model input.")
    target_column: str | None = Field("target", description="Column holding the gold output (None: no gold).")
    references_column: str | None = Field(
        None, description="Column holding a list of accepted references (default: [target])."
    )
    id_column: str | None = Field(
        None, description="Column holding a stable row id; None derives ids from the row content."
    )
    prompt: str = Field(
        "{input}",
        description="Prompt template; {column} fields are filled from the row, {{ and }} are literal braces. "
        "Braces inside the data never break it.",
    )
    pool_size: int | None = Field(None, ge=1, description="Use a seeded random subset of this many pool rows.")
    test_subset_size: int | None = Field(None, ge=1, description="Use a seeded random subset of the test rows.")
    duplicates: Literal["keep", "merge", "merge-test"] = Field(
        "merge",
        description="Rows sharing one input: 'merge' makes one example whose references are all their "
        "targets; 'keep' keeps them as separate examples; 'merge-test' merges them in the test set only "
        "(all references) while the pool keeps one example per row (each labelled with its own target) and "
        "drops the rows whose input is in the test set (E2E-style data with few distinct inputs). Ignored "
        "when id_column is set: ids then come from that column and every row is its own example.",
    )
    max_input_chars: int | None = Field(None, ge=1, description="Inputs longer than this are handled by on_oversized.")
    on_oversized: Literal["error", "drop", "truncate"] = Field(
        "error", description="What to do with inputs longer than max_input_chars."
    )


def _increasing_totals(schedule: list[int]) -> bool:
    """Positive label totals, each above the one before."""
    return all(n >= 1 for n in schedule) and all(b > a for a, b in itertools.pairwise(schedule))


class LoopSpec(_Strict):
    """The active-learning loop."""

    mode: Literal["iterative", "design"] = Field(
        "iterative",
        description="'iterative': select, annotate, train, evaluate, repeat. 'design' (experimental design): "
        "one selection of initial_size items by the strategy, one annotation pass, one training, one "
        "evaluation.",
    )
    start: Literal["warm", "cold"] = Field(
        "warm",
        description="'warm': the first batch is random; 'cold': the strategy picks it (it must be cold-start capable).",
    )
    initial_size: int = Field(16, ge=1, description="Size of the first labelled batch.")
    query_size: int = Field(16, ge=1, description="Items selected per iteration.")
    iterations: int = Field(3, ge=0, description="Query iterations after the first batch.")
    budget: Budget = Field(default_factory=Budget, description="Annotation budget.")
    stop_when: dict[str, float] = Field(
        default_factory=dict,
        description="Stop once every listed metric value reaches its threshold, e.g. {'rougeL': 0.5}.",
    )
    evaluate_untrained: bool = Field(True, description="Evaluate the model before any training.")
    scoring_subsample: int | None = Field(
        None, ge=1, description="Score only a seeded random subsample of this many unlabelled items per iteration."
    )
    schedule: list[int] | None = Field(
        None,
        min_length=1,
        description="Label totals after each round, strictly increasing, e.g. [16, 32, 64, 128] (a doubling "
        "schedule). Replaces initial_size, query_size and iterations: round 0 labels schedule[0] items, round r "
        "schedule[r] - schedule[r-1].",
    )

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not _increasing_totals(value):
            raise ValueError("must hold positive, strictly increasing label totals (cumulative), e.g. [16, 32, 64]")
        return value

    @model_validator(mode="before")
    @classmethod
    def _derive_from_schedule(cls, data: Any) -> Any:
        """With a schedule, initial_size / iterations / query_size follow from it (explicit values must agree)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("schedule"), list):
            return data
        schedule = data["schedule"]
        if not schedule or not all(isinstance(n, int) and not isinstance(n, bool) for n in schedule):
            return data  # the field validation reports it
        if not _increasing_totals(schedule):
            return data  # the schedule's own validator reports it, at loop.schedule
        derived = {
            "initial_size": schedule[0],
            "iterations": len(schedule) - 1,
            "query_size": schedule[1] - schedule[0] if len(schedule) > 1 else data.get("query_size", 16),
        }
        clash = [k for k, v in derived.items() if k in data and data[k] != v and k != "query_size"]
        if len(schedule) > 1 and "query_size" in data and data["query_size"] != derived["query_size"]:
            clash.append("query_size")
        if clash:
            raise ValueError(
                f"schedule {schedule} replaces {', '.join(sorted(clash))}: give either the schedule or those fields"
            )
        if data.get("mode") == "design" and len(schedule) > 1:
            raise ValueError("mode 'design' has one round; a schedule for it has one entry")
        return {**data, **derived}

    @property
    def rounds(self) -> int:
        """Rounds of selection (the first batch included)."""
        if self.mode == "design":
            return 1
        return len(self.schedule) if self.schedule is not None else self.iterations + 1

    def batch_size(self, round_: int) -> int:
        """How many items round ``round_`` selects (0: the first batch)."""
        if self.schedule is not None:
            if round_ >= len(self.schedule):
                return 0
            return self.schedule[round_] - (self.schedule[round_ - 1] if round_ > 0 else 0)
        return self.initial_size if round_ == 0 else self.query_size


class ExperimentSpec(_Strict):
    """An atgen experiment (schema_version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    schema_: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference for editors.")
    schema_version: Literal[1] = Field(1, description="Spec format version.")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Experiment name.")
    seed: int = Field(42, description="Seed for every random choice (subsets, selection, training).")
    data: DataSpec = Field(description="Data section.")
    model: ModelSpec = Field(default_factory=lambda: ModelSpec(), description="Model section.")
    loop: LoopSpec = Field(default_factory=lambda: LoopSpec(), description="Loop section.")
    strategy: ComponentRef = Field(description="Selection strategy.")
    # Left out: the installed component that declares itself the default (`with_declared_defaults`).
    annotator: ComponentRef = Field(description="Annotator.")
    trainer: ComponentRef = Field(description="Trainer.")
    metrics: list[ComponentRef] = Field(description="Metrics computed on the test set.")
    embedder: ComponentRef | None = Field(
        None, description="Input embedder for diversity strategies (default: the declared default, if needed)."
    )
    scoring: ComponentRef | None = Field(
        None, description="Scoring backend for the per-iteration generation pass (default: in-process)."
    )
    tracking: list[ComponentRef] = Field(
        default_factory=list,
        description="Experiment trackers mirroring the run (e.g. ['mlflow']); a failing tracker only warns.",
    )
    output_dir: str = Field("runs/{name}", description="Run directory; {name} is replaced by the spec name.")
    reference: str | None = Field(
        None,
        description="Optional reference measurements of this task (a JSON file written by `atgen report "
        "--reference`, path relative to the spec): the run then ends with a verdict on how its strategy "
        "compares with random over the reference's seeds.",
    )

    def run_dir(self, base: Path | None = None) -> Path:
        """The run directory, relative paths resolved against ``base`` (the working directory)."""
        path = Path(self.output_dir.replace("{name}", self.name)).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return path


def raw_run_dir(raw: Mapping[str, Any], base: Path | None = None) -> Path | None:
    """The run directory a raw (maybe invalid) spec names, or ``None`` when its name or output_dir is unusable."""
    name, out = raw.get("name"), raw.get("output_dir", "runs/{name}")
    if not isinstance(name, str) or not isinstance(out, str):
        return None
    path = Path(out.replace("{name}", name)).expanduser()
    return base / path if base is not None and not path.is_absolute() else path
