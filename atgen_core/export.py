"""Export a run's labelled set (and optionally its pool) as a Hugging Face ``datasets`` folder, JSONL or Parquet.

The rows come from the run store alone, so an export needs neither the plugins nor the spec's
components, and works on a run that is still going (SQLite WAL readers never block the writer).
``datasets`` and ``pyarrow`` are imported only when a format needs them.

Labelled rows (one per label, in labelling order): ``id``, ``input``, ``prompt``, ``target`` (the label
the annotator gave), ``dataset_target`` (the target the data source had, if any), ``references``,
``annotator``, ``cost``, ``seconds``, ``round``, ``strategy`` and ``rank`` (how the item was selected),
``created`` (unix time the label was stored), ``fields`` and ``meta`` (JSON text).

Pool rows (one per pool example, in pool order): ``id``, ``input``, ``prompt``, ``dataset_target``,
``references``, ``fields``, ``selected_round``, ``rank`` and ``strategy`` (null when never selected),
``status`` (``ok``, ``failed``, ``skipped``, ``rejected`` or null) and ``label`` (null when unlabelled).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from atgen_core.errors import AtgenError
from atgen_core.store import RunStore

__all__ = ["FORMATS", "ExportError", "ExportResult", "export_run", "labelled_rows", "pool_rows", "push_to_hub"]

Format = Literal["datasets", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("datasets", "jsonl", "parquet")

_STRING = "string"
_LABELLED_COLUMNS: dict[str, str] = {
    "id": _STRING, "input": _STRING, "prompt": _STRING, "target": _STRING, "dataset_target": _STRING,
    "references": "list", "annotator": _STRING, "cost": "float64", "seconds": "float64", "round": "int64",
    "strategy": _STRING, "rank": "int64", "created": "float64", "fields": _STRING, "meta": _STRING,
}
_POOL_COLUMNS: dict[str, str] = {
    "id": _STRING, "input": _STRING, "prompt": _STRING, "dataset_target": _STRING, "references": "list",
    "fields": _STRING, "selected_round": "int64", "rank": "int64", "strategy": _STRING, "status": _STRING,
    "label": _STRING,
}


class ExportError(AtgenError):
    """An export that cannot be written (missing library, existing output, hub unreachable, ...)."""


@dataclass(frozen=True)
class ExportResult:
    """What ``export_run`` wrote: the output path, and the row count per split."""

    path: Path
    format: str
    rows: Mapping[str, int]


def _selections(store: RunStore) -> dict[str, tuple[int, int, str]]:
    """id -> (round, rank, strategy) of the selection that picked it."""
    rows = store._execute("SELECT id, round, rank, strategy FROM selections ORDER BY round, rank")
    return {r[0]: (int(r[1]), int(r[2]), str(r[3])) for r in rows}


def labelled_rows(store: RunStore) -> list[dict[str, Any]]:
    """One row per stored label, in labelling order (see the module docstring for the columns)."""
    selected = _selections(store)
    rows = store._execute(
        "SELECT l.id, l.round, l.text, l.annotator, l.cost, l.seconds, l.created, l.meta, "
        "e.input, e.prompt, e.target, e.refs, e.fields "
        "FROM labels l LEFT JOIN examples e ON e.id = l.id ORDER BY l.round, l.created, l.id"
    )
    out: list[dict[str, Any]] = []
    for id_, round_, text, annotator, cost, seconds, created, meta, input_, prompt, gold, refs, fields in rows:
        _, rank, strategy = selected.get(id_, (round_, None, None))
        out.append({
            "id": id_, "input": input_, "prompt": prompt, "target": text, "dataset_target": gold,
            "references": json.loads(refs) if refs else [], "annotator": annotator, "cost": float(cost),
            "seconds": float(seconds), "round": int(round_), "strategy": strategy, "rank": rank,
            "created": float(created), "fields": fields or "{}", "meta": meta or "{}",
        })
    return out


def pool_rows(store: RunStore) -> list[dict[str, Any]]:
    """One row per pool example, with the round that selected it and its annotation outcome."""
    selected = _selections(store)
    latest: dict[str, tuple[str, str]] = {}
    for attempt in store.attempts():  # ordered by time: the last attempt of an id wins
        latest[attempt["id"]] = (attempt["status"], attempt["text"])
    labels = {r.id: r.text for r in store.labels()}
    out: list[dict[str, Any]] = []
    for e in store.load_examples("pool"):
        round_, rank, strategy = selected.get(e.id, (None, None, None))
        status = latest.get(e.id, (None, None))[0]
        out.append({
            "id": e.id, "input": e.input, "prompt": e.prompt, "dataset_target": e.target,
            "references": list(e.references), "fields": json.dumps(dict(e.fields), ensure_ascii=False, default=str),
            "selected_round": round_, "rank": rank, "strategy": strategy, "status": status,
            "label": labels.get(e.id),
        })
    return out


def _import(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(
            f"this export needs the `{module.split('.')[0]}` package, which is not installed; "
            f"install it with `pip install 'atgen-core[{extra}]'`"
        ) from None


def _features(columns: Mapping[str, str]) -> Any:
    datasets = _import("datasets", "export")
    spec = {
        name: datasets.Sequence(datasets.Value("string")) if kind == "list" else datasets.Value(kind)
        for name, kind in columns.items()
    }
    return datasets.Features(spec)


def _dataset(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> Any:
    datasets = _import("datasets", "export")
    features = _features(columns)
    if not rows:
        return datasets.Dataset.from_dict({name: [] for name in columns}, features=features)
    return datasets.Dataset.from_list([dict(r) for r in rows], features=features)


def _arrow_table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> Any:
    pa = _import("pyarrow", "export")
    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "list": pa.list_(pa.string())}
    schema = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _check_output(out: Path, run_dir: Path, overwrite: bool) -> None:
    resolved, run = out.resolve(), run_dir.resolve()
    if resolved == run or run.is_relative_to(resolved):
        raise ExportError(f"export output {out} would hold the run directory {run_dir}; choose another -o")
    if out.exists() and not out.is_dir():
        raise ExportError(f"export output {out} exists and is a file; choose a directory with -o")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"export output {out} exists and is not empty; choose another -o or pass --overwrite")


def export_run(
    run_dir: Path,
    fmt: str = "datasets",
    out: Path | None = None,
    *,
    include_pool: bool = False,
    overwrite: bool = False,
) -> ExportResult:
    """Write the labelled set of ``run_dir`` (and its pool with ``include_pool``) to the directory ``out``.

    ``datasets``: a folder for ``datasets.load_from_disk``: a ``Dataset`` of the labelled rows, or with
    the pool a ``DatasetDict`` with splits ``labelled`` and ``pool``. ``jsonl`` / ``parquet``:
    ``labelled.jsonl`` / ``labelled.parquet`` (and ``pool.*``) in ``out``. The default ``out`` is
    ``RUN_DIR/export/FORMAT``.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    splits = _rows(run_dir, include_pool)
    out = Path(out) if out is not None else run_dir / "export" / fmt
    _check_output(out, run_dir, overwrite)
    columns = {"labelled": _LABELLED_COLUMNS, "pool": _POOL_COLUMNS}
    if fmt == "datasets":
        data = _as_datasets(splits, columns)
        if out.exists():
            import shutil

            shutil.rmtree(out)
        data.save_to_disk(str(out))
    else:
        tables = {name: _arrow_table(rows, columns[name]) for name, rows in splits.items()} if fmt == "parquet" else {}
        out.mkdir(parents=True, exist_ok=True)
        for name, rows in splits.items():
            if fmt == "jsonl":
                _write_jsonl(out / f"{name}.jsonl", rows)
            else:
                pq = _import("pyarrow.parquet", "export")
                pq.write_table(tables[name], str(out / f"{name}.parquet"))
    return ExportResult(out, fmt, {name: len(rows) for name, rows in splits.items()})


