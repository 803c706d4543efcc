"""The ``human`` annotator: serves the annotation page while the loop waits for the batch."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    PreflightContext,
    Problem,
)
from atgen_core.errors import AtgenError
from atgen_human_annotator.config import HumanConfig, read_guidelines
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.server import AnnotationServer, serve_desk

__all__ = ["HumanAnnotator"]

log = logging.getLogger("atgen")


class HumanAnnotator(Annotator[HumanConfig]):
    """Label items yourself in a local web page (post-edit the model's draft; save, skip, go back).

    On the first batch it starts a small web server on ``host:port`` (127.0.0.1 by default) and prints
    the page's URL with the run's access token. Each answer is written to the run store when it is
    saved and handed to the loop at once; the batch ends when every item is saved or skipped (or when
    ``timeout_seconds`` runs out: the rest is recorded as skipped). The server keeps running between
    batches, so the open page moves on to the next batch by itself, and stops when the run ends.
    """

    name: ClassVar[str] = "human"
    Config = HumanConfig

    def __init__(self, config: HumanConfig | None = None) -> None:
        super().__init__(config)
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
        if self.config.guidelines_file is None:
            return []
        try:
            read_guidelines(self.config.guidelines_file, ctx.base_dir)
        except AtgenError as exc:
            return [Problem(ctx.field("guidelines_file"), str(exc).removeprefix("human annotator: "))]
        return []

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        """Serve ``items`` and yield each result as soon as the annotator saves or skips it."""
        if not items:
            return
        desk = self._serve(ctx)
        desk.open_round(ctx.iteration, items)
        self.serving.set()
        print(f"[atgen] round {ctx.iteration}: {len(items)} item(s) to annotate: open {self.url}", file=sys.stderr,
              flush=True)
        log.info("round %d: waiting for %d human answer(s) (URL with token in %s)", ctx.iteration, len(items),
                 self._server.url_file if self._server else None)
        results = desk.results(ctx.iteration, [item.id for item in items], timeout=self.config.timeout_seconds)
        try:
            yield from ctx.progress(results, total=len(items), desc=f"human annotation, round {ctx.iteration}")
        finally:
            results.close()
            self.serving.clear()

    def close(self) -> None:
        """Stop the web server (the page stops answering); the answers stay in the run store."""
        server, self._server, self._desk = self._server, None, None
        if server is not None:
            server.stop()

    def _serve(self, ctx: AnnotationContext) -> AnnotationDesk:
        store = ctx.store
        if store is None:
            raise AtgenError("the human annotator needs the run store (AnnotationContext.store); run it through the "
                             "atgen loop (`atgen run`, or Experiment.annotate() in Python)")
        if self._desk is not None and self._desk.store.run_dir == store.run_dir:
            self._desk.store = store  # the same run: the page keeps its URL between batches
            return self._desk
        self.close()
        guidelines = self.config.guidelines_text(store.base_dir())
        self._desk = AnnotationDesk(store, annotator=self.name, guidelines=ctx.guidelines if guidelines is None
                                    else guidelines, show_draft=self.config.show_draft, mode="loop",
                                    run_name=str(store.spec().get("name", "")))
        self._server = serve_desk(self._desk, self.config.host, self.config.port, open_browser=self.config.open_browser)
        self.url = self._server.url
        return self._desk
