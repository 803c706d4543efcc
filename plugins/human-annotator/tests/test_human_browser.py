"""The annotation page in a real headless Chromium (Playwright driving the system's chromium).

Needs ``pip install playwright`` and a chromium binary (``apt-get install chromium``; set
``ATGEN_CHROMIUM`` to use another one). Skipped cleanly when either is missing. Set
``ATGEN_SCREENSHOT`` to a file path to keep the screenshot (docs/img/annotate.png was made this way).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from human_annotator_testkit import Served, make_examples, round_attempts

from atgen_core import AnnotationItem, Example
from atgen_core.annotation import RunAnnotationStore
from atgen_core.store import RunStore

pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium() -> str | None:
    configured = os.environ.get("ATGEN_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    path = _chromium()
    if path is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set ATGEN_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path, args=ARGS)
        except Exception as exc:  # a broken browser install is an environment problem, not a failure
            pytest.skip(f"chromium at {path} does not start under playwright: {exc}")
        yield launched
        launched.close()


def labels(store: RunStore) -> dict[str, str]:
    return {r.id: r.text for r in store.labels()}


def test_a_batch_annotated_end_to_end_in_the_browser(
    browser: Any, run_store: RunStore, serve: Callable[..., Served]
) -> None:
    examples = {e.id: e for e in make_examples(6)}
    items = [AnnotationItem(examples[f"ex-{i}"], draft=f"draft {i}") for i in range(4)]
    served = serve(run_store, items=items, guidelines="One sentence, no names.")
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    page.set_default_timeout(10_000)

    page.goto(served.server.url)
    page.wait_for_url("**/item/1")
    assert page.locator("#answer").input_value() == "draft 0"  # the model's draft, ready to post-edit
    assert "One sentence, no names." in page.inner_text(".guidelines")
    assert page.locator("#answer").evaluate("el => document.activeElement === el")

    # Type, save with the keyboard.
    page.fill("#answer", "first answer")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/item/2?*")
    assert labels(run_store) == {"ex-0": "first answer"}
    assert "Saved item 1." in page.inner_text("#message")

    # An empty answer is refused in the page, nothing is stored.
    page.fill("#answer", "   ")
    page.click("#save")
    assert page.locator("#client-error").is_visible()
    assert "empty" in page.inner_text("#client-error")
    assert "ex-1" not in labels(run_store)
    page.fill("#answer", "second answer")
    page.click("#save")
    page.wait_for_url("**/item/3?*")

    # The server restarts: the same browser session carries on where it was.
    served.stop()
    restarted = serve(run_store)
    page.goto(restarted.server.base_url + "/")
    page.wait_for_url("**/item/3")

    # An input with markup shows as text; skip it.
    assert "<script>alert(\"x\")</script>" in page.inner_text("#input")
    page.click("#skip")
    page.wait_for_url("**/item/4?*")
    assert round_attempts(run_store, 0)["ex-2"]["status"] == "skipped"

    # Reload mid-way: nothing is lost.
    page.reload()
    assert page.inner_text("#done-count") == "3 of 4 done"
    assert page.locator(".strip .dot.ok").count() == 2 and page.locator(".strip .dot.skipped").count() == 1

    # Go back with the keyboard and answer the skipped item after all.
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    page.wait_for_url("**/item/3")
    assert page.inner_text("#status").startswith("skipped")
    page.fill("#answer", "third, after all")
    page.click("#save")
    page.wait_for_url("**/item/4?*")

    # Edit an earlier answer from the item strip; the reset button brings the draft back.
    page.click(".strip a[href='/item/1']")
    page.wait_for_url("**/item/1")
    assert page.locator("#answer").input_value() == "first answer"
    page.click("#use-draft")
    assert page.locator("#answer").input_value() == "draft 0"
    page.fill("#answer", "first answer, edited")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/item/4?*")

    page.fill("#answer", "fourth")
    page.click("#save")
    page.wait_for_url("**/overview?*")
    assert page.locator("#all-done").is_visible()
    assert labels(run_store) == {"ex-0": "first answer, edited", "ex-1": "second answer",
                                 "ex-2": "third, after all", "ex-3": "fourth"}
    assert round_attempts(run_store, 0)["ex-0"]["revision"] == 2
    assert "alert" not in dialogs  # the payload never ran
    context.close()


def test_a_conflict_is_explained_in_the_page(browser: Any, run_store: RunStore, serve: Callable[..., Served]) -> None:
    served = serve(run_store)
    context = browser.new_context()
    first, second = context.new_page(), browser.new_context().new_page()
    for page in (first, second):
        page.set_default_timeout(10_000)
        page.goto(served.server.url.replace("/?", "/item/1?"))
        page.wait_for_url("**/item/1")
    first.fill("#answer", "from the first tab")
    first.click("#save")
    first.wait_for_url("**/item/2?*")
    second.fill("#answer", "from the second tab")
    second.click("#save")
    second.wait_for_load_state()
    assert "Someone else changed this item" in second.inner_text("#message")
    assert second.locator("#answer").input_value() == "from the second tab"
    assert "from the first tab" in second.inner_text("#theirs")
    assert labels(run_store) == {"ex-0": "from the first tab"}
    second.click("#save")  # deliberate overwrite from the conflict page
    second.wait_for_url("**/item/3?*")  # item 2 is open in the first tab: this annotator gets the next one
    assert labels(run_store) == {"ex-0": "from the second tab"}
    context.close()


def test_the_open_page_moves_on_to_the_next_batch_by_itself(
    browser: Any, run_store: RunStore, serve: Callable[..., Served]
) -> None:
    examples = {e.id: e for e in make_examples(6)}
    served = serve(run_store, items=[AnnotationItem(examples[f"ex-{i}"]) for i in range(4)], mode="loop")
    for i in range(4):
        served.desk.submit(round_=0, id_=f"ex-{i}", expected_revision=0, action="save", text=f"answer {i}")
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(served.server.url)
    page.wait_for_url("**/overview")
    assert page.locator("#all-done").is_visible()
    run_store.save_selection(1, ["ex-4", "ex-5"], "test")
    served.desk.open_round(1, [AnnotationItem(examples["ex-4"], draft="next draft"), AnnotationItem(examples["ex-5"])])
    page.wait_for_url("**/item/1")  # the overview checks the state every few seconds
    assert page.locator("#answer").input_value() == "next draft"
    assert page.inner_text("#done-count") == "0 of 2 done"
    page.close()


def test_screenshot_of_the_page(browser: Any, tmp_path: Path, serve: Callable[..., Served]) -> None:
    store = RunStore(tmp_path / "shot")
    article = (
        "The council approved plans for a new cycle path along the river on Tuesday. The 4km route will link "
        "the railway station with the university campus and is expected to open next spring.\n\nLocal groups "
        "welcomed the decision but said more secure bike parking was needed in the town centre."
    )
    examples = [Example(id=f"xsum-{i}", input=article if i == 3 else f"Article {i}", prompt="") for i in range(8)]
    store.save_examples("pool", examples)
    store.save_selection(2, [e.id for e in examples], "huds")
    store.set_meta("spec", '{"name": "xsum-huds"}')
    for i in range(3):
        RunAnnotationStore(store).save_answer(2, _web_ok(f"xsum-{i}", f"Summary {i}."), "human", 0)
    items = [AnnotationItem(examples[3], draft="The council approved a new 4km cycle path by the river.")]
    served = serve(store, round_=2, items=items, run_name="xsum-huds",
                   guidelines="Write a one-sentence summary of the article (at most 25 words).\n"
                              "Keep facts from the text only; fix the draft rather than rewriting it.")
    page = browser.new_page(viewport={"width": 1180, "height": 620})
    page.goto(served.server.url.replace("/?", "/item/4?"))
    page.wait_for_url("**/item/4")
    target = tmp_path / "annotate.png"
    page.screenshot(path=str(target))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    keep = os.environ.get("ATGEN_SCREENSHOT")
    if keep:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, keep)
    page.close()
    store.close()


def _web_ok(id_: str, text: str) -> Any:
    from atgen_core import AnnotationResult

    return AnnotationResult(id=id_, status="ok", text=text, meta={"web": True, "by": "human"})
