"""``atgen list-plugins``: what is installed, what failed, and which names clash.

Plain text by default (a table grouped by kind, then FAILED and CONFLICTS sections); ``--json``
prints one record per plugin for scripts and CI. Listing never imports torch: plugins import heavy
libraries lazily, and this module imports nothing beyond the core.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from atgen_core import __version__
from atgen_core.components import KINDS, PluginConfig
from atgen_core.plugins import DISABLE_ENV, HOOKS_BY_KIND, get_registry
from atgen_core.registry import ComponentInfo, PluginRecord, Registry

__all__ = ["config_fields", "plugin_records", "register", "render_text", "run"]


def register(subparsers: Any) -> None:
    """Add the ``list-plugins`` sub-command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "list-plugins",
        help="list installed plugins and their components",
        description="List installed atgen plugins, their components, load failures and name conflicts.",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of plugin records")
    parser.add_argument(
        "--kind",
        action="append",
        choices=list(KINDS),
        metavar="KIND",
        help=f"only this component kind (repeatable; one of: {', '.join(KINDS)})",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show each component's config fields and defaults"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any plugin failed to load or a name is registered twice"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the listing; the exit code is 1 only under ``--strict`` with failures or conflicts."""
    registry = get_registry()
    kinds: list[str] = list(args.kind) if args.kind else list(KINDS)
    if args.json:
        print(json.dumps(plugin_records(registry, kinds, verbose=args.verbose), indent=2))
    else:
        print(render_text(registry, kinds, verbose=args.verbose), end="")
    if args.strict and not registry.ok:
        print(
            f"atgen list-plugins --strict: {len(registry.failures)} failure(s), "
            f"{len(registry.conflicts)} conflict(s)",
            file=sys.stderr,
        )
        return 1
    return 0


# --------------------------------------------------------------------------------------------------
# Config fields from the JSON schema
# --------------------------------------------------------------------------------------------------


def _schema_type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in prop:
            return " | ".join(_schema_type(p) for p in prop[key])
    kind = prop.get("type")
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"list[{_schema_type(prop['items'])}]"
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    return str(kind) if kind else "any"


def _factory_default(config_cls: type[PluginConfig], name: str) -> Any:
    """The JSON form of a ``default_factory`` default (absent from the JSON schema)."""
    field = config_cls.model_fields.get(name)
    if field is None:
        return None
    try:
        value = field.get_default(call_default_factory=True)
        return json.loads(TypeAdapter(Any).dump_json(value))
    except Exception:
        return None


_BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
           ("minLength", "min length"), ("maxLength", "max length"), ("minItems", "min items"),
           ("maxItems", "max items"))


def config_fields(info: ComponentInfo) -> list[dict[str, Any]]:
    """One dict per config field: name, type, default (or ``required``), bounds and description."""
    config_cls = info.cls.Config
    schema = config_cls.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        default = prop.get("default")
        if "default" not in prop and name not in required:
            default = _factory_default(config_cls, name)
        bounds = [f"{sym} {prop[key]}" for key, sym in _BOUNDS if key in prop]
        for alt in prop.get("anyOf", []):
            bounds.extend(f"{sym} {alt[key]}" for key, sym in _BOUNDS if key in alt)
        fields.append(
            {
                "name": name,
                "type": _schema_type(prop),
                "required": name in required,
                "default": default,
                "bounds": bounds,
                "description": prop.get("description", ""),
            }
        )
    return fields


# --------------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------------


def _component_record(registry: Registry, info: ComponentInfo, verbose: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": info.kind,
        "name": info.name,
        "class": info.class_path,
        "summary": info.summary,
        "conflict": registry.conflicting(info.kind, info.name),
    }
    if verbose:
        try:
            record["config_schema"] = info.cls.Config.model_json_schema()
        except Exception as exc:  # a broken Config must not break the listing
            record["config_schema"] = None
            record["config_schema_error"] = f"{type(exc).__name__}: {exc}"
    return record


