"""Data sources: local files, the Hugging Face hub, and reasoning-gym's offline task generators."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from atgen_core import DataContext, DataSource, PluginConfig, PreflightContext, Problem
from atgen_core.errors import DataError
from atgen_core.network import env_flag, hub_endpoint, unreachable_host
from atgen_core.suggest import nearest_path_hint

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def resolve_path(raw: str, ctx: DataContext, field: str) -> Path:
    """Expand ``${VAR}`` and ``~``, and resolve a relative path against the spec file's folder."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        value = os.environ.get(name)
        if value is None:
            raise DataError(f"data.source.config.{field}: environment variable {name} is not set (in {raw!r})")
        return value

    path = Path(_VAR.sub(expand, raw)).expanduser()
    if not path.is_absolute() and ctx.base_dir is not None:
        path = ctx.base_dir / path
    if not path.exists():
        raise DataError(f"data.source.config.{field}: {path} does not exist")
    return path


def _read_jsonl(path: Path) -> Iterator[Mapping[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg}, column {exc.colno})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {number} is not a JSON object")
            yield row


def _csv_delimiter(handle: Any) -> str:
    """',' unless the header line has none and uses ';', tab or '|' (as spreadsheets in many locales write)."""
    header = handle.readline()
    handle.seek(0)
    if "," in header:
        return ","
    return next((sep for sep in (";", "\t", "|") if sep in header), ",")


def read_table(path: Path) -> list[Mapping[str, Any]]:
    """Rows of a .jsonl / .json / .csv / .tsv / .parquet file or a saved ``datasets`` directory."""
    if path.is_dir():
        try:
            from datasets import load_from_disk
        except ImportError:
            raise DataError(f"{path} is a directory: reading saved datasets needs `pip install datasets`") from None
        loaded = load_from_disk(str(path))
        if hasattr(loaded, "keys"):
            raise DataError(f"{path} holds several splits ({', '.join(loaded.keys())}); point at one split folder")
        return [dict(r) for r in loaded]
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(_read_jsonl(path))
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        if isinstance(data, dict) and "data" in data:
            data = data["data"]
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of objects (or {{'data': [...]}})")
        return data
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else _csv_delimiter(handle)))
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{path}: reading Parquet needs `pip install pyarrow`") from None
        return pq.read_table(path).to_pylist()
    raise DataError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .csv, .tsv or .parquet)")


def _missing_hint(path: Path) -> str:
    """A near name in the same folder, when there is one; where relative paths are resolved from."""
    hint = "relative paths are resolved against the spec file's folder"
    near = nearest_path_hint(path, cutoff=0.7)
    return f"{near} {hint}" if near else hint


class FilesConfig(PluginConfig):
    """Local files, one per split."""

    train: str = Field(description="Train split file (.jsonl/.json/.csv/.tsv/.parquet) or saved datasets folder. "
                       "Relative paths are resolved against the spec file; ${VAR} is expanded.")
    test: str | None = Field(None, description="Optional test split file.")
    extra_splits: dict[str, str] = Field(default_factory=dict, description="Further named splits -> files.")


class FilesSource(DataSource[FilesConfig]):
    """Local JSONL / JSON / CSV / Parquet files or saved `datasets` folders, one per split."""

    name: ClassVar[str] = "files"
    default: ClassVar[bool] = True
    """The default of its kind: specs that leave it out get this component."""
    Config = FilesConfig

    def _paths(self) -> dict[str, str]:
        paths = {"train": self.config.train, **self.config.extra_splits}
        if self.config.test is not None:
            paths["test"] = self.config.test
        return paths

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return list(self._paths())

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """Every split's file: its ``${VAR}``s set, the file present and not empty (all reported at once)."""
        problems: list[Problem] = []
        for split, raw in self._paths().items():
            field = ctx.field(split if split in ("train", "test") else f"extra_splits.{split}")
            unset = [m.group(1) or m.group(2) for m in _VAR.finditer(raw)
                     if (m.group(1) or m.group(2)) not in ctx.environ]
            if unset:
                problems.append(Problem(field, f"environment variable {unset[0]} is not set (in {raw!r})",
                                        hint=f"export {unset[0]}, or write the path out"))
                continue
            path = Path(_VAR.sub(lambda m: ctx.environ[m.group(1) or m.group(2)], raw)).expanduser()
            if not path.is_absolute() and ctx.base_dir is not None:
                path = ctx.base_dir / path
            if not path.exists():
                problems.append(Problem(field, f"{path} does not exist", hint=_missing_hint(path)))
            elif path.is_file() and path.stat().st_size == 0:
                problems.append(Problem(field, f"{path} is empty"))
        return problems

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        paths = self._paths()
        field = split if split in ("train", "test") else f"extra_splits.{split}"
        path = resolve_path(paths[split], ctx, field)
        try:
            return read_table(path)
        except UnicodeDecodeError as exc:
            raise DataError(f"data.source.config.{field}: {path} is not UTF-8 text (byte {exc.start})") from None
        except (csv.Error, OSError) as exc:
            raise DataError(f"data.source.config.{field}: cannot read {path}: {exc}") from None


