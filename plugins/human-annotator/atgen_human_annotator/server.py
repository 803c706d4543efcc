"""Serving the annotation app: uvicorn in a background thread, the URL file, SIGTERM as Ctrl-C."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn

from atgen_core.atomic import atomic_write
from atgen_core.errors import AtgenError
from atgen_human_annotator.app import AnnotationApp
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.security import (
    PUBLIC_WARNING,
    URL_FILE,
    Guard,
    allowed_hosts,
    is_loopback,
    load_or_create_token,
)

__all__ = ["URL_FILE", "AnnotationServer", "serve_desk"]


def serve_desk(desk: AnnotationDesk, host: str, port: int, *, open_browser: bool = False) -> AnnotationServer:
    """Start serving ``desk`` with the run's access token; warns when other machines can reach the page."""
    run_dir = desk.store.run_dir
    server = AnnotationServer(desk, Guard(load_or_create_token(run_dir)), host=host, port=port,
                              run_dir_hint=str(run_dir), url_file=run_dir / URL_FILE)
    url = server.start()
    if not is_loopback(host):
        print(PUBLIC_WARNING.format(host=host), file=sys.stderr)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    return server


class AnnotationServer:
    """Serves an :class:`AnnotationDesk` on ``host:port`` (port 0 picks a free one) until :meth:`stop`.

    While it runs, the page's URL (with the token) is in ``url_file`` (mode 0600), and SIGTERM to the main
    thread raises ``KeyboardInterrupt`` so that the server stops cleanly and removes that file.
    """

    def __init__(self, desk: AnnotationDesk, guard: Guard, *, host: str = "127.0.0.1", port: int = 0,
                 run_dir_hint: str = "RUN_DIR", url_file: Path | None = None) -> None:
        self.desk, self.guard, self.host, self.requested_port, self.url_file = desk, guard, host, port, url_file
        self.app = AnnotationApp(desk, guard, run_dir_hint)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._sigterm: Any = None

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the URL with the access token."""
        if self._server is not None:
            return self.url
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise AtgenError(f"cannot serve the annotation page on {self.host}:{self.requested_port}: "
                             f"{exc.strerror or exc}; choose another port (0 picks a free one) or host") from None
        self._port = int(sock.getsockname()[1])
        self.app.hosts = allowed_hosts(self.host, self._port)
        # No access log: it would print the query string, token included. Disconnects are not errors.
        config = uvicorn.Config(self.app.asgi, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", proxy_headers=False, server_header=False, timeout_graceful_shutdown=2)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"atgen-annotate-{self._port}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL, None
        ):
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)
        if self.url_file is not None:
            atomic_write(self.url_file, self.url + "\n", permissions=0o600)
        return self.url

    def stop(self) -> None:
        """Stop serving, release the port and remove the URL file (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None
        if self.url_file is not None:
            self.url_file.unlink(missing_ok=True)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the annotation server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` as a browser on this machine reaches it."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def url(self) -> str:
        """The page URL including the access token (give it only to your annotators)."""
        return f"{self.base_url}/?{urlencode({'token': self.guard.token})}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
