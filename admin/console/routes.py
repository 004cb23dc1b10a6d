"""`/console`: the signed-in user's org at a glance (API keys, signed-in CLIs, usage, leases),
signing a CLI out, and the page after sign-out. Authenticated by the session cookie, so the
routes are `public` to the bearer middleware and check the session themselves."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from aiohttp import web

from admin.console import queries
from admin.console.html import Raw, esc, hidden, message, page, table, when
from admin.signin.device.store import revoke_grant_for_org
from admin.signin.session.request import current_session, form_for_write
from admin.signin.web import redirect
from voltcore.appkeys import AUTHENTICATOR, POOL
from voltcore.http import public
from voltcore.principal import key_status

routes = web.RouteTableDef()


def to_login(return_to: str) -> web.Response:
    return redirect(f"/auth/oidc/login?return_to={quote(return_to, safe='')}")


@routes.get("/console")
@public
async def console(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        return to_login("/console")
    pool, org_id = request.app[POOL], session.org_id
    now = dt.datetime.now(dt.UTC)
    keys = [
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
    usage = [
        (u["model"], u["requests"], u["input_tokens"], u["output_tokens"])
        for u in await queries.usage_by_model(pool, org_id)
    ]
    leases = [
        (
            lease["id"],
            f"{lease['gpu_count']} x {lease['gpu_type']}",
            lease["metro"],
            lease["status"],
            when(lease["created_at"]),
            when(lease["expires_at"]),
        )
        for lease in await queries.leases(pool, org_id)
    ]
    body = (
        f"<header><h1 id=org>{esc(session.org_name)}</h1>"
        f'<form method=post action="/auth/logout">{hidden("csrf_token", session.csrf_token)}'
        f"<span id=who>{esc(session.email)} ({esc(session.role)})</span> "
        "<button id=logout>Sign out</button></form></header>"
        + (
            '<p><a id=approve-device href="/oauth/device">Approve a device (CLI sign-in)</a></p>'
            if can_write
            else ""
        )
        + "<h2>API keys</h2>"
        + table(["Name", "Key", "Scopes", "Status", "Created", "Last used"], keys, id="keys")
        + "<h2>Signed-in CLIs</h2>"
        + table(["Client", "Scopes", "Approved by", "Since", ""], grants, id="cli-sessions")
        + "<h2>Usage, last 30 days</h2>"
        + table(["Model", "Requests", "Input tokens", "Output tokens"], usage, id="usage")
        + "<h2>GPU leases</h2>"
        + table(["Lease", "GPUs", "Metro", "Status", "Created", "Expires"], leases, id="leases")
    )
    return page(session.org_name, body)


@routes.post("/console/cli-sessions/{grant_id}/revoke")
@public
async def revoke_cli(request: web.Request) -> web.Response:
    """Sign a CLI out: its access and refresh tokens stop working everywhere."""
    session, _ = await form_for_write(request)
    grant_id = request.match_info["grant_id"]
    # Another org's grant matches no row: nothing happens, and nothing says it exists.
    for token_id in await revoke_grant_for_org(request.app[POOL], session.org_id, grant_id):
        request.app[AUTHENTICATOR].forget(token_id)
    return redirect("/console", status=303)


@routes.get("/console/signed-out")
@public
async def signed_out(request: web.Request) -> web.Response:
    return page(
        "Signed out",
        "<h1>Signed out</h1>"
        + message("You have signed out of the Volt console.")
        + '<p><a id=sign-in href="/auth/oidc/login">Sign in again</a></p>',
    )