class HubConfig(PluginConfig):
    """A dataset on the Hugging Face hub (needs network access the first time)."""

    dataset: str = Field(description="Hub dataset id, e.g. 'EdinburghNLP/xsum'.")
    subset: str | None = Field(None, description="Dataset configuration name, e.g. 'main' for gsm8k.")
    revision: str | None = Field(None, description="Branch, tag or commit.")
    trust_remote_code: bool = Field(False, description="Allow dataset loading scripts.")


_OFFLINE_HINT = "check the network, or save the dataset once with `datasets` and use the 'files' source"


class HubSource(DataSource[HubConfig]):
    """A dataset from the Hugging Face hub, loaded with `datasets` (online users)."""

    name: ClassVar[str] = "hub"
    Config = HubConfig

    def _load(self) -> Any:
        reason = self._unreachable(os.environ)
        if reason is not None:
            raise DataError(f"data.source.config.dataset: {reason}; {_OFFLINE_HINT}")
        try:
            from datasets import load_dataset
        except ImportError:
            raise DataError("the 'hub' data source needs `pip install datasets`") from None
        try:
            return load_dataset(self.config.dataset, self.config.subset, revision=self.config.revision)
        except Exception as exc:  # network, missing dataset, ...
            raise DataError(
                f"data.source.config.dataset: cannot load {self.config.dataset!r} from the hub: {exc}. "
                "Offline? Save it once with `datasets` and use the 'files' source with its folder."
            ) from None

    def _unreachable(self, env: Mapping[str, str]) -> str | None:
        """Why the dataset cannot be downloaded (no network and no local copy), or None."""
        if env_flag(env, "HF_DATASETS_OFFLINE") or _dataset_cached(self.config.dataset, env):
            return None
        unreachable = unreachable_host(hub_endpoint(env), env)
        return None if unreachable is None else f"{self.config.dataset!r} is not in the local cache and {unreachable}"

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """Without network and without a local copy the download cannot work: say so before the run
        (``datasets`` would otherwise retry for about 25 s and then fail)."""
        reason = self._unreachable(ctx.environ)
        return [] if reason is None else [Problem(ctx.field("dataset"), reason, hint=_OFFLINE_HINT)]

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return list(self._load().keys())

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        return [dict(r) for r in self._load()[split]]


def _dataset_cached(dataset: str, env: Mapping[str, str]) -> bool:
    """Whether ``datasets`` or the hub cache holds some copy of ``dataset`` (so loading may work offline)."""
    home = Path(env.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser()
    datasets_cache = Path(env.get("HF_DATASETS_CACHE") or home / "datasets").expanduser()
    hub_cache = Path(env.get("HF_HUB_CACHE") or home / "hub").expanduser()
    return (datasets_cache / dataset.replace("/", "___")).exists() or (
        hub_cache / ("datasets--" + dataset.replace("/", "--"))).exists()


class ReasoningGymConfig(PluginConfig):
    """A task generated offline by the reasoning-gym package."""

    dataset: str = Field("sentence_reordering", description="reasoning-gym dataset name, e.g. 'gsm_symbolic'.")
    size: int = Field(240, ge=2, description="Number of generated rows.")
    seed: int = Field(42, description="Generator seed (independent of the experiment seed).")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra keyword arguments of the generator.")
    target_field: str = Field(
        "answer",
        description="Entry field used as the target; dotted paths reach into metadata, e.g. "
        "'metadata.answer_cot' for gsm_symbolic's worked solutions.",
    )
    append_answer: bool = Field(
        False, description="Append '#### <answer>' to the target (GSM8K format, for numeric-accuracy)."
    )

    @field_validator("dataset")
    @classmethod
    def _known(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]+", value):
            raise ValueError("a reasoning-gym dataset name looks like 'sentence_reordering'")
        return value


class ReasoningGymSource(DataSource[ReasoningGymConfig]):
    """Rows generated offline by reasoning-gym (columns: input = question, target = answer)."""

    name: ClassVar[str] = "reasoning-gym"
    Config = ReasoningGymConfig

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return ["train"]

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        try:
            import reasoning_gym
        except ImportError:
            raise DataError("the 'reasoning-gym' data source needs `pip install reasoning-gym`") from None
        try:
            dataset = reasoning_gym.create_dataset(
                self.config.dataset, size=self.config.size, seed=self.config.seed, **self.config.options
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"data.source.config: reasoning-gym cannot build {self.config.dataset!r}: {exc}") from None
        rows = []
        for index, entry in enumerate(dataset):
            target: Any = entry
            for part in self.config.target_field.split("."):
                if not isinstance(target, Mapping) or part not in target:
                    raise DataError(
                        f"data.source.config.target_field: {self.config.target_field!r} not found in "
                        f"{self.config.dataset!r} entries (top-level fields: {', '.join(entry)})"
                    )
                target = target[part]
            text = "" if target is None else str(target)
            if self.config.append_answer:
                text = f"{text.rstrip()}\n#### {entry.get('answer')}"
            rows.append({"id": f"{self.config.dataset}-{self.config.seed}-{index}", "input": entry["question"],
                         "target": text})
        return rows
