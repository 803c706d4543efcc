"""Data sources, the oracle annotator, the random strategy and the embedders of atgen-basics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from atgen_basics.oracle import OracleAnnotator, OracleConfig
from atgen_basics.random_strategy import RandomStrategy
from atgen_basics.sources import (
    FilesConfig,
    FilesSource,
    HubConfig,
    HubSource,
    ReasoningGymConfig,
    ReasoningGymSource,
    read_table,
)

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    DataContext,
    Example,
    ModelSpec,
    PreflightContext,
    SelectionContext,
    network,
)
from atgen_core.errors import DataError
from atgen_core.testing import check_component, make_pool

ROWS = [{"input": f"q{i}", "target": f"a{i}"} for i in range(5)]


def write_all(folder: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = {"jsonl": folder / "d.jsonl", "json": folder / "d.json", "csv": folder / "d.csv",
             "parquet": folder / "d.parquet"}
    paths["jsonl"].write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    paths["json"].write_text(json.dumps(ROWS))
    paths["csv"].write_text("input,target\n" + "".join(f"{r['input']},{r['target']}\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), paths["parquet"])
    return paths


def test_every_file_format_reads_the_same_rows(tmp_path: Path) -> None:
    for fmt, path in write_all(tmp_path).items():
        assert [dict(r) for r in read_table(path)] == ROWS, fmt


def test_saved_datasets_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "saved"))
    assert [dict(r) for r in read_table(tmp_path / "saved")] == ROWS


def test_files_source_resolves_relative_paths_and_env_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_all(tmp_path)
    source = FilesSource(FilesConfig(train="d.jsonl", test="${MY_DATA}/d.csv"))
    monkeypatch.setenv("MY_DATA", str(tmp_path))
    ctx = DataContext(base_dir=tmp_path)
    assert list(source.splits(ctx)) == ["train", "test"]
    assert len(list(source.load("train", ctx))) == 5 and len(list(source.load("test", ctx))) == 5
    monkeypatch.delenv("MY_DATA")
    with pytest.raises(DataError, match="environment variable MY_DATA is not set"):
        source.load("test", ctx)
    with pytest.raises(DataError, match=r"data\.source\.config\.train: .* does not exist"):
        FilesSource(FilesConfig(train="missing.jsonl")).load("train", ctx)


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "a"}\n{"input": \n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_table(path)
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(tmp_path / "x.xlsx")


def test_reasoning_gym_source_generates_rows_offline() -> None:
    pytest.importorskip("reasoning_gym")
    source = ReasoningGymSource(ReasoningGymConfig(dataset="sentence_reordering", size=12, seed=3))
    rows = list(source.load("train", DataContext()))
    assert len(rows) == 12 and rows[0]["input"] and rows[0]["target"]
    again = list(ReasoningGymSource(ReasoningGymConfig(dataset="sentence_reordering", size=12, seed=3))
                 .load("train", DataContext()))
    assert rows == again
    gsm = ReasoningGymSource(ReasoningGymConfig(dataset="gsm_symbolic", size=2, seed=1,
                                                target_field="metadata.answer_cot", append_answer=True))
    target = next(iter(gsm.load("train", DataContext())))["target"]
    assert "\n#### " in target
    with pytest.raises(DataError, match="target_field"):
        list(ReasoningGymSource(ReasoningGymConfig(dataset="sentence_reordering", size=2,
                                                   target_field="nope")).load("train", DataContext()))


def test_oracle_labels_with_gold_fails_without_and_prices_labels() -> None:
    oracle = OracleAnnotator(OracleConfig(price_per_label=0.25))
    items = [AnnotationItem(Example(id="a", input="x", prompt="x", target="gold", references=("gold", "alt"))),
             AnnotationItem(Example(id="b", input="y", prompt="y"))]
    results = {r.id: r for r in oracle.annotate(items, AnnotationContext())}
    assert (results["a"].status, results["a"].text, results["a"].cost) == ("ok", "gold", 0.25)
    assert results["b"].status == "failed" and "no gold" in (results["b"].error or "")
    assert oracle.max_cost(items[0]) == 0.25


def test_random_strategy_is_seeded_and_returns_distinct_pool_ids() -> None:
    import numpy as np

    pool, labelled = make_pool(30)
    pick = [list(RandomStrategy().select(SelectionContext(pool=pool, labelled=labelled, k=7,
                                                          rng=np.random.default_rng(seed)))) for seed in (1, 1, 2)]
    assert pick[0] == pick[1] != pick[2]
    assert len(set(pick[0])) == 7 and set(pick[0]) <= set(pool.ids)
    everything = RandomStrategy().select(SelectionContext(pool=pool, labelled=labelled, k=99,
                                                          rng=np.random.default_rng(0)))
    assert sorted(everything) == sorted(pool.ids)


@pytest.mark.parametrize("cls", [RandomStrategy, OracleAnnotator, FilesSource, ReasoningGymSource])
def test_components_meet_the_contract(cls: type) -> None:
    check_component(cls)


def test_a_hub_dataset_without_network_or_local_copy_is_reported_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(host: str) -> None:
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(network, "_resolve", no_dns)
    source = HubSource(HubConfig(dataset="EdinburghNLP/xsum"))
    env = {"HF_HOME": str(tmp_path)}

    def problems(environ: dict[str, str]) -> list[str]:
        ctx = PreflightContext(path="data.source", model=ModelSpec(path="m"), environ=environ)
        return [f"{p.path}: {p.message}" for p in source.preflight(ctx)]

    assert problems(env) == ["data.source.config.dataset: 'EdinburghNLP/xsum' is not in the local cache and "
                             "huggingface.co cannot be reached (its name does not resolve: Name or service not known)"]
    # Loading fails the same way at once, not after the download library's retries.
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    for name in ("HF_DATASETS_OFFLINE", "HF_ENDPOINT", *network.PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError, match=r"^data.source.config.dataset: 'EdinburghNLP/xsum' is not in the local cache"):
        source.load("train", DataContext(seed=1))
    # Offline mode with a copy in the datasets cache, or any copy: left to `datasets`.
    assert problems({**env, "HF_DATASETS_OFFLINE": "1"}) == []
    (tmp_path / "datasets" / "EdinburghNLP___xsum").mkdir(parents=True)
    assert problems(env) == []


def test_a_semicolon_separated_csv_is_read_by_its_columns(tmp_path: Path) -> None:
    (tmp_path / "semi.csv").write_text("input;target\nthe cat, sat;a cat\nhello;hi\n", encoding="utf-8")
    assert read_table(tmp_path / "semi.csv") == [{"input": "the cat, sat", "target": "a cat"},
                                                 {"input": "hello", "target": "hi"}]
    # A comma in the header keeps ',' even when values hold ';'.
    (tmp_path / "comma.csv").write_text('input,target\n"a;b",c\n', encoding="utf-8")
    assert read_table(tmp_path / "comma.csv") == [{"input": "a;b", "target": "c"}]


def test_a_missing_data_file_suggests_a_near_name_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "docs.jsonl").write_text('{"input": "a", "target": "b"}\n', encoding="utf-8")
    source = FilesSource(FilesConfig(train="doc.jsonl", test="elsewhere.csv"))
    ctx = PreflightContext(path="data.source", model=ModelSpec(path="m"), base_dir=tmp_path)
    hints = {p.path: p.hint for p in source.preflight(ctx)}
    assert hints["data.source.config.train"] is not None
    assert hints["data.source.config.train"].startswith(f"did you mean {str(tmp_path / 'docs.jsonl')!r}?")
    assert "did you mean" not in (hints["data.source.config.test"] or "")
