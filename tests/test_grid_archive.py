"""scripts/grid_archive.py: finished grid cells travel between machines; nothing else does, nothing is overwritten."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

from atgen_core.bench.status import cell_status

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "grid_archive.py"


@pytest.fixture(scope="module")
def grid_archive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grid_archive", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _store(run_dir: Path, status: str, labels: list[int]) -> None:
    """A store with the two tables the cell status reads, kept in WAL mode like a live run's."""
    run_dir.mkdir(parents=True)
    conn = sqlite3.connect(run_dir / "atgen.sqlite")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("CREATE TABLE metrics (round INTEGER, n_labels INTEGER, name TEXT, value REAL)")
    conn.execute("INSERT INTO meta VALUES ('status', ?)", (status,))
    conn.executemany("INSERT INTO metrics VALUES (?, ?, 'rougeL', 0.5)", [(r, n) for r, n in enumerate(labels)])
    conn.commit()
    conn.close()


def test_only_finished_cells_are_archived_and_restored(grid_archive: ModuleType, tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    _store(bench / "random" / "seed-1", "finished: iterations done", [16, 32])
    _store(bench / "huds" / "seed-1", "running", [16])
    (bench / "random" / "seed-1" / "adapters").mkdir()
    (bench / "benchmark.json").write_text('{"name": "g"}')
    archive = tmp_path / "keep" / "finished.tar.gz"

    assert grid_archive.save(bench, archive) == 1

    elsewhere = tmp_path / "elsewhere"
    assert grid_archive.restore(archive, elsewhere) == 1
    status = cell_status(elsewhere / "random" / "seed-1")
    assert (status.state, status.rounds_done, status.labels) == ("finished", 2, 32)
    assert not (elsewhere / "huds").exists()
    assert not (elsewhere / "random" / "seed-1" / "adapters").exists()
    assert (elsewhere / "benchmark.json").read_text() == '{"name": "g"}'


def test_save_merges_with_the_archive_and_restore_never_overwrites(grid_archive: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "machine-1", tmp_path / "machine-2"
    _store(first / "random" / "seed-1", "finished", [16])
    archive = tmp_path / "finished.tar.gz"
    grid_archive.save(first, archive)
    _store(second / "random" / "seed-2", "finished", [16, 32, 64])
    _store(second / "random" / "seed-1", "running", [16])

    assert grid_archive.save(second, archive) == 2  # seed-1 from the first machine is kept
    assert grid_archive.restore(archive, second) == 0  # seed-1's partial store there is not replaced
    assert cell_status(second / "random" / "seed-1").state == "partial"
    third = tmp_path / "machine-3"
    assert grid_archive.restore(archive, third) == 2
    assert cell_status(third / "random" / "seed-2").labels == 64


def test_an_xz_name_gets_xz_and_both_formats_restore(grid_archive: ModuleType, tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    _store(bench / "random" / "seed-1", "finished", [16])
    for name, magic in (("finished.tar.xz", b"\xfd7zXZ\x00"), ("finished.tar.gz", b"\x1f\x8b")):
        archive = tmp_path / name
        assert grid_archive.save(bench, archive) == 1
        assert archive.read_bytes()[: len(magic)] == magic
        assert grid_archive.restore(archive, tmp_path / f"from-{name}") == 1
