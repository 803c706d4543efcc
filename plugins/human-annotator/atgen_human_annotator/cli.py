"""``atgen annotate RUN_DIR``: serve the latest selection of a stopped run in the annotation page.

Called by ``atgen_core.cli.annotate_cmd`` (which imports this module only when the command runs).
The server holds the run's lock while it runs, so the loop cannot write to the run meanwhile; after
Ctrl-C, ``atgen resume RUN_DIR`` continues the run with the answers given here.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from atgen_core.errors import AtgenError, RunLockedError
from atgen_core.store import RunLock, RunStore
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.guidelines import read_guidelines
from atgen_human_annotator.security import PUBLIC_WARNING, Guard, is_loopback, load_or_create_token
from atgen_human_annotator.server import URL_FILE, AnnotationServer

__all__ = ["serve_run"]


def serve_run(
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    annotator: str = "human",
    guidelines_file: Path | None = None,
    open_browser: bool = False,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve the run's latest selection until Ctrl-C (or ``stop`` is set); returns the exit code."""
    out = out if out is not None else sys.stdout
    try:
        return _serve(run_dir, host=host, port=port, annotator=annotator, guidelines_file=guidelines_file,
                      open_browser=open_browser, out=out, stop=stop)
    except AtgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _serve(
    run_dir: Path, *, host: str, port: int, annotator: str, guidelines_file: Path | None, open_browser: bool,
    out: TextIO, stop: threading.Event | None,
) -> int:
    name = annotator.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise AtgenError("--annotator: give a short printable name (1 to 64 characters), e.g. --annotator alice")
    run_dir = Path(run_dir)
    store = RunStore(run_dir, create=False)
    lock = RunLock(run_dir)
    try:
        try:
            lock.acquire()
        except RunLockedError as exc:
            url_file = run_dir / URL_FILE
            hint = (f" If it runs with the human annotator it already serves this page: the URL is in {url_file}."
                    if url_file.exists() else "")
            raise AtgenError(f"{exc}.{hint}") from None
        round_ = store.latest_round()
        if round_ is None:
            raise AtgenError(f"{run_dir} has no selection yet: start the run first (`atgen run SPEC`)")
        spec = json.loads(store.get_meta("spec") or "{}")
        human = _human_config(spec)
        guidelines: str | None
        if guidelines_file is not None:
            guidelines = read_guidelines(guidelines_file, None, field="--guidelines")
        elif human.get("guidelines"):
            guidelines = str(human["guidelines"])
        elif human.get("guidelines_file"):
            guidelines = read_guidelines(str(human["guidelines_file"]), store.get_meta("base_dir"))
        else:
            guidelines = None
        desk = AnnotationDesk(store, annotator=name, guidelines=guidelines,
                              show_draft=bool(human.get("show_draft", True)), mode="cli",
                              run_name=str(spec.get("name", "")))
        desk.open_round(round_)
        server = AnnotationServer(desk, Guard(load_or_create_token(run_dir)), host=host, port=port,
                                  run_dir_hint=str(run_dir), url_file=run_dir / URL_FILE)
        url = server.start()
        if not is_loopback(host):
            print(PUBLIC_WARNING.format(host=host), file=sys.stderr)
        try:
            counts = desk.counts()
            print(f"round {round_} of {run_dir}: {counts['pending']} of {counts['total']} item(s) to annotate",
                  file=out)
            print(f"open {url}", file=out)
            print(f"stop with Ctrl-C, then continue the run with `atgen resume {run_dir}`", file=out, flush=True)
            if open_browser:
                import webbrowser

                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
            _wait(desk, out, stop)
        finally:
            server.stop()
        counts = desk.counts()
        print(f"stopped: {counts['ok']} saved, {counts['skipped']} skipped, {counts['pending']} left", file=out,
              flush=True)
        return 0
    finally:
        lock.release()
        store.close()


def _human_config(spec: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("annotator")
    if isinstance(ref, dict) and ref.get("name") == "human" and isinstance(ref.get("config"), dict):
        return dict(ref["config"])
    return {}


def _wait(desk: AnnotationDesk, out: TextIO, stop: threading.Event | None) -> None:
    """Print progress on every change until Ctrl-C, SIGTERM or ``stop``."""
    previous = None
    restore = None
    if threading.current_thread() is threading.main_thread():
        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        restore = signal.signal(signal.SIGTERM, _terminate)
    try:
        seen = -1
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
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