def _implements_kind(plugin: PluginRecord, kinds: Sequence[str]) -> bool:
    return any(HOOKS_BY_KIND[k] in plugin.hooks for k in kinds)


def plugin_records(registry: Registry, kinds: Sequence[str], *, verbose: bool = False) -> list[dict[str, Any]]:
    """The ``--json`` output: one record per plugin, sorted by distribution then entry-point name.

    With a ``kinds`` filter narrower than every kind, only plugins implementing one of those kinds'
    hooks, or that failed (what they would have provided is unknown), are listed.
    """
    filtering = set(kinds) != set(KINDS)
    out = []
    for plugin in registry.plugins:
        failures = registry.failures_of(plugin)
        if filtering and not failures and not _implements_kind(plugin, kinds):
            continue
        components = [
            _component_record(registry, info, verbose)
            for info in registry.components_of(plugin)
            if info.kind in kinds
        ]
        out.append(
            {
                "name": plugin.distribution or plugin.plugin,
                "version": plugin.version,
                "entry_point": plugin.plugin,
                "module": plugin.module,
                "hooks": list(plugin.hooks),
                "components": components,
                "error": "; ".join(f.error for f in failures) if failures else None,
            }
        )
    out.sort(key=lambda r: (str(r["name"]).lower(), r["entry_point"]))
    return out


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return lines


def _field_lines(info: ComponentInfo) -> list[str]:
    try:
        fields = config_fields(info)
    except Exception as exc:
        return [f"    (config schema failed: {type(exc).__name__}: {exc})"]
    if not fields:
        return ["    (no options)"]
    lines = []
    for f in fields:
        default = "required" if f["required"] else f"= {json.dumps(f['default'])}"
        bounds = f" [{', '.join(f['bounds'])}]" if f["bounds"] else ""
        lines.append(f"    {f['name']}: {f['type']} {default}{bounds}  {f['description']}".rstrip())
    return lines


def render_text(registry: Registry, kinds: Sequence[str], *, verbose: bool = False) -> str:
    """The default listing: header, table grouped by kind, then FAILED, CONFLICTS and DISABLED sections."""
    infos = [info for info in registry.registrations if info.kind in kinds]
    header = (
        f"atgen-core {__version__}: {len(registry.plugins)} plugins, {len(infos)} components, "
        f"{len(registry.failed_plugins)} failed"
    )
    if registry.disabled:
        header += f", {len(registry.disabled)} disabled"
    lines = [header]
    if infos:
        rows = [["KIND", "NAME", "PLUGIN", "VERSION", "SUMMARY"]]
        for info in infos:
            mark = " (conflict)" if registry.conflicting(info.kind, info.name) else ""
            rows.append([info.kind, info.name + mark, info.distribution or info.plugin, info.version or "-",
                         info.summary])
        table = _table(rows)
        lines.append(table[0])
        previous_kind = None
        for info, line in zip(infos, table[1:]):
            if previous_kind is not None and info.kind != previous_kind:
                lines.append("")
            previous_kind = info.kind
            lines.append(line)
            if verbose:
                lines.extend(_field_lines(info))
    else:
        lines.append("no components found; install a plugin (the plugin directory: docs/plugins/directory.md)")
    if registry.failures:
        lines.append("")
        lines.append("FAILED")
        for failure in registry.failures:
            lines.append(f"  {failure.describe()}")
            hint = failure.hint or f"set {DISABLE_ENV}={failure.plugin} to hide it"
            lines.append(f"    hint: {hint}")
    conflicts = [c for c in registry.conflicts if c.kind in kinds]
    if conflicts:
        lines.append("")
        lines.append("CONFLICTS")
        for conflict in conflicts:
            lines.append(f"  {conflict.describe()}")
            lines.append(f"    hint: {conflict.hint()}")
    if registry.disabled:
        lines.append("")
        lines.append("DISABLED")
        for item in registry.disabled:
            who = item.distribution or item.plugin
            lines.append(f"  {who} (entry point {item.plugin!r}): {item.reason}")
    return "\n".join(lines) + "\n"
