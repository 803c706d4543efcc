"""Turning a data source's rows into examples: ids, prompts, references, pool/test split, subsets.

Rules (documented in docs/spec.md):
- Ids come from ``id_column`` when given (must be unique and non-empty), otherwise from the content:
  the first 16 hex digits of SHA-256 over the input and the other fields the prompt template uses
  (and the target when ``duplicates == 'keep'``), with
  ``-2``, ``-3``, ... appended to repeated rows. Ids are assigned on the *full* split before any
  subset is drawn, so the same row keeps its id whatever the subset size.
- ``duplicates == 'merge'`` (default) turns rows that share an input into one example whose
  references are all their targets (E2E style multi-reference data).
- Test rows must have at least one non-empty reference; pool rows may have none (an oracle then
  reports them as failed, other annotators label them).
- Prompt templates fill ``{column}`` fields from the row (``{input}`` is always the input text);
  ``{{``/``}}`` are literal braces; values are
  inserted verbatim, so braces inside the data never break rendering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atgen_core.components import DataContext, DataSource
from atgen_core.errors import DataError
from atgen_core.spec import DataSpec
from atgen_core.templates import PromptTemplate
from atgen_core.types import Example

__all__ = ["LoadedData", "PromptTemplate", "build_examples", "load_data", "seeded_subset"]


@dataclass(frozen=True)
class LoadedData:
    """The pool (unlabelled candidates) and the test set, as examples in a stable order."""

    pool: tuple[Example, ...]
    test: tuple[Example, ...]


def _content_id(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def _get(row: Mapping[str, Any], column: str) -> Any:
    """A column value; ``a.b`` reaches into a dict-valued column ``a`` when no column ``a.b`` exists."""
    if column in row or "." not in column:
        return row.get(column)
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _has(columns: set[str], column: str) -> bool:
    return column in columns or ("." in column and column.split(".")[0] in columns)


def build_examples(rows: Iterable[Mapping[str, Any]], spec: DataSpec, split: str) -> list[Example]:
    """Examples of one split, following the module's id, duplicate and reference rules."""
    template = PromptTemplate(spec.prompt)
    rows = list(rows)
    if not rows:
        raise DataError(f"split {split!r} is empty")
    columns = set(rows[0])
    needed = [spec.input_column, *(f for f in template.fields if f != "input")]
    for optional in (spec.target_column, spec.references_column, spec.id_column):
        if optional:
            needed.append(optional)
    for column in dict.fromkeys(needed):
        if not _has(columns, column):
            close = sorted(columns)
            where = "data.prompt" if column in template.fields and column != spec.input_column else "data"
            raise DataError(
                f"{where}: column {column!r} not found in split {split!r}; available columns: {', '.join(close)}"
            )

    examples: list[Example] = []
    seen_ids: dict[str, int] = {}
    merged: dict[str, int] = {}
    for position, row in enumerate(rows):
        text = _text(_get(row, spec.input_column))
        if not text.strip():
            raise DataError(f"split {split!r}, row {position}: empty value in input column {spec.input_column!r}")
        if spec.max_input_chars is not None and len(text) > spec.max_input_chars:
            if spec.on_oversized == "error":
                raise DataError(
                    f"split {split!r}, row {position}: input has {len(text)} characters, more than "
                    f"data.max_input_chars={spec.max_input_chars}; set data.on_oversized to 'drop' or 'truncate'"
                )
            if spec.on_oversized == "drop":
                continue
            text = text[: spec.max_input_chars]
        target = _text(_get(row, spec.target_column)) if spec.target_column else ""
        refs: list[str] = []
        if spec.references_column:
            raw_refs = _get(row, spec.references_column)
            if isinstance(raw_refs, str):
                refs = [raw_refs]
            elif raw_refs is not None:
                refs = [_text(r) for r in raw_refs]
        if target and target not in refs:
            refs.insert(0, target)
        refs = [r for r in refs if r.strip()]
        render_row = dict(row)
        render_row[spec.input_column] = text
        render_row["input"] = text
        prompt = template.render(render_row)
        fields = {k: v for k, v in row.items() if k not in (spec.input_column,)}
        content = [text, *(_text(row.get(f)) for f in template.fields if f not in (spec.input_column, "input"))]

        if spec.id_column:
            example_id = _text(_get(row, spec.id_column)).strip()
            if not example_id:
                raise DataError(f"split {split!r}, row {position}: empty id in column {spec.id_column!r}")
            if example_id in seen_ids:
                raise DataError(
                    f"split {split!r}: id {example_id!r} in column {spec.id_column!r} repeats "
                    f"(rows {seen_ids[example_id]} and {position}); ids must be unique"
                )
            seen_ids[example_id] = position
        elif spec.duplicates == "merge" or (spec.duplicates == "merge-test" and split == "test"):
            example_id = _content_id(*content)
            if example_id in merged:
                index = merged[example_id]
                old = examples[index]
                new_refs = tuple(dict.fromkeys([*old.references, *refs]))
                examples[index] = Example(
                    id=old.id, input=old.input, prompt=old.prompt, target=old.target or (refs[0] if refs else None),
                    references=new_refs, fields=old.fields,
                )
                continue
            merged[example_id] = len(examples)
        else:
            base = _content_id(*content, target)
            count = seen_ids.get(base, 0) + 1
            seen_ids[base] = count
            example_id = base if count == 1 else f"{base}-{count}"
        examples.append(
            Example(
                id=example_id,
                input=text,
                prompt=prompt,
                target=refs[0] if refs else None,
                references=tuple(refs),
                fields=fields,
            )
        )
    return examples


