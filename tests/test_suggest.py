"""Nearest-name suggestions for mistyped paths (spec files, run directories)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from atgen_core.suggest import nearest_path, nearest_path_hint


def test_the_nearest_existing_name_of_the_folder_is_suggested(tmp_path: Path) -> None:
    (tmp_path / "quickstart.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert nearest_path(tmp_path / "quickstar.json") == tmp_path / "quickstart.json"
    assert nearest_path_hint(tmp_path / "quickstart.jsn", pattern="*.json") == (
        f"did you mean {str(tmp_path / 'quickstart.json')!r}?")
    assert nearest_path(tmp_path / "notes.txt2", pattern="*.json") is None
    assert nearest_path(tmp_path / "nowhere" / "quickstart.json") is None
    assert nearest_path(tmp_path / "zzzz.json") is None


def test_cli_errors_for_a_mistyped_spec_or_run_directory_name_the_near_one(tmp_path: Path) -> None:
    (tmp_path / "quickstart.json").write_text("{}")
    (tmp_path / "runs" / "quickstart").mkdir(parents=True)
    (tmp_path / "runs" / "quickstart" / "atgen.sqlite").write_bytes(b"")
    (tmp_path / "runs" / "quickstart-old").mkdir()  # no store: not suggested as a run directory

    def atgen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "atgen_core", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)

    proc = atgen("validate", "quickstar.json")
    assert proc.returncode == 2 and "did you mean 'quickstart.json'?" in proc.stderr, proc.stderr
    proc = atgen("status", "runs/quickstrt")
    assert proc.returncode == 2 and "did you mean 'runs/quickstart'?" in proc.stderr, proc.stderr
