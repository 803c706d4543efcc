"""Every shell snippet of README.md and docs/**/*.md (```bash / ```console / ```sh) is executed, or
checked, by this test with the installed ``atgen``, in a scratch folder that holds what the snippets
name: ``my-spec.json``, ``bench.json``, a small finished run ``runs/my-experiment`` and a small
benchmark ``runs/bench-e2e`` (made by the test with the core's fake components), and copies of the
repository's ``examples/``, ``docs/`` and ``scripts/`` (so no snippet can write into the repository).
Placeholders are filled: ``/path/to/atgen`` is that scratch folder, ``/path/to/shared/data`` is
``$ATGEN_SHARED_DATA`` (those snippets skip without it).

The line before the fence says how (``<!-- docs-snippet: MODE (why) -->``):

- no mark: every command runs as written and must exit 0;
- ``validate (why)``: for snippets that take hours, a server, the network or a change of the
  environment. ``atgen run SPEC`` is checked with ``atgen validate --spec-only SPEC`` and
  ``atgen benchmark ... SPEC`` with ``atgen benchmark --dry-run --no-calibration SPEC``; ``atgen
  resume``/``annotate``/``report`` and every non-atgen command (pip, pytest, nox, cd, ...) are not run (the mark
  says why); every other atgen command runs as written;
- ``skip (why)``: nothing is run.

Needs the in-repo plugins (the ``plugins`` nox session), like test_docs_snippets.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
_BLOCK = re.compile(
    r"(?:<!-- docs-snippet: (?P<mark>\w+)(?P<why>[^>]*)-->\s*\n)?```(?:bash|console|sh|shell)\n(?P<body>.*?)\n```", re.S
)
# continue a run for minutes / serve a browser until stopped / report on the runs the snippet would make
NOT_RUN_IN_VALIDATE = {"resume", "annotate", "report"}
ATGEN = Path(sys.executable).with_name("atgen")


def snippets() -> list[Any]:
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            where = f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start('body'))}"
            why = (match.group("why") or "").strip()
            found.append(pytest.param(match.group("mark") or "run", why, match.group("body"), id=where))
    return found


def commands(body: str) -> list[str]:
    """The snippet's commands: comments dropped, ``&&`` chains split, ``$ `` prompts removed."""
    out = []
    for line in body.splitlines():
        line = line.strip().removeprefix("$ ")
        tokens = shlex.split(line, comments=True)
        chain: list[str] = []
        for token in [*tokens, "&&"]:
            if token == "&&":
                if chain:
                    out.append(shlex.join(chain))
                chain = []
            else:
                chain.append(token)
    return out


def fill(command: str, checkout: Path) -> str:
    shared = os.environ.get("ATGEN_SHARED_DATA")
    if "/path/to/shared/data" in command:
        if not shared:
            pytest.skip("this snippet needs $ATGEN_SHARED_DATA")
        command = command.replace("/path/to/shared/data", shared)
    return command.replace("/path/to/atgen", str(checkout))


def checked(command: str) -> str | None:
    """What ``validate`` mode runs for ``command`` (None: not run)."""
    tokens = shlex.split(command)
    at = next((i for i, t in enumerate(tokens) if t == "atgen" or t.endswith("/atgen")), None)
    if at is None or at + 1 >= len(tokens) or not all("=" in t for t in tokens[:at]):
        return None
    env, sub, rest = tokens[:at], tokens[at + 1], tokens[at + 2 :]
    if sub in NOT_RUN_IN_VALIDATE:
        return None
    if sub == "run":
        rest = ["validate", "--spec-only", next(t for t in rest if not t.startswith("-"))]
    elif sub == "benchmark":
        spec = next(t for t in rest if t.endswith(".json"))
        rest = ["benchmark", "--dry-run", "--no-calibration", spec]
    else:
        rest = [sub, *rest]
    return shlex.join([*env, "atgen", *rest])


def fake_spec(name: str) -> dict[str, Any]:
    return {
        "name": name, "seed": 1,
        "data": {"source": {"name": "memory", "config": {"generate": 30, "topics": 6}}, "test_size": 6},
        "strategy": "test-random", "annotator": "counting-oracle", "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 1},
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from atgen_core.benchmark import run_benchmark
    from atgen_core.loop import Experiment
    from atgen_core.plugins import load_registry

    registry = load_registry()
    for kind, name in (("strategy", "random"), ("data_source", "files")):
        if name not in registry.names(kind):
            pytest.skip(f"the docs commands need the in-repo plugins ({kind} {name!r} is not installed)")
    if not ATGEN.exists():
        pytest.skip(f"no installed atgen command beside {sys.executable}")
    root = tmp_path_factory.mktemp("docs-commands")
    for name in ("examples", "docs", "scripts"):  # copies: a snippet writing into docs/ never touches the repo
        shutil.copytree(REPO / name, root / name)
    rows = root / "rows.jsonl"
    rows.write_text("".join(json.dumps({"input": f"in {i}", "target": f"out {i}"}) + "\n" for i in range(40)),
                    encoding="utf-8")
    spec = {"name": "my-experiment", "data": {"source": {"name": "files", "config": {"train": str(rows)}},
                                               "test_size": 4}, "strategy": "random",
            "loop": {"initial_size": 4, "query_size": 4, "iterations": 2},
            "output_dir": "runs/new-experiment"}  # runs/my-experiment is the fake-component run below
    (root / "my-spec.json").write_text(json.dumps(spec), encoding="utf-8")
    bench = {"name": "bench", "base": spec, "strategies": ["random"], "seeds": [1, 2]}
    (root / "bench.json").write_text(json.dumps(bench), encoding="utf-8")
    sys.path.insert(0, str(REPO / "tests"))
    import atgen_test_components as fakes

    fake_registry = load_registry(plugins=[("test-components", fakes)])
    with Experiment.from_spec({**fake_spec("my-experiment"), "output_dir": str(root / "runs" / "my-experiment")},
                              registry=fake_registry, progress=False) as experiment:
        experiment.run()
    grid = {"name": "bench-e2e", "base": fake_spec("e2e"), "strategies": ["test-random"], "seeds": [1, 2],
            "output_dir": str(root / "runs" / "bench-e2e")}
    (root / "fake-bench.json").write_text(json.dumps(grid), encoding="utf-8")
    run_benchmark(root / "fake-bench.json", registry=fake_registry, progress=False)
    return root


def run(command: str, cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{ATGEN.parent}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stderr[-2000:]}{done.stdout[-2000:]}"


def test_docs_have_shell_snippets_and_marks_say_why() -> None:
    found = snippets()
    assert len(found) >= 8
    for param in found:
        mark, why, _ = param.values
        assert mark in ("run", "validate", "skip"), f"{param.id}: unknown docs-snippet mark {mark!r}"
        assert mark == "run" or why.startswith("("), f"{param.id}: a {mark} mark says why, in parentheses"


@pytest.mark.parametrize(("mark", "why", "body"), snippets())
def test_shell_snippet(mark: str, why: str, body: str, scratch: Path) -> None:
    if mark == "skip":
        pytest.skip(f"docs-snippet: skip {why}")
    todo = [fill(c, scratch) for c in commands(body)]
    if mark == "validate":
        todo = [c for c in map(checked, todo) if c is not None]
        assert todo, "a validate snippet must have at least one atgen command to check"
    for command in todo:
        run(command, scratch)
