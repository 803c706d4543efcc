"""The ``human`` annotator: serves the annotation page while the loop waits for the batch."""

from __future__ import annotations

import json
import logging
import sys
import threading
import webbrowser
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    PluginConfig,
    PreflightContext,
    Problem,
)
from atgen_core.errors import AtgenError
from atgen_core.store import RunStore
from atgen_human_annotator.config import HumanConfig
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.guidelines import read_guidelines
from atgen_human_annotator.security import PUBLIC_WARNING, Guard, is_loopback, load_or_create_token
from atgen_human_annotator.server import URL_FILE, AnnotationServer

__all__ = ["HumanAnnotator"]

log = logging.getLogger("atgen")


class HumanAnnotator(Annotator):
    """Label items yourself in a local web page (post-edit the model's draft; save, skip, go back).

    On the first batch it starts a small web server on ``host:port`` (127.0.0.1 by default) and prints
    the page's URL with the run's access token. Each answer is written to the run store when it is
    saved and handed to the loop at once; the batch ends when every item is saved or skipped (or when
    ``timeout_seconds`` runs out: the rest is recorded as skipped). The server keeps running between
    batches, so the open page moves on to the next batch by itself, and stops when the run ends.
    """

    name: ClassVar[str] = "human"
    Config = HumanConfig

    def __init__(self, config: PluginConfig | None = None) -> None:
        super().__init__(config)
        assert isinstance(self.config, HumanConfig)
        if self.config.guidelines_file is not None:
            path = Path(self.config.guidelines_file).expanduser()
            if path.is_absolute() and not path.is_file():
                raise AtgenError(f"human annotator: guidelines_file {str(path)!r} does not exist")
        self._desk: AnnotationDesk | None = None
        self._server: AnnotationServer | None = None
        self.url: str | None = None
        """The page URL (with the access token) once the server runs."""
        self.serving = threading.Event()
        """Set when a batch is being served (for programs that embed the loop, and for tests)."""

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """The guidelines file must exist and be readable (found before the run spends anything)."""
        assert isinstance(self.config, HumanConfig)
        if self.config.guidelines_file is None:
            return []
        try:
            read_guidelines(self.config.guidelines_file, ctx.base_dir)
        except AtgenError as exc:
            return [Problem(ctx.field("guidelines_file"), str(exc).removeprefix("human annotator: "))]
        return []

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        """Serve ``items`` and yield each result as soon as the annotator saves or skips it."""
        assert isinstance(self.config, HumanConfig)
        if not items:
            return
        desk = self._serve(ctx)
        desk.open_round(ctx.iteration, items)
        self.serving.set()
        self._announce(ctx.iteration, len(items))
        results = desk.results(ctx.iteration, [item.id for item in items], timeout=self.config.timeout_seconds)
        try:
            yield from ctx.progress(results, total=len(items), desc=f"human annotation, round {ctx.iteration}")
        finally:
            results.close()
            self.serving.clear()

    def close(self) -> None:
        """Stop the web server (the page stops answering); the answers stay in the run store."""
        server, self._server = self._server, None
        self._desk = None
        if server is not None:
            server.stop()

    # -- helpers ------------------------------------------------------------------------------------

    def _serve(self, ctx: AnnotationContext) -> AnnotationDesk:
        assert isinstance(self.config, HumanConfig)
        store = ctx.store
        if not isinstance(store, RunStore):
            raise AtgenError(
                "the human annotator needs the run store (AnnotationContext.store); run it through the atgen loop "
                "(`atgen run`, or Experiment.annotate() in Python)"
            )
        if self._desk is not None and self._desk.store is store:
            return self._desk
        self.close()
        spec = json.loads(store.get_meta("spec") or "{}")
        desk = AnnotationDesk(
            store,
            annotator=self.name,
            guidelines=self._guidelines(store, ctx),
            show_draft=self.config.show_draft,
            mode="loop",
            run_name=str(spec.get("name", "")),
        )
        guard = Guard(load_or_create_token(store.run_dir))
        server = AnnotationServer(desk, guard, host=self.config.host, port=self.config.port,
                                  run_dir_hint=str(store.run_dir), url_file=store.run_dir / URL_FILE)
        self.url = server.start()
        if not is_loopback(self.config.host):
            log.warning(PUBLIC_WARNING.format(host=self.config.host))
        self._desk, self._server = desk, server
        if self.config.open_browser:
            threading.Thread(target=webbrowser.open, args=(self.url,), daemon=True).start()
        return desk

    def _guidelines(self, store: RunStore, ctx: AnnotationContext) -> str | None:
        assert isinstance(self.config, HumanConfig)
        if self.config.guidelines is not None:
            return self.config.guidelines
        if self.config.guidelines_file is not None:
            return read_guidelines(self.config.guidelines_file, store.get_meta("base_dir"))
        return ctx.guidelines

    def _announce(self, round_: int, n: int) -> None:
        assert self._server is not None
        print(f"[atgen] round {round_}: {n} item(s) to annotate: open {self.url}", file=sys.stderr, flush=True)
        log.info("round %d: waiting for %d human answer(s) at %s (URL with token in %s)", round_, n,
                 self._server.base_url, self._server.url_file)
