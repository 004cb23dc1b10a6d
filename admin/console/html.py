"""Server-rendered HTML for the console: every value goes through `esc`, pages carry headers
that forbid framing (the approve button must not be clickjacked), scripts and caching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape

from aiohttp import web

_HEADERS = {
    # No script at all; forms may only post back here; nobody may frame the page.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The verification URL may carry a user code; it must not leak to other sites.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem}
header{display:flex;justify-content:space-between;align-items:center}
.msg{padding:.6rem 1rem;border-radius:4px;background:#eef}
.error{background:#fee}
code{font-size:1.1rem}
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(t: dt.datetime | None) -> str:
    return "" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    """`body` is HTML built by these helpers, every dynamic value already escaped."""
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)} - Volt</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return web.Response(
        text=document, status=status, content_type="text/html", headers=dict(_HEADERS)
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, id: str) -> str:
    """Cells are escaped, except `Raw` ones (buttons built here)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, Raw) else esc(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    if not body:
        body = f"<tr><td colspan={len(headers)}>None.</td></tr>"
    return f"<table id={esc(id)}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Raw(str):
    """HTML this module built from escaped parts."""


def hidden(name: str, value: str) -> str:
    return f'<input type=hidden name="{esc(name)}" value="{esc(value)}">'


def message(text: str, *, error: bool = False, id: str = "message") -> str:
    return f'<p id="{esc(id)}" class="msg{" error" if error else ""}">{esc(text)}</p>'
