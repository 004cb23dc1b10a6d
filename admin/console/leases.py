"""`/console/leases`: the org's Forge GPU leases as the API shows them, and minting a
kubeconfig for an active one (a form, downloaded as a file) with Forge's own minting code.
Leases are rows in Postgres, listed whether or not this deployment has a cluster; without one
the page says so and offers no minting."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.console import queries
from admin.console.html import Raw, download, esc, hidden, message, note, table, when
from admin.console.layout import Page, console_form, console_page
from admin.forge import store, views
from admin.forge.appkeys import FORGE, FORGE_SETTINGS, Forge
from admin.forge.routes import mint
from admin.signin.session.store import Session
from voltcore.appkeys import POOL
from voltcore.errors import Conflict, ServiceUnavailable

routes = web.RouteTableDef()


def _forge(request: web.Request) -> Forge | ServiceUnavailable:
    """Forge, or the 503 its API would answer (which says what is missing)."""
    try:
        return request.app[FORGE].get(request.app)
    except ServiceUnavailable as err:
        return err


def _mint_form(session: Session, lease: dict[str, Any]) -> Raw:
    return Raw(
        f'<form method=post action="/console/leases/{esc(lease["id"])}/kubeconfig">'
        f"{hidden('csrf_token', session.csrf_token)}"
        f'<button id="mint-{esc(lease["id"])}">Mint kubeconfig</button></form>'
    )


@routes.get("/console/leases")
@console_page("leases")
async def leases(request: web.Request, session: Session) -> Page:
    forge = _forge(request)
    currency = request.app[FORGE_SETTINGS].currency
    can_mint = not isinstance(forge, ServiceUnavailable) and "write" in session.principal.scopes
    rows = []
    for row in await queries.leases(request.app[POOL], session.org_id):
        lease = views.lease(row, currency)
        rows.append(
            (
                lease["id"],
                lease["status"],
                f"{lease['gpu_count']} x {lease['gpu_type']}",
                lease["metro"],
                when(lease["started_at"]),
                when(lease["expires_at"]),
                _mint_form(session, lease) if can_mint and lease["status"] == "active" else "",
            )
        )
    body = "<h2>Forge GPU leases</h2>"
    if isinstance(forge, ServiceUnavailable):
        body += note(f"{forge.message} Kubeconfigs cannot be minted here.", id="forge-off")
    body += table(
        ["Lease", "Status", "GPUs", "Metro", "Started", "Expires", "Kubeconfig"],
        rows,
        id="leases",
    )
    return Page("Forge leases", body)


@routes.post("/console/leases/{lease_id}/kubeconfig")
@console_form("leases")
async def mint_kubeconfig(request: web.Request, session: Session) -> Page | web.Response:
    """The lease's kubeconfig as a file; an unconfigured Forge, an unreachable cluster or a
    lease that is not active gets a page saying so."""
    forge = _forge(request)
    if isinstance(forge, ServiceUnavailable):
        return Page("Forge leases", note(forge.message, id="forge-off"), status=503)
    lease = await store.LEASES.get(
        request.app[POOL], session.org_id, request.match_info["lease_id"]
    )
    try:
        minted = await mint(forge, lease)
    except (Conflict, ServiceUnavailable) as err:
        back = '<p><a href="/console/leases">Back to the leases</a></p>'
        return Page("Forge leases", message(err.message, error=True) + back, status=err.status)
    return download(minted["kubeconfig"], f"{lease.id}.kubeconfig.yaml")
