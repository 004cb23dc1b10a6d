"""`/console/keys`: the org's API keys and its signed-in devices (CLI device approvals), and
signing a device out."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from admin.console import queries
from admin.console.html import Raw, esc, hidden, table, when
from admin.console.layout import Page, console_page
from admin.signin.device.store import revoke_grant_for_org
from admin.signin.session.request import form_for_write
from admin.signin.session.store import Session
from admin.signin.web import redirect
from voltcore.appkeys import AUTHENTICATOR, POOL
from voltcore.http import public
from voltcore.principal import key_status

routes = web.RouteTableDef()


@routes.get("/console/keys")
@console_page("keys")
async def keys(request: web.Request, session: Session) -> Page:
    pool, org_id = request.app[POOL], session.org_id
    now = dt.datetime.now(dt.UTC)
    rows = [
        (
            k["name"],
            k["redacted_value"],
            " ".join(sorted(k["scopes"])),
            key_status(k["revoked_at"], k["expires_at"], now),
            when(k["created_at"]),
            when(k["last_used_at"]),
        )
        for k in await queries.api_keys(pool, org_id)
    ]
    can_write = "write" in session.principal.scopes
    grants = []
    for g in await queries.cli_grants(pool, org_id):
        revoke = ""
        if can_write:
            revoke = Raw(
                f'<form method=post action="/console/cli-sessions/{esc(g["grant_id"])}/revoke">'
                f"{hidden('csrf_token', session.csrf_token)}<button>Revoke</button></form>"
            )
        grants.append(
            (g["client_id"], " ".join(sorted(g["scopes"])), g["email"], when(g["since"]), revoke)
        )
    body = (
        "<h2>API keys</h2>"
        + table(["Name", "Key", "Scopes", "Status", "Created", "Last used"], rows, id="keys")
        + "<h2>Signed-in devices</h2>"
        + (
            '<p><a id=approve-device href="/oauth/device">Approve a device (CLI sign-in)</a></p>'
            if can_write
            else ""
        )
        + table(["Client", "Scopes", "Approved by", "Since", ""], grants, id="cli-sessions")
    )
    return Page("Keys and devices", body)


@routes.post("/console/cli-sessions/{grant_id}/revoke")
@public
async def revoke_cli(request: web.Request) -> web.Response:
    """Sign a CLI out: its access and refresh tokens stop working everywhere."""
    session, _ = await form_for_write(request)
    grant_id = request.match_info["grant_id"]
    # Another org's grant matches no row: nothing happens, and nothing says it exists.
    for token_id in await revoke_grant_for_org(request.app[POOL], session.org_id, grant_id):
        request.app[AUTHENTICATOR].forget(token_id)
    return redirect("/console/keys", status=303)
