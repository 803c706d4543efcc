"""HTML of the annotation pages. Every dynamic value goes through :func:`esc` (``html.escape``).

The pages work without JavaScript (plain forms, post/redirect/get); ``static/app.js`` only adds
keyboard shortcuts, the draft reset button, a client-side empty check, an unsaved-changes warning and
the wait for the next batch. The Content-Security-Policy forbids inline scripts and styles, so the
markup holds no ``style=`` or ``on...=`` attributes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from atgen_human_annotator.desk import ItemView

__all__ = ["esc", "item_page", "message_page", "overview_page"]

_STATUS_TEXT = {"pending": "not answered", "ok": "saved", "skipped": "skipped"}


def esc(value: object) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def _shorten(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _layout(title: str, body: str, *, header: str = "", page: str = "message", poll: bool = False) -> str:
    poll_attr = ' data-poll="1"' if poll else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title>"
        "<link rel=\"stylesheet\" href=\"/static/style.css\"><script src=\"/static/app.js\" defer></script>"
        f"</head><body data-page=\"{esc(page)}\"{poll_attr}>{header}{body}</body></html>\n"
    )


def _header(run_name: str, round_: int | None, done: int, total: int, position: str = "") -> str:
    where = f"{esc(run_name)} · round {esc(round_)}" if run_name else f"round {esc(round_)}"
    where_html = f"<span class=\"where\">{where}</span>" if round_ is not None else ""
    pos = f"<span class=\"position\">{esc(position)}</span>" if position else ""
    return (
        "<header class=\"bar\"><span class=\"brand\">atgen <b>annotate</b></span>"
        f"{where_html}{pos}"
        f"<span class=\"progress\"><progress max=\"{max(total, 1)}\" value=\"{done}\"></progress>"
        f"<span id=\"done-count\">{done} of {total} done</span></span>"
        "<a class=\"nav\" href=\"/overview\" id=\"overview-link\">Overview</a></header>"
    )


def _help(page: str = "item") -> str:
    if page == "overview":
        return ("<footer class=\"help\"><kbd>Enter</kbd> or <kbd>j</kbd> continue annotating · click a number to "
                "review or correct an answer</footer>")
    return (
        "<footer class=\"help\"><kbd>Ctrl</kbd>+<kbd>Enter</kbd> save &amp; next · "
        "<kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>Enter</kbd> skip · <kbd>Esc</kbd> leave the editor, then "
        "<kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>e</kbd> edit · <kbd>d</kbd> reset to draft · "
        "<kbd>o</kbd> overview</footer>"
    )


def _strip(items: Sequence[ItemView], current: int) -> str:
    links = []
    for view in items:
        classes = f"dot {view.status}" + (" current" if view.n == current else "")
        aria = ' aria-current="page"' if view.n == current else ""
        links.append(
            f"<a class=\"{classes}\" href=\"/item/{view.n}\" title=\"{view.n}: {esc(_STATUS_TEXT[view.status])}\""
            f"{aria}>{view.n}</a>"
        )
    return f"<nav class=\"strip\" aria-label=\"items of this batch\">{''.join(links)}</nav>"


def item_page(
    item: ItemView,
    items: Sequence[ItemView],
    *,
    run_name: str,
    round_: int,
    guidelines: str | None,
    csrf: str,
    opened: float,
    message: str = "",
    message_kind: str = "info",
    text_override: str | None = None,
    theirs: ItemView | None = None,
    revision_override: int | None = None,
    others_here: bool = False,
) -> str:
    """The page of one item: guidelines, raw input, the answer editor (pre-filled) and navigation."""
    total = len(items)
    done = sum(v.done for v in items)
    if text_override is not None:
        prefill = text_override
    elif item.status == "ok":
        prefill = item.text
    else:
        prefill = item.draft or ""
    revision = item.revision if revision_override is None else revision_override
    notices = []
    if message:
        role = "alert" if message_kind in ("error", "conflict") else "status"
        notices.append(f"<div class=\"notice {esc(message_kind)}\" role=\"{role}\" id=\"message\">{esc(message)}</div>")
    if others_here:
        notices.append("<div class=\"notice info\">Another annotator has this item open right now.</div>")
    if item.note:
        notices.append(f"<div class=\"notice info\">This item was {esc(item.note)}.</div>")
    guide = ""
    if guidelines:
        guide = (
            "<details class=\"guidelines\" open><summary>Guidelines</summary>"
            f"<div class=\"text\">{esc(guidelines)}</div></details>"
        )
    badge = f"<span class=\"badge {item.status}\" id=\"status\">{esc(_STATUS_TEXT[item.status])}"
    if item.by and item.status != "pending":
        badge += f" by {esc(item.by)}"
    badge += "</span>"
    if item.draft is not None:
        draft = (
            "<div class=\"draft\"><div class=\"draft-head\"><span>Model draft</span>"
            "<button type=\"button\" id=\"use-draft\" title=\"Put the draft back into the editor (d)\">"
            "Reset to draft</button></div>"
            f"<div class=\"text\" id=\"draft\">{esc(item.draft)}</div></div>"
        )
    else:
        draft = "<div class=\"draft none\">No model draft for this item.</div>"
    their_block = ""
    if theirs is not None:
        stored = esc(theirs.text) if theirs.status == "ok" else f"<em>{esc(_STATUS_TEXT[theirs.status])}</em>"
        who = f" (by {esc(theirs.by)})" if theirs.by else ""
        their_block = (
            f"<div class=\"theirs\"><div class=\"draft-head\"><span>Stored version{who}</span></div>"
            f"<div class=\"text\" id=\"theirs\">{stored}</div></div>"
        )
    prev_link = (f"<a class=\"button\" href=\"/item/{item.n - 1}\" id=\"prev\" rel=\"prev\">← Previous</a>"
                 if item.n > 1 else "<span class=\"button disabled\" id=\"prev\">← Previous</span>")
    next_link = (f"<a class=\"button\" href=\"/item/{item.n + 1}\" id=\"next\" rel=\"next\">Next →</a>"
                 if item.n < total else "<span class=\"button disabled\" id=\"next\">Next →</span>")
    body = (
        f"<main class=\"item\">{''.join(notices)}<div class=\"columns\">"
        f"<section class=\"source\">{guide}"
        f"<h2>Input <span class=\"muted\">item {item.n} of {total} · id {esc(item.id)}</span></h2>"
        f"<div class=\"text input\" id=\"input\">{esc(item.input)}</div></section>"
        "<section class=\"answer\"><form method=\"post\" action=\"/submit\" id=\"answer-form\" autocomplete=\"off\">"
        f"<input type=\"hidden\" name=\"csrf\" value=\"{esc(csrf)}\">"
        f"<input type=\"hidden\" name=\"round\" value=\"{round_}\">"
        f"<input type=\"hidden\" name=\"id\" value=\"{esc(item.id)}\">"
        f"<input type=\"hidden\" name=\"revision\" value=\"{revision}\">"
        f"<input type=\"hidden\" name=\"opened\" value=\"{opened:.3f}\">"
        f"<div class=\"answer-head\"><label for=\"answer\">Your answer</label>{badge}</div>"
        f"<textarea id=\"answer\" name=\"text\" rows=\"9\" autofocus spellcheck=\"true\">\n{esc(prefill)}</textarea>"
        "<div class=\"client-error\" id=\"client-error\" role=\"alert\" hidden></div>"
        "<div class=\"actions\">"
        f"{prev_link}<span class=\"spacer\"></span>"
        "<button type=\"submit\" name=\"action\" value=\"skip\" id=\"skip\" formnovalidate "
        "title=\"Ctrl+Shift+Enter\">Skip</button>"
        "<button type=\"submit\" name=\"action\" value=\"save\" id=\"save\" class=\"primary\" "
        "title=\"Ctrl+Enter\">Save &amp; next</button>"
        f"{next_link}</div></form>{their_block}{draft}</section></div>"
        f"{_strip(items, item.n)}</main>{_help()}"
    )
    header = _header(run_name, round_, done, total, f"item {item.n} of {total}")
    return _layout(f"Item {item.n} of {total} · atgen annotate", body, header=header, page="item")


def overview_page(
    items: Sequence[ItemView],
    *,
    run_name: str,
    round_: int | None,
    mode: str,
    run_dir_hint: str = "RUN_DIR",
    message: str = "",
) -> str:
    """All items of the round with their status; says what happens next when everything is done."""
    total = len(items)
    done = sum(v.done for v in items)
    pending = total - done
    notices = f"<div class=\"notice info\" role=\"status\" id=\"message\">{esc(message)}</div>" if message else ""
    if round_ is None:
        summary = "<p class=\"lead\">Nothing to annotate yet: the run has no selection.</p>"
    elif total == 0:
        summary = "<p class=\"lead\">No item of this batch is waiting for you.</p>"
    elif pending:
        summary = (f"<p class=\"lead\">{pending} of {total} item(s) still to do. "
                   "<a href=\"/\" id=\"continue\">Continue annotating</a></p>")
    elif mode == "loop":
        summary = ("<p class=\"lead\" id=\"all-done\">All items of this batch are done. The run goes on with them; "
                   "this page shows the next batch as soon as it is ready. You can still correct an answer below.</p>")
    else:
        summary = ("<p class=\"lead\" id=\"all-done\">All items are done. You can still correct an answer below. "
                   "Stop the server with Ctrl-C, then continue the run with "
                   f"<code>atgen resume {esc(run_dir_hint)}</code>.</p>")
    rows = []
    for view in items:
        answer = esc(_shorten(view.text)) if view.status == "ok" else f"<em>{esc(_STATUS_TEXT[view.status])}</em>"
        rows.append(
            f"<tr><td class=\"num\"><a href=\"/item/{view.n}\">{view.n}</a></td>"
            f"<td><span class=\"badge {view.status}\">{esc(_STATUS_TEXT[view.status])}</span></td>"
            f"<td>{esc(_shorten(view.input))}</td><td>{answer}</td></tr>"
        )
    table = ""
    if rows:
        table = ("<table class=\"overview\"><thead><tr><th>#</th><th>Status</th><th>Input</th><th>Answer</th>"
                 f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    body = f"<main class=\"overview\">{notices}{summary}{table}</main>{_help('overview')}"
    header = _header(run_name, round_, done, total)
    poll = mode == "loop" and not pending
    return _layout("Overview · atgen annotate", body, header=header, page="overview", poll=poll)


def message_page(title: str, text: str, *, link: bool = True) -> str:
    """A short page for errors (no access, not found, closed batch)."""
    back = "<p><a href=\"/\">Back to the batch</a></p>" if link else ""
    body = f"<main class=\"message\"><h1>{esc(title)}</h1><p>{esc(text)}</p>{back}</main>"
    return _layout(f"{title} · atgen annotate", body)
