"""Rows to examples: ids, duplicates, prompts with braces, splits and subsets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from atgen_core import DataContext, DataSource
from atgen_core.data import PromptTemplate, build_examples, load_data
from atgen_core.errors import DataError
from atgen_core.spec import DataSpec


class Rows(DataSource):
    """In-memory rows."""

    name = "rows"

    def __init__(self, splits: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self._splits = splits

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return list(self._splits)

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        return self._splits[split]


def rows(n: int) -> list[dict[str, Any]]:
    return [{"input": f"question {i}", "target": f"answer {i}"} for i in range(n)]


def test_ids_do_not_depend_on_subset_size_or_row_order() -> None:
    spec_small = DataSpec(test_size=10, pool_size=20)
    spec_big = DataSpec(test_size=10, pool_size=60)
    small = load_data(Rows({"train": rows(100)}), spec_small, 3, DataContext())
    big = load_data(Rows({"train": list(reversed(rows(100)))}), spec_big, 3, DataContext())
    assert {e.id for e in small.test} == {e.id for e in big.test}
    assert {e.id for e in small.pool} < {e.id for e in big.pool}
    by_input = {e.input: e.id for e in big.pool}
    assert all(by_input[e.input] == e.id for e in small.pool)


def test_test_and_pool_are_disjoint_and_seeded() -> None:
    a = load_data(Rows({"train": rows(50)}), DataSpec(test_size=0.2), 1, DataContext())
    b = load_data(Rows({"train": rows(50)}), DataSpec(test_size=0.2), 2, DataContext())
    assert len(a.test) == 10 and len(a.pool) == 40
    assert not {e.id for e in a.test} & {e.id for e in a.pool}
    assert {e.id for e in a.test} != {e.id for e in b.test}


def test_duplicate_inputs_merge_into_multi_reference_examples() -> None:
    data = [{"input": "x", "target": "a"}, {"input": "x", "target": "b"}, {"input": "y", "target": "c"}]
    merged = build_examples(data, DataSpec(), "train")
    assert [(e.input, e.references) for e in merged] == [("x", ("a", "b")), ("y", ("c",))]
    kept = build_examples([*data, {"input": "x", "target": "a"}], DataSpec(duplicates="keep"), "train")
    assert len(kept) == 4 and len({e.id for e in kept}) == 4
    assert kept[3].id == kept[0].id + "-2"


def test_braces_in_data_do_not_break_the_prompt() -> None:
    data = [{"input": "f(x) = {x: 1} and {input}", "target": "t", "topic": "math"}]
    spec = DataSpec(prompt="Topic {topic} {{literal}}:\n{input}")
    example = build_examples(data, spec, "train")[0]
    assert example.prompt == "Topic math {literal}:\nf(x) = {x: 1} and {input}"
    with pytest.raises(DataError, match="unmatched"):
        PromptTemplate("oops {input")


def test_missing_column_names_the_column_and_the_available_ones() -> None:
    with pytest.raises(DataError, match=r"column 'question' not found.*available columns: input, target"):
        build_examples(rows(3), DataSpec(input_column="question"), "train")
    with pytest.raises(DataError, match=r"data\.prompt: column 'topic'"):
        build_examples(rows(3), DataSpec(prompt="{topic}: {input}"), "train")


def test_empty_inputs_duplicate_ids_and_test_rows_without_reference_are_errors() -> None:
    with pytest.raises(DataError, match="row 1: empty value in input column"):
        build_examples([{"input": "a", "target": "b"}, {"input": " ", "target": "c"}], DataSpec(), "train")
    with pytest.raises(DataError, match=r"id 'k' .* repeats"):
        rows_ = [{"input": "a", "k": "k"}, {"input": "b", "k": "k"}]
        build_examples(rows_, DataSpec(id_column="k", target_column=None), "train")
    splits = {"train": rows(5), "test": [{"input": "q", "target": ""}]}
    with pytest.raises(DataError, match="has no reference"):
        load_data(Rows(splits), DataSpec(test_split="test"), 0, DataContext())


def test_oversized_inputs_follow_the_configured_rule() -> None:
    data = [{"input": "x" * 50, "target": "a"}, {"input": "short", "target": "b"}]
    with pytest.raises(DataError, match="max_input_chars=10"):
        build_examples(data, DataSpec(max_input_chars=10), "train")
    assert [e.input for e in build_examples(data, DataSpec(max_input_chars=10, on_oversized="drop"), "t")] == ["short"]
    truncated = build_examples(data, DataSpec(max_input_chars=10, on_oversized="truncate"), "t")
    assert truncated[0].input == "x" * 10


def test_pool_rows_without_target_are_kept_for_real_annotators() -> None:
    data = [{"input": "a", "target": None}, {"input": "b", "target": "x"}]
    examples = build_examples(data, DataSpec(), "train")
    assert examples[0].references == () and examples[0].target is None


def test_dotted_columns_reach_into_nested_values() -> None:
    data = [{"question": "q1", "answer": {"value": "Paris", "aliases": ["Paris", "paris, france"]}}]
    spec = DataSpec(input_column="question", target_column="answer.value", references_column="answer.aliases")
    example = build_examples(data, spec, "train")[0]
    assert example.references == ("Paris", "paris, france") and example.target == "Paris"


def test_merge_test_keeps_pool_rows_apart_and_holds_test_inputs_out_of_the_pool() -> None:
    data = [{"input": f"mr {i % 10}", "target": f"text {i}"} for i in range(50)]  # 10 inputs, 5 rows each
    loaded = load_data(Rows({"train": data}), DataSpec(test_size=3, duplicates="merge-test"), 4, DataContext())
    assert len(loaded.test) == 3
    assert all(len(e.references) == 5 for e in loaded.test)  # merged: every reference of the input
    test_inputs = {e.input for e in loaded.test}
    assert len(loaded.pool) == 35  # the 7 other inputs x 5 rows, one example each
    assert not test_inputs & {e.input for e in loaded.pool}
    assert all(len(e.references) == 1 for e in loaded.pool)
    assert len({e.id for e in loaded.pool}) == 35
    with pytest.raises(DataError, match="leave no pool"):
        load_data(Rows({"train": data}), DataSpec(test_size=10, duplicates="merge-test"), 4, DataContext())


def test_a_missing_column_hint_names_the_usual_column_to_set() -> None:
    from atgen_core.data import column_issues

    spec = DataSpec.model_validate({})
    hints = {i.path: i.hint for i in column_issues({"Document", "summary", "id"}, spec, "train")}
    columns = "available columns: Document, id, summary"
    assert hints["data.input_column"] == f'set "input_column": "Document" in data; {columns}'
    assert hints["data.target_column"] == f'set "target_column": "summary" in data; {columns}'
    # A near name wins over a usual one; with neither, only the columns.
    assert column_issues({"inputs", "summary"}, spec, "train")[0].hint == (
        "did you mean 'inputs'? available columns: inputs, summary")
    assert column_issues({"a", "b"}, spec, "train")[0].hint == "available columns: a, b"


def test_a_prompt_without_any_field_is_refused_before_the_data_is_read() -> None:
    from atgen_core.data import check_data

    issues, data = check_data(Rows({"train": rows(30)}), DataSpec(prompt="Summarise the document.", test_size=5), 1,
                              DataContext())
    assert data is None and [i.path for i in issues] == ["data.prompt"]
    assert issues[0].hint == "put {input} where the input goes, e.g. 'Summarise the document. {input}'"
    issues, data = check_data(Rows({"train": rows(30)}), DataSpec(prompt="Q: {input}", test_size=5), 1, DataContext())
    assert issues == [] and data is not None
