"""``atgen plugin new``: every kind generates a distribution that builds, installs into a fresh venv, shows in
``atgen list-plugins`` and passes its own tests (atgen_core.testing contract checks included) out of the box.

Reuses the fresh-venv helpers of ``test_example_plugin_wheel`` (wheels built offline, the core's
dependencies and pytest linked from this interpreter, nothing downloaded).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import test_example_plugin_wheel as wheel_helpers

from atgen_core.cli import main
from atgen_core.plugin_template import TEMPLATE_KINDS, new_plugin

pytest.importorskip("cookiecutter")

REPO = Path(__file__).resolve().parents[1]


def test_generated_plugins_install_list_and_pass_their_tests_in_a_fresh_venv(tmp_path: Path) -> None:
    made = {kind: new_plugin(f"my-{kind}", kind, tmp_path / "src") for kind in TEMPLATE_KINDS}
    assert made["strategy"] == tmp_path / "src" / "atgen-my-strategy"
    assert (made["metric"] / "atgen_my_metric" / "component.py").is_file()
    wheels = tmp_path / "wheels"
    core = tmp_path / "core"
    core.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (core / name).write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    import shutil

    shutil.copytree(REPO / "atgen_core", core / "atgen_core", ignore=wheel_helpers.IGNORE)
    wheel_helpers._build_wheels([core, *made.values()], wheels)
    core_wheel = next(wheels.glob("atgen_core-*.whl"))
    with zipfile.ZipFile(core_wheel) as archive:  # the template ships with the core
        assert "atgen_core/templates/plugin/cookiecutter.json" in archive.namelist()

    venv = tmp_path / "venv"
    proc = wheel_helpers._run([wheel_helpers.sys.executable, "-m", "venv", "--without-pip", str(venv)],
                              env=wheel_helpers._clean_env())
    assert proc.returncode == 0, proc.stderr
    site = wheel_helpers._venv_site(venv)
    wheel_helpers._link_dependencies(site, (*wheel_helpers.CORE_DEPENDENCIES, "pytest"))
    python = venv / "bin" / "python"
    install = wheel_helpers._run(
        [wheel_helpers.sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "-q", *map(str, sorted(wheels.glob("*.whl")))], env=wheel_helpers._clean_env())
    assert install.returncode == 0, install.stdout + install.stderr

    listed = wheel_helpers._run([str(venv / "bin" / "atgen"), "list-plugins", "--json", "--strict"],
                                env=wheel_helpers._clean_env(), cwd=venv)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    found = {(c["kind"], c["name"], r["name"]) for r in json.loads(listed.stdout) for c in r["components"]}
    assert found == {(kind, f"my-{kind}", f"atgen-my-{kind}") for kind in TEMPLATE_KINDS}

    tests = [str(path / "tests") for path in made.values()]
    run = wheel_helpers._run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                             env=wheel_helpers._clean_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "16 passed" in run.stdout  # 4 tests per kind: contract, entry point, light import, behaviour


def test_cli_refuses_bad_names_and_existing_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugin", "new", "Bad Name", "--kind", "strategy", "-o", str(tmp_path)]) == 2
    assert "not a valid component name" in capsys.readouterr().err
    assert main(["plugin", "new", "ok-name", "--kind", "metric", "-o", str(tmp_path)]) == 0
    assert "created" in capsys.readouterr().out
    assert main(["plugin", "new", "ok-name", "--kind", "metric", "-o", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atgen-ok-name"]
