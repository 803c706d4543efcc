"""Token file, signed sessions, CSRF tokens and host rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from atgen_human_annotator.security import TOKEN_FILE, Guard, allowed_hosts, is_loopback, load_or_create_token


def test_a_weak_or_world_readable_token_file_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("short\n")
    os.chmod(path, 0o644)
    token = load_or_create_token(tmp_path)
    assert token != "short" and len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)
    assert load_or_create_token(tmp_path) == token  # a good token is kept, its mode tightened
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_sessions_and_csrf_tokens_are_bound_to_the_run_token() -> None:
    guard, other = Guard("a" * 43), Guard("b" * 43)
    cookie = guard.new_session()
    sid = guard.session_id(cookie)
    assert sid is not None and sid in cookie
    assert other.session_id(cookie) is None  # another run's key does not accept it
    assert guard.session_id(sid + ".forged") is None and guard.session_id("") is None
    assert guard.csrf_ok(sid, guard.csrf_token(sid))
    assert not guard.csrf_ok(sid, other.csrf_token(sid)) and not guard.csrf_ok(sid, None)
    assert not guard.csrf_ok(guard.session_id(guard.new_session()) or "", guard.csrf_token(sid))
    assert guard.cookie_name != other.cookie_name
    assert guard.token_ok("a" * 43) and not guard.token_ok("a" * 42) and not guard.token_ok(None)
    with pytest.raises(ValueError):
        Guard("too-short")


def test_host_rules() -> None:
    assert allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert "[::1]:1" in (allowed_hosts("::1", 1) or set())
    assert "10.0.0.5:80" in (allowed_hosts("10.0.0.5", 80) or set())
    assert allowed_hosts("0.0.0.0", 80) is None
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
