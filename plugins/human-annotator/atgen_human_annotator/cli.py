"""``atgen annotate RUN_DIR``: serve the latest selection of a stopped run in the annotation page.

Added to the ``atgen`` command line by this plugin's ``atgen_register_commands`` hook; the web app is
imported only when the command runs. The command holds the run's lock while it serves, so the loop
cannot write to the run meanwhile; after Ctrl-C, ``atgen resume RUN_DIR`` continues with the answers.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from atgen_core.annotation import AnnotationStore, open_for_annotation
from atgen_core.errors import AtgenError, RunLockedError
from atgen_human_annotator.security import URL_FILE

if TYPE_CHECKING:
    from atgen_human_annotator.desk import AnnotationDesk

__all__ = ["register", "serve_run"]


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be a number from 0 to 65535, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be from 0 to 65535 (0 picks a free port), got {port}")
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
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=0, help="TCP port (default 0: a free port)")
    parser.add_argument("--annotator", default="human", metavar="NAME", help="name stored with each answer (default: human)")
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
    out = out if out is not None else sys.stdout
    name = annotator.strip()
    try:
        if not name or len(name) > 64 or not name.isprintable():
            raise AtgenError("--annotator: give a short printable name (1 to 64 characters), e.g. --annotator alice")
        try:
            with open_for_annotation(Path(run_dir)) as store:
                return _serve(store, name, host, port, guidelines_file, open_browser, out, stop)
        except RunLockedError as exc:
            url_file = Path(run_dir) / URL_FILE
            hint = (f" If it runs with the human annotator it already serves this page: the URL is in {url_file}."
                    if url_file.exists() else "")
            raise AtgenError(f"{exc}.{hint}") from None
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _serve(store: AnnotationStore, name: str, host: str, port: int, guidelines_file: Path | None, open_browser: bool,
           out: TextIO, stop: threading.Event | None) -> int:
    from atgen_human_annotator.desk import AnnotationDesk
    from atgen_human_annotator.security import PUBLIC_WARNING, Guard, is_loopback, load_or_create_token
    from atgen_human_annotator.server import AnnotationServer

    round_ = store.latest_round()
    if round_ is None:
        raise AtgenError(f"{store.run_dir} has no selection yet: start the run first (`atgen run SPEC`)")
    spec = store.spec()
    human = _human_config(spec)
    desk = AnnotationDesk(store, annotator=name, guidelines=_guidelines(store, human, guidelines_file),
                          show_draft=bool(human.get("show_draft", True)), mode="cli", run_name=str(spec.get("name", "")))
    desk.open_round(round_)
    server = AnnotationServer(desk, Guard(load_or_create_token(store.run_dir)), host=host, port=port,
                              run_dir_hint=str(store.run_dir), url_file=store.run_dir / URL_FILE)
    url = server.start()
    if not is_loopback(host):
        print(PUBLIC_WARNING.format(host=host), file=sys.stderr)
    try:
        counts = desk.counts()
        print(f"round {round_} of {store.run_dir}: {counts['pending']} of {counts['total']} item(s) to annotate",
              file=out)
        print(f"open {url}", file=out)
        print(f"stop with Ctrl-C, then continue the run with `atgen resume {store.run_dir}`", file=out, flush=True)
        if open_browser:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        _wait(desk, out, stop)
    finally:
        server.stop()
    counts = desk.counts()
    print(f"stopped: {counts['ok']} saved, {counts['skipped']} skipped, {counts['pending']} left", file=out, flush=True)
    return 0


def _human_config(spec: Mapping[str, Any]) -> dict[str, Any]:
    ref = spec.get("annotator")
    if isinstance(ref, dict) and ref.get("name") == "human" and isinstance(ref.get("config"), dict):
        return dict(ref["config"])
    return {}


def _guidelines(store: AnnotationStore, human: Mapping[str, Any], option: Path | None) -> str | None:
    from atgen_human_annotator.guidelines import read_guidelines

    if option is not None:
        return read_guidelines(option, None, field="--guidelines")
    if human.get("guidelines"):
        return str(human["guidelines"])
    if human.get("guidelines_file"):
        return read_guidelines(str(human["guidelines_file"]), store.base_dir())
    return None


def _wait(desk: AnnotationDesk, out: TextIO, stop: threading.Event | None) -> None:
    """Print progress on every change until Ctrl-C, SIGTERM (the server turns it into Ctrl-C) or ``stop``."""
    previous: dict[str, int] | None = None
    seen = -1
    try:
        while stop is None or not stop.is_set():
            with desk.changed:
                if desk.changes == seen:
                    desk.changed.wait(0.5)
                    continue
                seen = desk.changes
            counts = desk.counts()
            if counts != previous:
                if previous is not None:
                    print(f"{counts['done']} of {counts['total']} done", file=out, flush=True)
                if counts["pending"] == 0 and counts["total"] and (previous is None or previous["pending"]):
                    print("all items are done; edits are still possible (Ctrl-C to stop)", file=out, flush=True)
                previous = counts
    except KeyboardInterrupt:
        pass