def _as_datasets(splits: Mapping[str, Sequence[Mapping[str, Any]]], columns: Mapping[str, Mapping[str, str]]) -> Any:
    """A ``Dataset`` (labelled only) or a ``DatasetDict`` (labelled and pool)."""
    built = {name: _dataset(rows, columns[name]) for name, rows in splits.items()}
    if len(built) == 1:
        return built["labelled"]
    datasets = _import("datasets", "export")
    return datasets.DatasetDict(built)


def _rows(run_dir: Path, include_pool: bool) -> dict[str, list[dict[str, Any]]]:
    store = _open(run_dir)
    try:
        splits = {"labelled": labelled_rows(store)}
        if include_pool:
            splits["pool"] = pool_rows(store)
    finally:
        store.close()
    return splits


def _open(run_dir: Path) -> RunStore:
    from atgen_core.store import DB_NAME

    if not (run_dir / DB_NAME).exists():
        raise ExportError(f"{run_dir} is not an atgen run directory (no {DB_NAME}); pass the run's output_dir")
    return RunStore(run_dir, create=False)


def push_to_hub(run_dir: Path, repo_id: str, *, include_pool: bool = False, private: bool = True) -> str:
    """Push the labelled set (and pool) of ``run_dir`` to the Hugging Face Hub dataset repo ``repo_id``.

    Needs network access and a token (``HF_TOKEN`` or ``huggingface-cli login``). Raises ``ExportError``
    when the hub is unreachable, offline mode is on, or the push is refused. Returns the repo id.
    """
    _import("datasets", "export")
    hub = _import("huggingface_hub", "export")
    if getattr(hub.constants, "HF_HUB_OFFLINE", False) or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise ExportError(
            f"cannot push to the hub repo {repo_id!r}: offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE); "
            "unset it, or export to a folder with `atgen export RUN_DIR --format datasets` and upload it later"
        )
    splits = _rows(Path(run_dir), include_pool)
    datasets = _import("datasets", "export")
    columns = {"labelled": _LABELLED_COLUMNS, "pool": _POOL_COLUMNS}
    built = datasets.DatasetDict({name: _dataset(rows, columns[name]) for name, rows in splits.items()})
    try:
        built.push_to_hub(repo_id, private=private)
    except Exception as exc:  # network, auth and hub errors all end the same way for the user
        raise ExportError(
            f"cannot push to the hub repo {repo_id!r}: {type(exc).__name__}: {exc}; check the network and the "
            "token (HF_TOKEN or `huggingface-cli login`), or export to a folder with --format datasets"
        ) from None
    return repo_id
