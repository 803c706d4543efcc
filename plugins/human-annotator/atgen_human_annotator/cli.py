"""``atgen annotate RUN_DIR``: serve the latest selection of a stopped run in the annotation page.

Added to the ``atgen`` command line by this plugin's ``atgen_register_commands`` hook; the web app is
imported only when the command runs. The command holds the run's lock while it serves, so the loop
cannot write to the run meanwhile; after Ctrl-C, ``atgen resume RUN_DIR`` continues with the answers.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from atgen_core.annotation import AnnotationStore, open_for_annotation
from atgen_core.errors import AtgenError, RunLockedError
from atgen_human_annotator.config import HumanConfig, read_guidelines
from atgen_human_annotator.security import URL_FILE

if TYPE_CHECKING:
    from atgen_human_annotator.desk import AnnotationDesk

__all__ = ["register", "serve_run"]


def _port(value: str) -> int:
    port = int(value) if value.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be from 0 to 65535 (0 picks a free port), got {value!r}")
    return port


def register(cli: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``annotate`` sub-command to the ``atgen`` command line."""
    parser = cli.add_parser(
        "annotate", help="label the latest selection of a run in a local web page",
        description="Serve the pending items of the run's latest selection (and the ones you already did in "
        "that round) in a local web page. Every answer is stored in the run at once; stop with Ctrl-C and "
        "continue the run with `atgen resume RUN_DIR`.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    parser.add_argument("--port", type=_port, default=0, help="TCP port (default 0: a free port)")
    parser.add_argument("--annotator", default="human", metavar="NAME", help="name stored with each answer")
    parser.add_argument("--guidelines", type=Path, metavar="FILE",
                        help="guidelines text file (default: the run's human annotator config, if any)")
    parser.add_argument("--open-browser", action="store_true", help="open the page in the default browser")
    parser.set_defaults(func=lambda args: serve_run(
        args.run_dir, host=args.host, port=args.port, annotator=args.annotator, guidelines_file=args.guidelines,
        open_browser=args.open_browser))


def serve_run(run_dir: Path, *, host: str = "127.0.0.1", port: int = 0, annotator: str = "human",
              guidelines_file: Path | None = None, open_browser: bool = False, out: TextIO | None = None,
              stop: threading.Event | None = None) -> int:
    """Serve the run's latest selection until Ctrl-C, SIGTERM or ``stop``; returns the exit code."""
    name = annotator.strip()
    try:
        if not name or len(name) > 64 or not name.isprintable():
            raise AtgenError("--annotator: give a short printable name (1 to 64 characters), e.g. --annotator alice")
        try:
            with open_for_annotation(Path(run_dir)) as store:
                return _serve(store, name, host, port, guidelines_file, open_browser, out or sys.stdout, stop)
        except RunLockedError as exc:
            url_file = Path(run_dir) / URL_FILE
            hint = (f" If it runs with the human annotator it already serves this page: the URL is in {url_file}."
                    if url_file.exists() else "")
            raise AtgenError(f"{exc}.{hint}") from None
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _serve(store: AnnotationStore, name: str, host: str, port: int, guidelines_file: Path | None,
           open_browser: bool, out: TextIO, stop: threading.Event | None) -> int:
    from atgen_human_annotator.desk import AnnotationDesk  # the web app is imported only when the command runs
    from atgen_human_annotator.server import serve_desk

    round_ = store.latest_round()
    if round_ is None:
        raise AtgenError(f"{store.run_dir} has no selection yet: start the run first (`atgen run SPEC`)")
    spec = store.spec()
    ref = spec.get("annotator")
    config = HumanConfig.model_validate(ref.get("config") or {}) if isinstance(ref, dict) and ref.get(
        "name") == "human" else HumanConfig()
    guidelines = (read_guidelines(guidelines_file, None, field="--guidelines") if guidelines_file is not None
                  else config.guidelines_text(store.base_dir()))
    desk = AnnotationDesk(store, annotator=name, guidelines=guidelines, show_draft=config.show_draft, mode="cli",
                          run_name=str(spec.get("name", "")))
    desk.open_round(round_)
    server = serve_desk(desk, host, port, open_browser=open_browser)
    try:
        counts = desk.counts()
        print(f"round {round_} of {store.run_dir}: {counts['pending']} of {counts['total']} item(s) to annotate\n"
              f"open {server.url}\nstop with Ctrl-C, then continue the run with `atgen resume {store.run_dir}`",
              file=out, flush=True)
        _wait(desk, out, stop)
    finally:
        server.stop()
    counts = desk.counts()
    print(f"stopped: {counts['ok']} saved, {counts['skipped']} skipped, {counts['pending']} left", file=out, flush=True)
    return 0


def _wait(desk: AnnotationDesk, out: TextIO, stop: threading.Event | None) -> None:
    """Print progress on every change until Ctrl-C, SIGTERM (the server turns it into Ctrl-C) or ``stop``."""
    previous, seen = desk.counts(), desk.changes
    if previous["total"] and not previous["pending"]:
        print("all items are done; edits are still possible (Ctrl-C to stop)", file=out, flush=True)
    try:
        while stop is None or not stop.is_set():
            with desk.changed:
                if desk.changes == seen:
                    desk.changed.wait(0.5)
                    continue
                seen = desk.changes
            counts = desk.counts()
            if counts != previous:
                print(f"{counts['done']} of {counts['total']} done", file=out, flush=True)
                if counts["total"] and counts["pending"] == 0 < previous["pending"]:
                    print("all items are done; edits are still possible (Ctrl-C to stop)", file=out, flush=True)
                previous = counts
    except KeyboardInterrupt:
        pass
