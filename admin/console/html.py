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
nav{display:flex;gap:1rem;flex-wrap:wrap;border-bottom:1px solid #ddd;padding:.4rem 0}
main{margin-top:1rem}
nav a{text-decoration:none;color:#0057a3}
nav a[aria-current=page]{font-weight:bold;color:#222}
figure.chart{margin:0 0 1.5rem}
figure.chart figcaption{font-weight:bold;margin-bottom:.3rem}
svg .tick,svg .x-tick,svg .axis-label{fill:#555}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.8rem;padding:0;font-size:.85rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.note{color:#555}
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(t: dt.datetime | int | None) -> str:
    """A time for people; API objects' unix seconds too."""
    if t is None:
        return ""
    if isinstance(t, int):
        t = dt.datetime.fromtimestamp(t, dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


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


def download(text: str, filename: str, *, content_type: str = "application/yaml") -> web.Response:
    """A file the browser saves (a minted kubeconfig): never cached, never sniffed."""
    headers = dict(_HEADERS) | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return web.Response(text=text, content_type=content_type, headers=headers)


def note(text: str, *, id: str) -> str:
    """Why a part of a page is empty or missing (a product not configured here)."""
    return f'<p id="{esc(id)}" class=note>{esc(text)}</p>'
