"""Print Markdown config tables for every component of one installed plugin distribution.

Usage: python scripts/config_tables.py atgen-basics  (paste the output into the plugin's README)
"""

from __future__ import annotations

import json
import sys

from atgen_core.plugins import load_registry


def main(distribution: str) -> int:
    registry = load_registry()
    infos = [i for i in registry.all() if i.distribution == distribution]
    if not infos:
        print(f"no components from {distribution!r} (is it installed?)", file=sys.stderr)
        return 2
    for info in infos:
        print(f"### `{info.name}` ({info.kind.replace('_', ' ')})\n\n{info.summary}\n")
        props = info.cls.Config.model_json_schema().get("properties", {})
        if not props:
            print("No options.\n")
            continue
        print("| key | default | meaning |\n|---|---|---|")
        for key, prop in props.items():
            default = json.dumps(prop["default"]) if "default" in prop else "required"
            print(f"| `{key}` | `{default}` | {prop.get('description', '')} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "atgen-basics"))
