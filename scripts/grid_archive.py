"""Carry the finished cells of a benchmark grid from one machine to another, without their adapters.

A reference grid (docs/reference/*/bench.json) takes longer than one working session, and the machine it
ran on may be gone before it finishes. The report reads only each run's store (``atgen.sqlite``), and
``atgen benchmark`` skips a cell whose store says it finished, so the stores of the finished cells are
all that needs to travel:

    python scripts/grid_archive.py save runs/bench-e2e-128 docs/reference/e2e-128/finished-runs.tar.xz
    python scripts/grid_archive.py restore docs/reference/e2e-128/finished-runs.tar.xz runs/bench-e2e-128

``save`` writes a compacted copy of every finished store (``VACUUM INTO``, so the write-ahead log is
folded in and the live file is never touched) plus ``benchmark.json``, merged with the cells already in
the archive. ``restore`` unpacks the stores whose run directory has no store yet and never overwrites one.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tarfile
import tempfile
from pathlib import Path

from atgen_core.bench.status import cell_status

STORE = "atgen.sqlite"


def finished_stores(bench_dir: Path) -> list[Path]:
    """The stores of the cells of ``bench_dir`` that finished (``<strategy>/seed-<n>/atgen.sqlite``)."""
    return sorted(db for db in bench_dir.glob(f"*/seed-*/{STORE}") if cell_status(db.parent).state == "finished")


def _old_members(archive: Path, tmp: Path) -> dict[str, Path]:
    if not archive.exists():
        return {}
    found = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            if member.isfile():
                tar.extract(member, tmp / "old", filter="data")
                found[member.name] = tmp / "old" / member.name
    return found


def save(bench_dir: Path, archive: Path) -> int:
    """Archive the finished stores of ``bench_dir`` (and its benchmark.json); returns the number of cells."""
    with tempfile.TemporaryDirectory(prefix="atgen-archive-") as tmp_name:
        tmp = Path(tmp_name)
        members = _old_members(archive, tmp)
        for db in finished_stores(bench_dir):
            name = db.relative_to(bench_dir).as_posix()
            copy = tmp / "new" / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                conn.execute("VACUUM INTO ?", (str(copy),))
            finally:
                conn.close()
            members[name] = copy
        if (bench_dir / "benchmark.json").exists():
            members["benchmark.json"] = bench_dir / "benchmark.json"
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".tmp")
        # xz with a 64 MB window compresses across files: every store of a grid holds the same pool
        # (E2E: 3.2 MB as .tar.gz, XSum: 6.9 MB; as .tar.xz 10x smaller). Other names get gzip.
        xz = archive.name.endswith(".xz")
        with tarfile.open(partial, "w:xz", preset=9) if xz else tarfile.open(partial, "w:gz") as tar:
            for name in sorted(members):
                tar.add(members[name], arcname=name)
        partial.replace(archive)
    cells = sum(1 for name in members if name.endswith(STORE))
    print(f"{archive}: {cells} finished cell(s), {archive.stat().st_size / 1e6:.1f} MB")
    return cells


def restore(archive: Path, bench_dir: Path) -> int:
    """Unpack the archived stores into ``bench_dir`` where a cell has no store yet; returns how many."""
    restored = 0
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            target = bench_dir / member.name
            if not member.isfile() or target.exists():
                continue
            tar.extract(member, bench_dir, filter="data")
            restored += member.name.endswith(STORE)
    print(f"{bench_dir}: {restored} finished cell(s) restored from {archive}")
    return restored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_save = sub.add_parser("save", help="archive the finished cells of a benchmark directory")
    p_save.add_argument("bench_dir", type=Path)
    p_save.add_argument("archive", type=Path)
    p_restore = sub.add_parser("restore", help="unpack archived cells into a benchmark directory")
    p_restore.add_argument("archive", type=Path)
    p_restore.add_argument("bench_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "save":
        if not args.bench_dir.is_dir():
            parser.error(f"{args.bench_dir}: no such benchmark directory")
        save(args.bench_dir, args.archive)
    else:
        if not args.archive.is_file():
            parser.error(f"{args.archive}: no such archive")
        restore(args.archive, args.bench_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
