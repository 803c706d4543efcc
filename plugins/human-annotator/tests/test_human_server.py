"""Serving: revoking the token by deleting its file, quiet disconnects, SIGTERM during `atgen run`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from atgen_human_annotator.security import TOKEN_FILE, load_or_create_token
from human_annotator_testkit import Served

from atgen_core.store import RunStore

CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"


def test_deleting_the_token_file_revokes_urls_and_sessions_at_once(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    served = serve(run_store)
    client = served.client().login()
    form = client.form(1)
    (run_store.run_dir / TOKEN_FILE).unlink()
    assert client.get("/item/1").status == 401
    assert client.get(f"/?token={client.token}").status == 401
    assert client.post("/submit", {**form, "action": "save", "text": "after revocation"}).status == 401
    assert run_store.attempts() == []
    new_token = load_or_create_token(run_store.run_dir)  # a new token file does not bring the old one back
    assert new_token != client.token and client.get("/item/1").status == 401


def test_a_browser_that_disconnects_leaves_no_traceback(
    run_store: RunStore, serve: Callable[..., Served], capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = serve(run_store)
    client = served.client().login()
    caplog.set_level(logging.DEBUG)
    for path in ("/item/1", "/static/app.js", "/overview"):
        sock = socket.create_connection(("127.0.0.1", served.server.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.server.port}\r\nCookie: {client.cookie}\r\n\r\n"
                     .encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, do not read
        sock.close()
    time.sleep(0.3)
    assert client.get("/item/1").status == 200  # still serving
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out and "BrokenPipe" not in captured.err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_sigterm_during_a_run_stops_the_page_and_removes_the_url_file(tmp_path: Path) -> None:
    if not (CORE_TESTS / "atgen_test_components.py").exists():
        pytest.skip("the core's fake components (tests/atgen_test_components.py) are not available")
    spec = {
        "name": "sigterm", "data": {"source": {"name": "memory", "config": {"generate": 20}}, "test_size": 5},
        "strategy": "test-random", "annotator": "human", "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 2, "iterations": 0}, "output_dir": str(tmp_path / "run"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "ATGEN_PLUGIN_MODULES": "atgen_test_components",
           "PYTHONPATH": os.pathsep.join([str(CORE_TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "atgen_core", "run", str(tmp_path / "spec.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url_file = tmp_path / "run" / "annotate.url"
    try:
        deadline = time.monotonic() + 60
        while not url_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err  # handled like Ctrl-C: "interrupted; ... resume"
    assert "interrupted" in err and "Traceback" not in err
    assert not url_file.exists()
