"""`GET /v1/orgs/{org_id}/audit-logs`: the org's own entries in the audit log, newest first."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.errors import InvalidRequest
from voltcore.http import json_response
from voltcore.pagination import ListParams, list_object
from voltcore.validation import parse_query

routes = web.RouteTableDef()


def audit_object(row: asyncpg.Record) -> dict[str, object]:
    return {
        "id": f"audit_{row['seq']}",
        "object": "audit_log",
        "seq": row["seq"],
        "time": int(row["time"].timestamp()),
        "principal": row["principal"],
        "spiffe_id": row["spiffe_id"],
        "method": row["method"],
        "route": row["route"],
        "status": row["status"],
        "request_id": row["request_id"],
        "hash": bytes(row["hash"]).hex(),
    }


@routes.get("/v1/orgs/{org_id}/audit-logs")
async def list_audit_logs(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    principal.require_org(request.match_info["org_id"])
    params = parse_query(request, ListParams)
    before = None
    if params.after is not None:
        raw = params.after.removeprefix("audit_")
        if not raw.isdigit():
            raise InvalidRequest(
                f"Invalid cursor: '{params.after}'.", param="after", code="invalid_cursor"
            )
        before = int(raw)
    rows = await request.app[POOL].fetch(
        """SELECT * FROM audit_log WHERE org_id = $1 AND ($2::bigint IS NULL OR seq < $2)
           ORDER BY seq DESC LIMIT $3""",
        principal.org_id,
        before,
        params.limit + 1,
    )
    items = [audit_object(r) for r in rows[: params.limit]]
    return json_response(list_object(items, has_more=len(rows) > params.limit))
