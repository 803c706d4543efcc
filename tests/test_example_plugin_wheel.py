"""The template plugin as a third party would ship it: a wheel installed into a fresh environment.

Builds wheels of the core, of ``plugins/example`` and of a deliberately broken plugin, creates a
clean venv (no pip, nothing inherited), makes the core's runtime dependencies (pluggy, pydantic,
numpy, tqdm and what they need) available by linking the installed copies from this interpreter, so
nothing is downloaded, installs the wheels with ``pip --python`` and runs the ``atgen`` console script
there. Other installed atgen plugins are invisible in that venv.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE_DEPENDENCIES = ("pluggy", "pydantic", "numpy", "tqdm")
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".mypy_cache")


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATGEN_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _requirement_names(dist: importlib.metadata.Distribution) -> list[str]:
    """Names of the unconditional requirements (extras skipped; other markers kept if installed)."""
    names = []
    for req in dist.requires or []:
        if "extra ==" in req.replace('"', "'").replace("extra=='", "extra == '"):
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if match:
            names.append(match.group(1))
    return names


def _link_dependencies(site: Path, roots: tuple[str, ...]) -> list[str]:
    """Symlink the installed files of ``roots`` and their dependencies into ``site``; returns dist names."""
    todo, done = list(roots), []
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # e.g. a marker-guarded dependency for another Python version
        if not dist.files:
            pytest.skip(f"{name} has no RECORD; cannot link it into a fresh venv")
        tops = {f.parts[0] for f in dist.files if f.parts and f.parts[0] not in ("..", "__pycache__")}
        for top in sorted(tops):
            source = Path(str(dist.locate_file(top)))
            target = site / top
            if source.exists() and not target.exists():
                target.symlink_to(source, target_is_directory=source.is_dir())
        done.append(name)
        todo.extend(_requirement_names(dist))
    return done


def _can_build_here() -> bool:
    """Whether this interpreter's setuptools can build wheels itself (>= 70.1, or the `wheel` package)."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major_minor = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    return major_minor >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _build_wheels(sources: list[Path], out: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out)]
    if _can_build_here():
        cmd.append("--no-build-isolation")  # offline and fast: use this interpreter's setuptools
    # otherwise pip builds in isolation, fetching setuptools from the configured index
    proc = _run(cmd + [str(s) for s in sources], env=_clean_env())
    assert proc.returncode == 0, f"building wheels failed:\n{proc.stdout}\n{proc.stderr}"


def _venv_site(venv: Path) -> Path:
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    purelib = sysconfig.get_path("purelib", scheme, vars={"base": str(venv), "platbase": str(venv)})
    return Path(purelib)


BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "atgen-broken-demo"
version = "0.0.1"
dependencies = ["atgen-core>=0.1,<0.2"]

[project.entry-points.atgen]
broken-demo = "atgen_broken_demo.hooks"

[tool.setuptools.packages.find]
include = ["atgen_broken_demo*"]
"""

BROKEN_HOOKS = """\
from atgen_core import hookimpl
from atgen_broken_demo_missing_dependency import Strategy  # raises ImportError


@hookimpl
def atgen_register_strategies():
    return Strategy
"""


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheels of core, example and broken plugin, and a venv with the core and its dependencies."""
    root = tmp_path_factory.mktemp("wheel-test")
    src = root / "src"
    core = src / "core"
    core.mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", core / "pyproject.toml")
    if (REPO / "README.md").exists():
        shutil.copy(REPO / "README.md", core / "README.md")
    shutil.copytree(REPO / "atgen_core", core / "atgen_core", ignore=IGNORE)
    example = src / "example"
    shutil.copytree(REPO / "plugins" / "example", example, ignore=IGNORE)
    broken = src / "broken"
    (broken / "atgen_broken_demo").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "atgen_broken_demo" / "__init__.py").write_text("")
    (broken / "atgen_broken_demo" / "hooks.py").write_text(BROKEN_HOOKS)

    wheels = root / "wheels"
    _build_wheels([core, example, broken], wheels)

    venv = root / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    site = _venv_site(venv)
    assert site.is_dir(), site
    linked = _link_dependencies(site, CORE_DEPENDENCIES)
    assert {"pluggy", "pydantic", "numpy", "tqdm"} <= set(linked)

    python = venv / "bin" / "python"
    core_wheel = next(wheels.glob("atgen_core-*.whl"))
    proc = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                 str(core_wheel)], env=_clean_env())
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return {"venv": venv, "wheels": wheels, "python": python}


