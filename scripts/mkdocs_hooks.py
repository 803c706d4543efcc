"""mkdocs hooks of the atgen site: every in-repo plugin's README becomes a page, and repository links work.

- ``on_config`` adds a "Plugin READMEs" section to the Plugins part of the nav.
- ``on_files`` adds ``plugins/<folder>/README.md`` pages generated from ``plugins/<folder>/README.md``.
- ``on_page_markdown`` rewrites relative links written for the repository (``../plugins/x/README.md``,
  ``../../docs/img/a.png``, ``../../README.md``) to the matching site page; a link to any other file
  of the repository (an example spec, a source file) becomes its repository path in code style.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")


def _plugin_readmes() -> dict[str, Path]:
    return {
        p.parent.name: p
        for p in sorted((REPO / "plugins").glob("*/README.md"))
        if (p.parent / "pyproject.toml").is_file()
    }


def on_config(config: Any) -> Any:
    """Add the plugin READMEs under the Plugins section of the nav."""
    pages = [{name: f"plugins/{name}/README.md"} for name in _plugin_readmes()]
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and "Plugins" in entry:
            entry["Plugins"].append({"Plugin READMEs": pages})
    return config


def on_files(files: Files, config: Any) -> Files:
    """A page per in-repo plugin README."""
    for name, readme in _plugin_readmes().items():
        files.append(File.generated(config, f"plugins/{name}/README.md", abs_src_path=str(readme)))
    return files


def _site_path(repo_path: Path) -> Path | None:
    """Where a repository file lives in the site's docs tree (None when it is not part of the site)."""
    if repo_path == REPO / "README.md":
        return DOCS / "index.md"
    if repo_path.is_relative_to(DOCS):
        return repo_path
    plugins = REPO / "plugins"
    if repo_path.is_relative_to(plugins) and repo_path.name == "README.md" and repo_path.parent.parent == plugins:
        return DOCS / "plugins" / repo_path.parent.name / "README.md"
    return None


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Rewrite repository-relative links so that they point at site pages."""
    source = Path(page.file.abs_src_path).resolve()
    site_dir = (DOCS / page.file.src_uri).parent  # where the page sits in the docs tree

    def fix(match: re.Match[str]) -> str:
        target = match.group("target")
        if re.match(r"^[a-z]+:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, _, anchor = target.partition("#")
        repo_path = (source.parent / path).resolve()
        if source.is_relative_to(DOCS) and repo_path.is_relative_to(DOCS):
            return match.group(0)  # an ordinary docs link: mkdocs checks it
        mapped = _site_path(repo_path)
        if mapped is None:
            if match.group("bang"):
                return match.group(0)
            return f"{match.group('text')} (`{repo_path.relative_to(REPO)}`)"
        new = os.path.relpath(mapped, site_dir) + (f"#{anchor}" if anchor else "")
        return f"{match.group('bang')}[{match.group('text')}]({new})"

    return _LINK.sub(fix, markdown)
