"""A real Label Studio server for the tests, and a run store with a selected round.

The server comes from the ``label-studio`` pip package installed in its OWN virtualenv (its Django
dependencies would clash with atgen's): the executable is ``$ATGEN_LABEL_STUDIO_BIN``, else
``.venv-ls/bin/label-studio`` at the repository root, else ``label-studio`` on PATH. It starts once per test
session with its default SQLite database in a temporary data dir, bound to 127.0.0.1 on a free port, with a
user and a legacy API token given on the command line. Without an executable, or when it does not come
up, the tests that need it are skipped (saying why).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ls_runs import LabelStudio, make_run

from atgen_core.store import RunStore

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = float(os.environ.get("ATGEN_LABEL_STUDIO_START_TIMEOUT", "420"))


def _executable() -> str | None:
    given = os.environ.get("ATGEN_LABEL_STUDIO_BIN")
    if given:
        return given if Path(given).is_file() else None
    local = REPO / ".venv-ls" / "bin" / "label-studio"
    return str(local) if local.is_file() else shutil.which("label-studio")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str, token: str) -> bool:
    request = urllib.request.Request(f"{url}/api/projects", headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    """Start ``label-studio`` (skip when it is not installed or does not come up in time).

    ``ATGEN_LABEL_STUDIO_URL`` and ``ATGEN_LABEL_STUDIO_TOKEN`` point the tests at a server already running
    instead (its projects get random titles, so nothing of yours is touched).
    """
    running = os.environ.get("ATGEN_LABEL_STUDIO_URL")
    if running:
        yield LabelStudio(running.rstrip("/"), os.environ.get("ATGEN_LABEL_STUDIO_TOKEN", ""))
        return
    exe = _executable()
    if exe is None:
        pytest.skip(
            "no label-studio executable: set ATGEN_LABEL_STUDIO_BIN, or create .venv-ls "
            "(python -m venv .venv-ls && .venv-ls/bin/pip install label-studio)"
        )
    data = tmp_path_factory.mktemp("label-studio-data")
    port, token = _free_port(), secrets.token_hex(20)
    url = f"http://127.0.0.1:{port}"
    log = (data / "server.log").open("wb")
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    command = [
        exe,
        "start",
        "--no-browser",
        "--data-dir",
        str(data),
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--username",
        "atgen-test@example.com",
        "--password",
        secrets.token_hex(12),
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(url, token):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (data / "server.log").read_text(errors="replace")[-2000:]
                pytest.skip(f"label-studio did not start (exit code {process.poll()}); log tail:\n{tail}")
            time.sleep(1.0)
        yield LabelStudio(url, token)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture
def env_token(label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch) -> LabelStudio:
    """The server, with its token exported as LABEL_STUDIO_API_KEY."""
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    return label_studio


@pytest.fixture
def run_store(tmp_path: Path) -> Iterator[RunStore]:
    """A run store with round 0 selecting ex-0 .. ex-3."""
    store = make_run(tmp_path / "run")
    yield store
    store.close()
