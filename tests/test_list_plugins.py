"""``atgen list-plugins``: text and JSON output, --kind, --verbose, --strict, and no torch import."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from atgen_core import __version__
from atgen_core.cli import plugins_cmd
from atgen_core.testing import FakeSite

pytest_plugins = ["atgen_core.testing"]

REPO = Path(__file__).resolve().parents[1]

TOOLS = '''
from typing import ClassVar, Literal

from pydantic import Field

from atgen_core import Metric, MetricKey, MetricResult, PluginConfig, Strategy, hookimpl


class PickConfig(PluginConfig):
    top_k: int = Field(5, ge=1, description="How many candidates to consider.")
    mode: Literal["fast", "slow"] = Field("fast", description="Speed of the pick.")


class Pick(Strategy):
    """Pick the first inputs."""
    name = "pick"
    Config: ClassVar[type[PluginConfig]] = PickConfig

    def select(self, ctx):
        return list(ctx.pool.ids[: ctx.k])


class Zero(Metric):
    """Always zero."""
    name = "zero"

    def keys(self):
        return {"zero": MetricKey()}

    def compute(self, ctx):
        return MetricResult({"zero": 0.0})


@hookimpl
def atgen_register_strategies():
    return Pick


@hookimpl
def atgen_register_metrics():
    return [Zero]
'''

CLASH = '''
from atgen_core import Strategy, hookimpl


class Pick(Strategy):
    """Another pick."""
    name = "pick"

    def select(self, ctx):
        return list(ctx.pool.ids[-ctx.k:])


@hookimpl
def atgen_register_strategies():
    return Pick
'''


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ATGEN_DISABLE_PLUGINS", "ATGEN_LOAD_PLUGINS", "ATGEN_TRACE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def site(atgen_fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> FakeSite:
    """atgen-tools 1.0 (strategy 'pick', metric 'zero') and the broken atgen-broken 0.2."""
    atgen_fake_site.add_distribution(
        "atgen-tools", version="1.0", entry_points={"tools": "lp_tools_hooks"}, files={"lp_tools_hooks.py": TOOLS}
    )
    atgen_fake_site.add_distribution(
        "atgen-broken",
        version="0.2",
        entry_points={"broken": "lp_broken_hooks"},
        files={"lp_broken_hooks.py": "import atgen_lp_missing_dependency\n"},
    )
    monkeypatch.setattr(plugins_cmd, "get_registry", atgen_fake_site.registry)
    return atgen_fake_site


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="atgen")
    plugins_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["list-plugins", *argv])
    return int(args.func(args))


def test_text_output(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"atgen-core {__version__}: 2 plugins, 2 components, 1 failed"
    assert lines[1].split() == ["KIND", "NAME", "PLUGIN", "VERSION", "SUMMARY"]
    assert lines[2].split() == ["strategy", "pick", "atgen-tools", "1.0", "Pick", "the", "first", "inputs."]
    assert lines[3] == ""  # kinds are grouped
    assert lines[4].split() == ["metric", "zero", "atgen-tools", "1.0", "Always", "zero."]
    # Columns line up.
    assert lines[2].index("atgen-tools") == lines[1].index("PLUGIN") == lines[4].index("atgen-tools")
    failed = lines[lines.index("FAILED") :]
    assert failed[1] == (
        "  atgen-broken 0.2 (entry point 'broken'): ModuleNotFoundError: "
        f"No module named 'atgen_lp_missing_dependency' (at {site.path / 'lp_broken_hooks.py'}:1)"
    )
    assert failed[2] == (
        "    hint: install the missing module 'atgen_lp_missing_dependency' "
        "(or set ATGEN_DISABLE_PLUGINS=broken to hide it)"
    )
    assert "CONFLICTS" not in lines


def test_conflicts_section_and_strict(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    site.add_distribution("atgen-clash", version="3.1", entry_points={"clash": "lp_clash_hooks"},
                          files={"lp_clash_hooks.py": CLASH})
    assert run_cli() == 0
    out = capsys.readouterr().out
    conflicts = out[out.index("CONFLICTS") :].splitlines()
    assert conflicts[1] == (
        "  strategy 'pick' registered by atgen-clash 3.1 (lp_clash_hooks:Pick) "
        "and atgen-tools 1.0 (lp_tools_hooks:Pick)"
    )
    assert conflicts[2].startswith("    hint: uninstall all but one of them")
    assert "pick (conflict)" in out
    assert run_cli("--strict") == 1
    captured = capsys.readouterr()
    assert "1 failure(s), 1 conflict(s)" in captured.err


def test_strict_exit_code_follows_failures(site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("--strict") == 1
    monkeypatch.setenv("ATGEN_DISABLE_PLUGINS", "atgen-broken")
    assert run_cli("--strict") == 0
    assert run_cli() == 0


def test_disabled_plugins_are_listed(site: FakeSite, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ATGEN_DISABLE_PLUGINS", "broken")
    run_cli()
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("1 plugins, 2 components, 0 failed, 1 disabled")
    assert "  atgen-broken (entry point 'broken'): listed in ATGEN_DISABLE_PLUGINS" in out
    assert "FAILED" not in out


def test_kind_filter_is_repeatable(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("--kind", "metric")
    out = capsys.readouterr().out
    assert "zero" in out and "pick" not in out
    assert out.splitlines()[0].endswith("2 plugins, 1 components, 1 failed")
    run_cli("--kind", "metric", "--kind", "strategy")
    out = capsys.readouterr().out
    assert "zero" in out and "pick" in out
    with pytest.raises(SystemExit):
        run_cli("--kind", "strategies")


def test_verbose_shows_config_fields(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("--verbose", "--kind", "strategy")
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("strategy"))
    assert lines[row + 1] == "    top_k: integer = 5 [>= 1]  How many candidates to consider."
    assert lines[row + 2] == '    mode: "fast" | "slow" = "fast"  Speed of the pick.'


def test_verbose_no_options(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("--verbose", "--kind", "metric")
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    assert lines[row + 1] == "    (no options)"


def test_json_output(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["atgen-broken", "atgen-tools"]
    broken, tools = records
    assert broken["version"] == "0.2" and broken["entry_point"] == "broken"
    assert broken["module"] == "lp_broken_hooks" and broken["components"] == [] and broken["hooks"] == []
    assert broken["error"].startswith("ModuleNotFoundError: No module named 'atgen_lp_missing_dependency'")
    assert tools == {
        "name": "atgen-tools",
        "version": "1.0",
        "entry_point": "tools",
        "module": "lp_tools_hooks",
        "hooks": ["atgen_register_metrics", "atgen_register_strategies"],
        "components": [
            {"kind": "strategy", "name": "pick", "class": "lp_tools_hooks:Pick",
             "summary": "Pick the first inputs.", "conflict": False},
            {"kind": "metric", "name": "zero", "class": "lp_tools_hooks:Zero",
             "summary": "Always zero.", "conflict": False},
        ],
        "error": None,
    }


def test_json_kind_filter_and_schema(site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("--json", "--kind", "strategy", "--verbose")
    records = json.loads(capsys.readouterr().out)
    tools = next(r for r in records if r["name"] == "atgen-tools")
    [component] = tools["components"]
    assert component["name"] == "pick"
    assert component["config_schema"]["properties"]["top_k"]["minimum"] == 1
    assert component["config_schema"]["additionalProperties"] is False
    # The broken plugin stays visible: what it would have provided is unknown.
    assert any(r["name"] == "atgen-broken" for r in records)


def test_empty_registry_says_how_to_install(
    atgen_fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plugins_cmd, "get_registry", atgen_fake_site.registry)
    assert run_cli("--strict") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"atgen-core {__version__}: 0 plugins, 0 components, 0 failed"
    assert lines[1].startswith("no components found; install a plugin")


def _subprocess_env(extra_path: Path | None = None, **env: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ATGEN_")}
    paths = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    out["PYTHONPATH"] = os.pathsep.join([*paths, out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.update(env)
    return out


def test_list_plugins_does_not_import_torch() -> None:
    """With whatever plugins are installed here, listing them imports no torch (nor transformers)."""
    code = (
        "import sys; from atgen_core.cli import main; code = main(['list-plugins']); "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "assert not heavy, heavy; sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_subprocess_env(),
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"atgen-core {__version__}: ")


def test_real_cli_end_to_end(site: FakeSite) -> None:
    """The ``atgen`` entry function, in a fresh interpreter, sees the fake distributions."""
    env = _subprocess_env(site.path, ATGEN_LOAD_PLUGINS="tools,broken")
    cmd = [sys.executable, "-m", "atgen_core", "list-plugins"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # Other installed plugins, if any, are only counted as disabled (not in ATGEN_LOAD_PLUGINS).
    assert proc.stdout.splitlines()[0].startswith(f"atgen-core {__version__}: 2 plugins, 2 components, 1 failed")
    assert "atgen-broken 0.2 (entry point 'broken'): ModuleNotFoundError" in proc.stdout
    strict = subprocess.run([*cmd, "--strict", "--json"], capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert strict.returncode == 1
    assert {r["name"] for r in json.loads(strict.stdout)} == {"atgen-tools", "atgen-broken"}


def test_json_duplicate_entry_point_names_get_one_record_each(
    site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    site.add_distribution("atgen-tools-fork", version="9.9", entry_points={"tools": "lp_clash_hooks2"},
                          files={"lp_clash_hooks2.py": CLASH})
    run_cli("--json")
    records = [r for r in json.loads(capsys.readouterr().out) if r["entry_point"] == "tools"]
    by_name = {r["name"]: r for r in records}
    assert set(by_name) == {"atgen-tools", "atgen-tools-fork"}
    loaded = next(r for r in records if r["components"])
    shadowed = next(r for r in records if not r["components"])
    assert loaded["error"] is None
    assert "entry point name 'tools' is already used by" in shadowed["error"]
