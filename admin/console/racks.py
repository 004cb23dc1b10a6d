"""`/console/racks`: the org's Vault racks as the API shows them, one rack's nodes, and the
attestation verdict of each node, computed now by Vault's own attestation (a form: challenging
the nodes may enrol their attestation keys, so it is a POST with the CSRF token and `write`,
as the API asks `write` of it)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.console import queries
from admin.console.html import Raw, esc, hidden, message, note, table, when
from admin.console.layout import Page, console_form, console_page
from admin.signin.session.store import Session
from admin.vault import store, views
from admin.vault.appkeys import VAULT, Vault
from admin.vault.routes import attestation_report
from admin.vault.store import Rack
from voltcore.appkeys import POOL
from voltcore.errors import Conflict, ServiceUnavailable

routes = web.RouteTableDef()


def _vault(request: web.Request) -> Vault | ServiceUnavailable:
    """Vault, or the 503 its API would answer (which says what is missing)."""
    try:
        return request.app[VAULT].get(request.app)
    except ServiceUnavailable as err:
        return err


def _link(rack_id: str) -> str:
    return f'<a href="/console/racks/{esc(rack_id)}">{esc(rack_id)}</a>'


@routes.get("/console/racks")
@console_page("racks")
async def racks(request: web.Request, session: Session) -> Page:
    pool = request.app[POOL]
    vault = _vault(request)
    shown = await views.racks(pool, await queries.racks(pool, session.org_id))
    rows = [
        (
            Raw(_link(r["id"])),
            r["status"],
            r["rack_type"],
            r["metro"],
            r["country"],
            len(r["nodes"]),
            when(r["ready_at"]),
            when(r["released_at"]),
        )
        for r in shown
    ]
    body = "<h2>Vault racks</h2>"
    if isinstance(vault, ServiceUnavailable):
        body += note(vault.message, id="vault-off")
    body += table(
        ["Rack", "Status", "Type", "Metro", "Country", "Nodes", "Ready", "Released"],
        rows,
        id="racks",
    )
    return Page("Vault racks", body)


def _rack_body(
    session: Session, vault: Vault | ServiceUnavailable, rack: dict[str, Any], extra: str = ""
) -> str:
    facts = table(
        ["Status", "Type", "Metro", "Country", "Endpoint", "Ready", "Released"],
        [
            (
                rack["status"],
                rack["rack_type"],
                rack["metro"],
                rack["country"],
                rack["endpoint"],
                when(rack["ready_at"]),
                when(rack["released_at"]),
            )
        ],
        id="rack",
    )
    nodes = table(
        ["Node", "Role", "Status", "Power"],
        [(n["name"], n["role"], n["status"], n["power_state"]) for n in rack["nodes"]],
        id="rack-nodes",
    )
    body = f"<h2 id=rack-id>{esc(rack['id'])}</h2>{facts}<h3>Nodes</h3>{nodes}"
    if rack["last_error"]:
        body += message(rack["last_error"].get("message", ""), error=True, id="rack-error")
    body += "<h3>Attestation</h3>"
    if isinstance(vault, ServiceUnavailable):
        body += note(vault.message, id="vault-off")
    elif rack["status"] != "ready":
        body += note("Nodes are attested once the rack is ready.", id="attest-later")
    elif "write" in session.principal.scopes:
        body += (
            f'<form method=post action="/console/racks/{esc(rack["id"])}/attestation">'
            f"{hidden('csrf_token', session.csrf_token)}"
            "<button id=attest>Verify attestation now</button></form>"
        )
    else:
        body += note("Only an admin of your organization can attest nodes.", id="attest-admin")
    return body + extra


async def _rack(request: web.Request, session: Session) -> tuple[Rack, dict[str, Any]]:
    """The session's org's rack (another org's id is NotFound) and the API's view of it."""
    pool = request.app[POOL]
    rack = await store.RACKS.get(pool, session.org_id, request.match_info["rack_id"])
    return rack, (await views.racks(pool, [rack]))[0]


@routes.get("/console/racks/{rack_id}")
@console_page("racks")
async def rack(request: web.Request, session: Session) -> Page:
    _, shown = await _rack(request, session)
    return Page(shown["id"], _rack_body(session, _vault(request), shown))


def _report(report: dict[str, Any]) -> str:
    rows = [
        (
            n["name"],
            n["node_id"],
            n["verdict"],
            "; ".join(
                f"{name}: {check['reason']}"
                for name, check in sorted(n["checks"].items())
                if not check["ok"]
            ),
            n["error"] or "",
        )
        for n in report["nodes"]
    ]
    return (
        f'<p>Verdict: <b id=attestation-verdict data-verdict="{esc(report["verdict"])}">'
        f"{esc(report['verdict'])}</b> (nonce <code>{esc(report['nonce'])}</code>, "
        f"{esc(when(report['time']))})</p>"
        + table(["Node", "Node id", "Verdict", "Failed checks", "Error"], rows, id="attestation")
    )


@routes.post("/console/racks/{rack_id}/attestation")
@console_form("racks")
async def attest(request: web.Request, session: Session) -> Page:
    vault = _vault(request)
    rack, shown = await _rack(request, session)
    if isinstance(vault, ServiceUnavailable):
        return Page(shown["id"], _rack_body(session, vault, shown), status=503)
    try:
        report = await attestation_report(vault, request.app[POOL], rack)
    except Conflict as err:
        return Page(shown["id"], message(err.message, error=True), status=err.status)
    return Page(shown["id"], _rack_body(session, vault, shown, _report(report)))
