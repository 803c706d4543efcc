"""``atgen annotate RUN_DIR`` (added by the plugin): serving a stopped run, and its errors."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from atgen_human_annotator.cli import register, serve_run
from human_annotator_testkit import Client

from atgen_core.cli import main
from atgen_core.store import RunLock, RunStore

# Runs `atgen annotate ...` exactly as the console script does (the plugin adds the command).
CLI = "import sys\nfrom atgen_core.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="atgen")
    register(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_the_plugin_adds_the_annotate_command_to_atgen(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "annotate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["annotate", "--help"])
    assert "RUN_DIR" in capsys.readouterr().out


def test_bad_ports_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("annotate", "run", "--port", "70000")
    assert "--port must be from 0 to 65535" in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_command_serves_the_latest_selection_until_stopped(run_store: RunStore, stop_signal: int) -> None:
    run_store.close()
    run_dir = run_store.run_dir
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "annotate", str(run_dir), "--annotator", "alice"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A background job (nohup, `cmd &` in a script) inherits SIGINT as ignored, and Python then keeps it
        # ignored: give the command the default disposition a terminal user has, so Ctrl-C reaches it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "round 0" in lines[0] and "4 of 4 item(s) to annotate" in lines[0], lines
        url = lines[1].split("open ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        base, token = url.split("/?token=")
        client = Client(base, token).login()
        assert client.answer(1, "labelled from the CLI").status == 303
        assert "1 of 4 done" in proc.stdout.readline()
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped: 1 saved, 0 skipped, 3 left" in out
    store = RunStore(run_dir, create=False)
    try:
        assert [(r.id, r.text, r.annotator) for r in store.labels()] == [("ex-0", "labelled from the CLI", "alice")]
    finally:
        store.close()
    assert not (run_dir / "annotate.url").exists()


def test_the_command_refuses_a_run_in_use(run_store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    lock = RunLock(run_store.run_dir)
    lock.acquire()
    try:
        (run_store.run_dir / "annotate.url").write_text("http://127.0.0.1:1/?token=x\n")
        assert serve_run(run_store.run_dir) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "in use by another atgen process" in err and "annotate.url" in err


def test_the_command_explains_a_run_without_selection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    RunStore(tmp_path / "fresh").close()
    assert serve_run(tmp_path / "fresh") == 2
    assert "no selection yet" in capsys.readouterr().err
    assert serve_run(tmp_path / "missing") == 2
    assert "not an atgen run directory" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_guidelines_come_from_the_run_spec_or_the_option(run_store: RunStore, tmp_path: Path) -> None:
    guide = tmp_path / "guide.txt"
    guide.write_text("Use <short> sentences.\n", encoding="utf-8")
    run_store.set_meta("spec", '{"name": "cli", "annotator": {"name": "human", "config": '
                               '{"guidelines_file": "guide.txt", "show_draft": false}}}')
    run_store.set_meta("base_dir", str(tmp_path))
    for option in (None, guide):
        stop = threading.Event()
        out = io.StringIO()
        worker = threading.Thread(target=serve_run, args=(run_store.run_dir,),
                                  kwargs={"out": out, "stop": stop, "guidelines_file": option})
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while "open http" not in out.getvalue():
                assert time.monotonic() < deadline and worker.is_alive()
                time.sleep(0.02)
            url = out.getvalue().split("open ", 1)[1].split()[0]
            base, token = url.split("/?token=")
            page = Client(base, token).login().get("/item/1")
            assert "Use &lt;short&gt; sentences." in page.body
        finally:
            stop.set()
            worker.join(timeout=10)
        assert not worker.is_alive()
