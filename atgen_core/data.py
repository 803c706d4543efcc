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

import difflib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atgen_core.components import DataContext, DataSource
from atgen_core.errors import DataError, SpecIssue, issue_from_message
from atgen_core.spec import DataSpec
from atgen_core.templates import PromptTemplate
from atgen_core.types import Example

__all__ = [
    "LoadedData",
    "PromptTemplate",
    "build_examples",
    "check_data",
    "column_issues",
    "load_data",
    "seeded_subset",
]


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


_COLUMN_FIELDS = (
    ("input_column", "data.input_column"),
    ("target_column", "data.target_column"),
    ("references_column", "data.references_column"),
    ("id_column", "data.id_column"),
)


# Column names that usually hold the input or the target, for the "set input_column" hint.
_USUAL_NAMES = {
    "input_column": ("document", "text", "source", "article", "question", "prompt", "dialogue", "context",
                     "instruction", "src", "query", "meaning_representation"),
    "target_column": ("summary", "output", "answer", "response", "completion", "reference", "highlights",
                      "label", "solution", "tgt", "human_reference"),
}


def _column_hint(attr: str, column: str, columns: set[str], available: str) -> str:
    close = difflib.get_close_matches(column, sorted(columns), n=1)
    if close:
        return f"did you mean {close[0]!r}? available columns: {available}"
    lowered = {c.lower(): c for c in columns}
    usual = next((lowered[name] for name in _USUAL_NAMES.get(attr, ()) if name in lowered), None)
    if usual is not None:
        return f'set "{attr}": "{usual}" in data; available columns: {available}'
    return f"available columns: {available}"


def column_issues(columns: set[str], spec: DataSpec, split: str) -> list[SpecIssue]:
    """Every column the spec names (input, target, references, id, prompt fields) missing from ``columns``."""
    template = PromptTemplate(spec.prompt)
    available = ", ".join(sorted(columns)) or "none"
    issues: list[SpecIssue] = []
    named: set[str] = set()
    for attr, path in _COLUMN_FIELDS:
        column = getattr(spec, attr)
        if column and not _has(columns, column):
            named.add(column)
            hint = _column_hint(attr, column, columns, available)
            issues.append(SpecIssue(path, f"column {column!r} not found in split {split!r}", hint=hint))
    for field in dict.fromkeys(template.fields):
        if field == "input" or field in named or _has(columns, field):
            continue
        close = difflib.get_close_matches(field, sorted({*columns, "input"}), n=1)
        hint = (f"did you mean {{{close[0]}}}? " if close else "") + f"available columns: {available}"
        issues.append(SpecIssue("data.prompt", f"column {field!r} (a prompt field) not found in split {split!r}",
                                hint=hint))
    return issues


def _input_text(row: Mapping[str, Any], spec: DataSpec, split: str, position: int) -> str | None:
    """The row's input, checked and handled by ``on_oversized`` (``None``: the row is dropped)."""
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
            return None
        text = text[: spec.max_input_chars]
    return text


def _target(row: Mapping[str, Any], spec: DataSpec) -> str:
    """The raw text of the row's target column (empty without one)."""
    return _text(_get(row, spec.target_column)) if spec.target_column else ""


def _references(row: Mapping[str, Any], spec: DataSpec) -> list[str]:
    """The row's accepted references, the target first, blanks left out."""
    target = _target(row, spec)
    refs: list[str] = []
    if spec.references_column:
        raw_refs = _get(row, spec.references_column)
        if isinstance(raw_refs, str):
            refs = [raw_refs]
        elif raw_refs is not None:
            refs = [_text(r) for r in raw_refs]
    if target and target not in refs:
        refs.insert(0, target)
    return [r for r in refs if r.strip()]


class _Examples:
    """The examples of one split, built row by row under the id and duplicate rules of the module."""

    def __init__(self, spec: DataSpec, split: str) -> None:
        self.spec, self.split = spec, split
        self.examples: list[Example] = []
        self.seen_ids: dict[str, int] = {}
        self.merged: dict[str, int] = {}

    def _column_id(self, row: Mapping[str, Any], position: int) -> str:
        column = self.spec.id_column
        assert column is not None
        example_id = _text(_get(row, column)).strip()
        if not example_id:
            raise DataError(f"split {self.split!r}, row {position}: empty id in column {column!r}")
        if example_id in self.seen_ids:
            raise DataError(
                f"split {self.split!r}: id {example_id!r} in column {column!r} repeats "
                f"(rows {self.seen_ids[example_id]} and {position}); ids must be unique"
            )
        self.seen_ids[example_id] = position
        return example_id

    def _merge(self, example_id: str, refs: list[str]) -> bool:
        """Merge the references into the example of the same content; False when there is none yet."""
        if example_id not in self.merged:
            self.merged[example_id] = len(self.examples)
            return False
        index = self.merged[example_id]
        old = self.examples[index]
        self.examples[index] = Example(
            id=old.id, input=old.input, prompt=old.prompt, target=old.target or (refs[0] if refs else None),
            references=tuple(dict.fromkeys([*old.references, *refs])), fields=old.fields,
        )
        return True

    def add(self, row: Mapping[str, Any], position: int, text: str, prompt: str, content: list[str]) -> None:
        """Add the example of ``row`` (or merge it into the one with the same content)."""
        spec, refs = self.spec, _references(row, self.spec)
        if spec.id_column:
            example_id = self._column_id(row, position)
        elif spec.duplicates == "merge" or (spec.duplicates == "merge-test" and self.split == "test"):
            example_id = _content_id(*content)
            if self._merge(example_id, refs):
                return
        else:
            base = _content_id(*content, _target(row, spec))
            count = self.seen_ids.get(base, 0) + 1
            self.seen_ids[base] = count
            example_id = base if count == 1 else f"{base}-{count}"
        fields = {k: v for k, v in row.items() if k not in (spec.input_column,)}
        self.examples.append(
            Example(id=example_id, input=text, prompt=prompt, target=refs[0] if refs else None,
                    references=tuple(refs), fields=fields)
        )