def seeded_subset(examples: Sequence[Example], size: int | None, seed: int, salt: str) -> list[Example]:
    """A seeded random subset that depends only on the ids (not on row order), kept in input order."""
    if size is None or size >= len(examples):
        return list(examples)
    keys = sorted(examples, key=lambda e: hashlib.sha256(f"{seed}:{salt}:{e.id}".encode()).hexdigest())
    chosen = {e.id for e in keys[:size]}
    return [e for e in examples if e.id in chosen]


def _merged_test_split(
    rows: Sequence[Mapping[str, Any]], train: list[Example], spec: DataSpec, seed: int
) -> LoadedData:
    """duplicates == 'merge-test': a test set of merged inputs, a pool of single rows whose input is not in it."""
    merged = build_examples(rows, spec, "test")
    assert spec.test_size is not None
    count = int(spec.test_size) if spec.test_size >= 1 else max(1, round(spec.test_size * len(merged)))
    if count >= len(merged):
        raise DataError(f"data.test_size: {count} test inputs leave no pool (the data has {len(merged)} inputs)")
    test = seeded_subset(seeded_subset(merged, count, seed, "test"), spec.test_subset_size, seed, "test-subset")
    held_out = {e.prompt for e in test}
    pool = seeded_subset([e for e in train if e.prompt not in held_out], spec.pool_size, seed, "pool")
    if not pool:
        raise DataError("the pool is empty after splitting and subsetting")
    return LoadedData(pool=tuple(pool), test=tuple(test))


def load_data(source: DataSource, spec: DataSpec, seed: int, ctx: DataContext) -> LoadedData:
    """Load the pool and the test set as the spec describes."""
    splits = list(source.splits(ctx))
    if spec.train_split not in splits:
        raise DataError(f"data.train_split: split {spec.train_split!r} not found; available: {', '.join(splits)}")
    rows = list(source.load(spec.train_split, ctx))
    train = build_examples(rows, spec, spec.train_split)
    if spec.duplicates == "merge-test" and spec.test_split is None and not spec.id_column:
        return _merged_test_split(rows, train, spec, seed)
    if spec.test_split is not None:
        if spec.test_split not in splits:
            raise DataError(f"data.test_split: split {spec.test_split!r} not found; available: {', '.join(splits)}")
        test = build_examples(source.load(spec.test_split, ctx), spec, spec.test_split)
        test_ids = {e.id for e in test}
        pool = [e for e in train if e.id not in test_ids]
    else:
        if spec.test_size is None:
            raise DataError("data: set test_split or test_size to get a test set")
        count = int(spec.test_size) if spec.test_size >= 1 else max(1, round(spec.test_size * len(train)))
        if count >= len(train):
            raise DataError(f"data.test_size: {count} test rows leave no pool (the split has {len(train)} rows)")
        test = seeded_subset(train, count, seed, "test")
        test_ids = {e.id for e in test}
        pool = [e for e in train if e.id not in test_ids]
    test = seeded_subset(test, spec.test_subset_size, seed, "test-subset")
    pool = seeded_subset(pool, spec.pool_size, seed, "pool")
    for example in test:
        if not example.references:
            raise DataError(
                f"test example {example.id!r} has no reference (column {spec.target_column!r}); "
                "every test row needs a non-empty target"
            )
    if not pool:
        raise DataError("the pool is empty after splitting and subsetting")
    return LoadedData(pool=tuple(pool), test=tuple(test))