def _install(env: dict[str, Path], pattern: str) -> None:
    wheel = next(env["wheels"].glob(pattern))
    proc = _run([sys.executable, "-m", "pip", "--python", str(env["python"]), "install", "--no-deps", "--no-index",
                 "-q", str(wheel)], env=_clean_env())
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"


def _atgen(env: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    return _run([str(env["venv"] / "bin" / "atgen"), *args], env=_clean_env(), cwd=env["venv"])


STRATEGY_RUN = """
import numpy as np
from atgen_core import Example, LabelledView, PoolView, SelectionContext
from atgen_core.plugins import load_registry

cls = load_registry().get("strategy", "longest-first").cls
texts = ["a", "a b c", "a b"]
pool = PoolView(tuple(Example(id=f"e{i}", input=t, prompt=t) for i, t in enumerate(texts)))
ctx = SelectionContext(pool=pool, labelled=LabelledView(), k=2, rng=np.random.default_rng(0))
print(",".join(cls().select(ctx)))
"""


def test_fresh_venv_has_no_plugins(fresh_venv: dict[str, Path]) -> None:
    proc = _atgen(fresh_venv, "list-plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    check = _run([str(fresh_venv["python"]), "-c", "import atgen_core; print(atgen_core.__file__)"],
                 env=_clean_env(), cwd=fresh_venv["venv"])
    assert check.stdout.startswith(str(fresh_venv["venv"]))  # the wheel's copy, not the repository


def test_example_wheel_is_listed_and_works(fresh_venv: dict[str, Path]) -> None:
    _install(fresh_venv, "atgen_example-*.whl")
    proc = _atgen(fresh_venv, "list-plugins", "--json", "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [record] = json.loads(proc.stdout)
    assert record["name"] == "atgen-example" and record["version"] == "0.1.0"
    assert record["entry_point"] == "example" and record["module"] == "atgen_example.hooks"
    assert record["error"] is None
    assert [(c["kind"], c["name"], c["class"]) for c in record["components"]] == [
        ("strategy", "longest-first", "atgen_example.longest_first:LongestFirstStrategy")
    ]
    # The registered class really selects: the two longest inputs.
    run = _run([str(fresh_venv["python"]), "-c", STRATEGY_RUN], env=_clean_env(), cwd=fresh_venv["venv"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "e1,e2"


def test_broken_plugin_is_reported_not_fatal(fresh_venv: dict[str, Path]) -> None:
    _install(fresh_venv, "atgen_example-*.whl")
    _install(fresh_venv, "atgen_broken_demo-*.whl")
    proc = _atgen(fresh_venv, "list-plugins")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0].endswith(": 2 plugins, 1 components, 1 failed")
    assert re.search(r"^strategy\s+longest-first\s+atgen-example\s+0\.1\.0\s+Label the longest", out, re.M)
    failed = out[out.index("FAILED") :]
    assert (
        "atgen-broken-demo 0.0.1 (entry point 'broken-demo'): ModuleNotFoundError: "
        "No module named 'atgen_broken_demo_missing_dependency'"
    ) in failed
    assert "ATGEN_DISABLE_PLUGINS=broken-demo" in failed

    strict = _atgen(fresh_venv, "list-plugins", "--strict", "--json")
    assert strict.returncode == 1
    records = {r["name"]: r for r in json.loads(strict.stdout)}
    assert records["atgen-broken-demo"]["error"].startswith("ModuleNotFoundError")
    assert records["atgen-example"]["error"] is None

    hidden = _run([str(fresh_venv["venv"] / "bin" / "atgen"), "list-plugins", "--strict"],
                  env={**_clean_env(), "ATGEN_DISABLE_PLUGINS": "broken-demo"}, cwd=fresh_venv["venv"])
    assert hidden.returncode == 0, hidden.stdout
    assert hidden.stdout.splitlines()[0].endswith("1 components, 0 failed, 1 disabled")