def build_examples(rows: Iterable[Mapping[str, Any]], spec: DataSpec, split: str) -> list[Example]:
    """Examples of one split, following the module's id, duplicate and reference rules."""
    template = PromptTemplate(spec.prompt)
    rows = list(rows)
    if not rows:
        raise DataError(f"split {split!r} is empty")
    missing = column_issues(set(rows[0]), spec, split)
    if missing:
        raise DataError("; ".join(issue.render() for issue in missing))
    out = _Examples(spec, split)
    for position, row in enumerate(rows):
        text = _input_text(row, spec, split, position)
        if text is None:
            continue
        prompt = template.render({**row, spec.input_column: text, "input": text})
        content = [text, *(_text(row.get(f)) for f in template.fields if f not in (spec.input_column, "input"))]
        out.add(row, position, text, prompt, content)
    return out.examples


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


def load_data(
    source: DataSource, spec: DataSpec, seed: int, ctx: DataContext,
    rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> LoadedData:
    """Load the pool and the test set as the spec describes (``rows``: splits already read)."""
    given = dict(rows or {})
    splits = list(source.splits(ctx)) if not given else [*given]

    def read(split: str, path: str) -> list[Mapping[str, Any]]:
        if split in given:
            return list(given[split])
        if split not in splits:
            raise DataError(f"{path}: split {split!r} not found; available: {', '.join(splits)}")
        return list(source.load(split, ctx))

    train_rows = read(spec.train_split, "data.train_split")
    train = build_examples(train_rows, spec, spec.train_split)
    if spec.duplicates == "merge-test" and spec.test_split is None and not spec.id_column:
        return _merged_test_split(train_rows, train, spec, seed)
    if spec.test_split is not None:
        test = build_examples(read(spec.test_split, "data.test_split"), spec, spec.test_split)
        test_ids = {e.id for e in test}
        pool = [e for e in train if e.id not in test_ids]
    else:
        if spec.test_size is None:
            raise DataError("data.test_size: no test set: set data.test_split or data.test_size")
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


def check_data(
    source: DataSource, spec: DataSpec, seed: int, ctx: DataContext
) -> tuple[list[SpecIssue], LoadedData | None]:
    """Every problem of the data as configured (splits, columns, prompt fields, rows), or the loaded data.

    Reads each split once; the result is what :func:`load_data` would return, so a run uses it as is.
    """
    try:
        template = PromptTemplate(spec.prompt)
    except DataError as exc:
        return [issue_from_message(str(exc), "data.prompt")], None
    if not template.fields:
        return [SpecIssue("data.prompt", "has no {field}: every example would get this same prompt and the model "
                          "would never see its input", value=spec.prompt,
                          hint=f"put {{input}} where the input goes, e.g. {spec.prompt.rstrip() + ' {input}'!r}")], None
    try:
        splits = list(source.splits(ctx))
    except DataError as exc:
        return [issue_from_message(str(exc), "data.source")], None
    issues: list[SpecIssue] = []
    rows: dict[str, list[Mapping[str, Any]]] = {}
    wanted = [("data.train_split", spec.train_split)]
    if spec.test_split is not None:
        wanted.append(("data.test_split", spec.test_split))
    for path, split in wanted:
        if split not in splits:
            issues.append(SpecIssue(path, "split not found", value=split, hint=f"available: {', '.join(splits)}"))
            continue
        try:
            rows[split] = list(source.load(split, ctx))
        except DataError as exc:
            issues.append(issue_from_message(str(exc), "data.source"))
    seen: set[tuple[str, str]] = set()
    for split, split_rows in rows.items():
        if not split_rows:
            issues.append(SpecIssue("data.source", f"split {split!r} has no rows (is its file empty?)"))
            continue
        for issue in column_issues(set(split_rows[0]), spec, split):
            key = (issue.path, issue.message.split(" in split ")[0])
            if key not in seen:
                seen.add(key)
                issues.append(issue)
    if issues:
        return issues, None
    try:
        return [], load_data(source, spec, seed, ctx, rows=rows)
    except DataError as exc:
        return [issue_from_message(str(exc), "data")], None
