"""The annotation web app at the HTTP level: access, CSRF, escaping, save/edit/skip, conflicts, reloads."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.security import TOKEN_FILE
from atgen_human_annotator.server import URL_FILE
from human_annotator_testkit import XSS, Client, Served, make_examples, round_attempts

from atgen_core import AnnotationItem, AnnotationResult, Example
from atgen_core.store import RunStore


def labels(store: RunStore) -> dict[str, str]:
    return {r.id: r.text for r in store.labels()}


def test_every_request_needs_the_token_or_a_valid_session(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    anonymous = served.client()
    for path in ("/", "/item/1", "/overview", "/api/state", "/static/app.js"):
        assert anonymous.get(path).status == 401, path
    assert anonymous.get("/?token=not-the-token").status == 403
    forged = Client(served.server.base_url, "x", cookie=f"{served.server.guard.cookie_name}=abc.def")
    assert forged.get("/item/1").status == 401
    reply = anonymous.post("/submit", {"round": 0, "id": "ex-0", "revision": 0, "action": "save", "text": "hi"})
    assert reply.status == 401
    assert run_store.attempts() == []


def test_the_token_opens_an_httponly_strict_session_and_leaves_the_url(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    served = serve(run_store)
    client = served.client()
    reply = client.get(f"/item/2?token={client.token}")
    assert reply.status == 303
    assert reply.header("Location") == "/item/2"
    cookie = reply.header("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.token not in cookie
    client.cookie = cookie.split(";")[0]
    assert client.get("/").header("Location") == "/item/1"
    page = client.get("/item/2")
    assert page.status == 200 and "item 2 of 4" in page.body
    assert "script-src 'self'" in page.header("Content-Security-Policy")
    assert page.header("X-Content-Type-Options") == "nosniff"


def test_token_file_is_private_and_reused(run_store: RunStore, serve: Callable[..., Served]) -> None:
    first = serve(run_store)
    token_file = run_store.run_dir / TOKEN_FILE
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(run_store.run_dir / URL_FILE).st_mode) == 0o600
    assert (run_store.run_dir / URL_FILE).read_text().strip() == first.server.url
    second = serve(run_store)
    assert first.server.guard.token == second.server.guard.token
    assert len(first.server.guard.token) >= 32


def test_a_wrong_or_missing_csrf_token_is_refused_and_nothing_is_stored(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    served = serve(run_store)
    alice = served.client().login()
    bob = served.client().login()
    form = alice.form(1)
    for bad in ("", "forged", bob.form(1)["csrf"]):
        reply = alice.post("/submit", {**form, "csrf": bad, "action": "save", "text": "answer"})
        assert reply.status == 403, bad
        assert "Nothing was saved" in reply.body
    no_field = {k: v for k, v in form.items() if k != "csrf"}
    assert alice.post("/submit", {**no_field, "action": "save", "text": "answer"}).status == 403
    assert run_store.attempts() == [] and run_store.labels() == []


def test_cross_site_posts_and_foreign_hosts_are_refused(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    form = client.form(1)
    evil = client.post("/submit", {**form, "action": "save", "text": "x"}, headers={"Origin": "http://evil.example"})
    assert evil.status == 403
    site = client.post("/submit", {**form, "action": "save", "text": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert site.status == 403
    sandboxed = client.post("/submit", {**form, "action": "save", "text": "x"}, headers={"Origin": "null"})
    assert sandboxed.status == 403
    rebound = client.get("/item/1", headers={"Host": f"attacker.example:{served.server.port}"})
    assert rebound.status == 421
    assert run_store.attempts() == []
    same = client.post("/submit", {**form, "action": "save", "text": "ok"},
                       headers={"Origin": served.server.base_url})
    assert same.status == 303


def test_inputs_drafts_answers_and_guidelines_are_rendered_escaped(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    examples = {e.id: e for e in make_examples(6)}
    items = [AnnotationItem(examples["ex-2"], draft=f"draft {XSS}")]
    served = serve(run_store, items=items, guidelines=f"Rule 1 {XSS}")
    client = served.client().login()
    page = client.get("/item/3")
    assert page.status == 200
    assert "<script>" not in page.body.replace('<script src="/static/app.js" defer></script>', "")
    assert "<img src=x" not in page.body
    assert "Item 2 says &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.body
    assert page.body.count("&lt;img src=x onerror=alert(1)&gt;") == 4  # input, guidelines, draft, editor
    assert page.textarea() == f"draft {XSS}"
    assert client.answer(3, f"answer {XSS}").status == 303
    assert labels(run_store)["ex-2"] == f"answer {XSS}"
    overview = client.get("/overview").body
    assert "<img src=x" not in overview and "answer &lt;script&gt;" in overview
    assert client.get("/item/3").textarea() == f"answer {XSS}"


def test_ids_with_markup_are_escaped_and_still_round_trip(run_store: RunStore, serve: Callable[..., Served]) -> None:
    nasty = 'id"><svg onload=alert(1)>&amp;'
    run_store.save_examples("extra", [Example(id=nasty, input="plain input", prompt="")])
    run_store.save_selection(1, [nasty], "test")
    served = serve(run_store, round_=1)
    client = served.client().login()
    page = client.get("/item/1")
    assert "<svg" not in page.body and page.hidden("id") == nasty
    assert client.answer(1, "fine").status == 303
    assert labels(run_store) == {nasty: "fine"}


def test_save_writes_the_label_at_once_and_moves_to_the_next_item(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    served = serve(run_store, annotator="alice")
    client = served.client().login()
    reply = client.answer(1, "  The cat sat.\r\nOn the mat.  ")
    assert reply.status == 303
    assert reply.header("Location") == "/item/2?m=saved&k=1"
    assert labels(run_store) == {"ex-0": "The cat sat.\nOn the mat."}
    attempt = round_attempts(run_store, 0)["ex-0"]
    assert (attempt["status"], attempt["annotator"], attempt["revision"]) == ("ok", "alice", 1)
    assert attempt["meta"]["web"] is True and attempt["meta"]["draft"] == "none"
    assert "Saved item 1." in client.get("/item/2?m=saved&k=1").body
    state = client.state()
    assert (state["done"], state["total"], state["pending"]) == (1, 4, 3)


def test_an_empty_answer_is_rejected_with_a_message(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    reply = client.answer(1, " \r\n\t ")
    assert reply.status == 400
    assert "The answer is empty" in reply.body
    assert run_store.attempts() == []


def test_going_back_and_editing_updates_the_stored_label(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    assert client.answer(1, "first").status == 303
    assert client.answer(2, "second").status == 303
    page = client.get("/item/1")
    assert page.textarea() == "first" and page.hidden("revision") == "1"
    assert client.answer(1, "first, corrected").status == 303
    assert labels(run_store) == {"ex-0": "first, corrected", "ex-1": "second"}
    assert len(run_store.labels()) == 2
    assert round_attempts(run_store, 0)["ex-0"]["revision"] == 2


def test_a_stale_edit_gets_409_and_keeps_the_other_answer(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    alice = served.client().login()
    bob = served.client().login()
    alice_form = alice.form(1)
    bob_form = bob.form(1)
    assert alice.post("/submit", {**alice_form, "action": "save", "text": "alice's"}).status == 303
    stale = bob.post("/submit", {**bob_form, "action": "save", "text": "bob's"})
    assert stale.status == 409
    assert "Someone else changed this item" in stale.body
    assert stale.textarea() == "bob's"  # bob's text is kept for him
    assert "alice&#x27;s" in stale.body  # and the stored version is shown
    assert labels(run_store) == {"ex-0": "alice's"}
    # Saving again from the conflict page is a deliberate overwrite (it carries the new revision).
    again = bob.post("/submit", {**bob_form, "revision": stale.hidden("revision"), "action": "save",
                                 "text": "bob's"})
    assert again.status == 303
    assert labels(run_store) == {"ex-0": "bob's"}


def test_simultaneous_saves_of_one_item_have_exactly_one_winner(
    run_store: RunStore, serve: Callable[..., Served]
) -> None:
    served = serve(run_store)
    clients = [served.client().login() for _ in range(6)]
    forms = [c.form(1) for c in clients]
    statuses: list[int] = [0] * len(clients)
    barrier = threading.Barrier(len(clients))

    def submit(i: int) -> None:
        barrier.wait()
        statuses[i] = clients[i].post("/submit", {**forms[i], "action": "save", "text": f"answer {i}"}).status

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [303] + [409] * (len(clients) - 1)
    winner = statuses.index(303)
    assert labels(run_store) == {"ex-0": f"answer {winner}"}
    assert round_attempts(run_store, 0)["ex-0"]["revision"] == 1


def test_skip_records_a_skip_and_can_be_undone(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    reply = client.answer(1, "ignored text", action="skip")
    assert reply.status == 303 and reply.header("Location") == "/item/2?m=skipped&k=1"
    attempt = round_attempts(run_store, 0)["ex-0"]
    assert attempt["status"] == "skipped" and attempt["text"] == ""
    assert labels(run_store) == {}
    assert client.answer(1, "answered after all").status == 303
    assert labels(run_store) == {"ex-0": "answered after all"}
    assert client.answer(1, "", action="skip").status == 303  # skipping a saved item removes its label
    assert labels(run_store) == {}
    assert round_attempts(run_store, 0)["ex-0"]["revision"] == 3


def test_state_survives_a_reload_and_a_server_restart(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    client.answer(1, "one")
    client.answer(2, "two", action="skip")
    assert client.get("/item/1").textarea() == "one"
    url = served.server.url
    served.stop()
    reopened = RunStore(run_store.run_dir, create=False)
    try:
        again = serve(reopened)
        assert again.server.url.split("?")[1] == url.split("?")[1]  # same token after a restart
        same_session = Client(again.server.base_url, client.token, cookie=client.cookie)
        assert same_session.get("/").header("Location") == "/item/3"
        assert same_session.get("/item/1").textarea() == "one"
        state = same_session.state()
        assert [(i["id"], i["status"], i["text"]) for i in state["items"]] == [
            ("ex-0", "ok", "one"), ("ex-1", "skipped", ""), ("ex-2", "pending", ""), ("ex-3", "pending", "")]
    finally:
        reopened.close()


def test_items_labelled_by_another_annotator_are_not_served(run_store: RunStore, serve: Callable[..., Served]) -> None:
    run_store.record_result(0, AnnotationResult(id="ex-1", status="ok", text="oracle label"), "oracle")
    served = serve(run_store)
    client = served.client().login()
    assert [i["id"] for i in client.state()["items"]] == ["ex-0", "ex-2", "ex-3"]


def test_only_the_embedded_assets_are_served(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    client = served.client().login()
    script = client.get("/static/app.js")
    assert script.status == 200 and script.header("Content-Type").startswith("text/javascript")
    assert "use strict" in script.body
    assert client.get("/static/style.css").header("Content-Type").startswith("text/css")
    for path in ("/static/../pyproject.toml", "/static/%2e%2e/desk.py", "/static/desk.py", "/etc/passwd",
                 "/static//etc/passwd", "/atgen.sqlite", "/annotate-token", "/item/99", "/item/0", "/item/x"):
        assert client.get(path).status == 404, path
    assert client.request("PUT", "/submit").status == 501


def test_a_closed_batch_refuses_answers_for_it(run_store: RunStore, serve: Callable[..., Served]) -> None:
    run_store.save_selection(1, ["ex-4", "ex-5"], "test")
    served = serve(run_store)
    client = served.client().login()
    form = client.form(1)
    served.desk.open_round(1)
    reply = client.post("/submit", {**form, "action": "save", "text": "late"})
    assert reply.status == 409 and "This batch is closed" in reply.body
    assert run_store.attempts() == []
    assert [i["id"] for i in client.state()["items"]] == ["ex-4", "ex-5"]


def test_drafts_prefill_the_editor_and_survive_a_restart(run_store: RunStore, serve: Callable[..., Served]) -> None:
    examples = {e.id: e for e in make_examples(6)}
    items = [AnnotationItem(examples[f"ex-{i}"], draft=f"model says {i}") for i in range(4)]
    served = serve(run_store, items=items)
    client = served.client().login()
    assert client.get("/item/2").textarea() == "model says 1"
    assert client.answer(2, "model says 1").status == 303
    assert round_attempts(run_store, 0)["ex-1"]["meta"]["draft"] == "kept"
    served.stop()
    restarted = serve(run_store)  # no items: drafts come from the store
    client = restarted.client().login()
    assert client.get("/item/4").textarea() == "model says 3"
    hidden = serve(run_store, show_draft=False)
    page = hidden.client().login().get("/item/4")
    assert page.textarea() == "" and "model says 3" not in page.body


def _consume(desk: AnnotationDesk, ids: list[str], timeout: float | None, out: list[Any]) -> None:
    for result in desk.results(0, ids, timeout=timeout, tick=0.05):
        out.append((time.monotonic(), result))


def test_results_arrive_as_answers_are_saved(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store, items=[])
    client = served.client().login()
    got: list[Any] = []
    consumer = threading.Thread(target=_consume, args=(served.desk, ["ex-0", "ex-1"], None, got))
    consumer.start()
    time.sleep(0.2)
    assert got == []
    saved_at = time.monotonic()
    client.answer(1, "one")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r.id for _, r in got] == ["ex-0"]
    assert got[0][0] - saved_at < 1.0
    assert got[0][1].status == "ok" and got[0][1].text == "one" and got[0][1].meta["revision"] == 1
    client.answer(2, "", action="skip")
    consumer.join(timeout=5)
    assert not consumer.is_alive()
    assert [(r.id, r.status) for _, r in got] == [("ex-0", "ok"), ("ex-1", "skipped")]


def test_a_timeout_records_the_rest_as_skipped(run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store, items=[])
    client = served.client().login()
    client.answer(1, "one")
    got: list[Any] = []
    started = time.monotonic()
    _consume(served.desk, ["ex-0", "ex-1", "ex-2"], 0.3, got)
    assert 0.25 < time.monotonic() - started < 3
    assert [(r.id, r.status) for _, r in got] == [("ex-0", "ok"), ("ex-1", "skipped"), ("ex-2", "skipped")]
    attempt = round_attempts(run_store, 0)["ex-1"]
    assert attempt["status"] == "skipped" and attempt["meta"]["timeout"] is True
    assert "not answered before the time limit" in client.get("/item/2").body
    assert client.answer(2, "late but welcome").status == 303  # still editable afterwards
    assert labels(run_store)["ex-1"] == "late but welcome"


def test_odd_requests_get_clean_answers(
    run_store: RunStore, serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    served = serve(run_store)
    client = served.client()
    reply = client.get(f"//evil.example/x?token={client.token}")
    assert reply.status == 303 and reply.header("Location") == "/evil.example/x"  # never off this server
    client.cookie = reply.header("Set-Cookie").split(";")[0]
    assert client.get("/item/1?" + "&".join(f"a{i}=1" for i in range(30))).status == 400
    assert client.post("/submit", {"x": 1}, headers={"Content-Type": "text/plain"}).status == 415
    assert client.request("POST", "/submit", body=b"x" * 10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(10**8)}).status == 413

    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(served.desk, "items", broken)
    assert client.get("/item/1").status == 500
    monkeypatch.undo()
    assert client.get("/item/1").status == 200  # the server keeps serving
