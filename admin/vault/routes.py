"""Vault's HTTP API: racks (202 + reconciler), BMC credentials, Talos configs, attestation."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Literal

import asyncpg
import yaml
from aiohttp import web
from pydantic import Field

from admin.vault import credentials, store, views
from admin.vault.appkeys import VAULT, Vault
from admin.vault.attest import attest_rack
from admin.vault.states import ALLOCATED, MACHINE, RackEvent, RackState
from admin.vault.store import Rack
from admin.vault.talos import SecretsBundle, machine_config, talosconfig
from voltcore import versioned
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.errors import Conflict, ServiceUnavailable
from voltcore.http import json_response
from voltcore.idempotency import idempotent
from voltcore.pagination import ListParams, list_response
from voltcore.validation import RequestModel, parse_query, read_json

routes = web.RouteTableDef()


class CreateRack(RequestModel):
    metro: str = Field(min_length=1, max_length=64)
    rack_type: str = Field(min_length=1, max_length=128)
    sovereignty: str | None = Field(None, pattern=r"^[A-Z]{2}$")


class RackListParams(ListParams):
    status: RackState | None = None


class CreateCredentials(RequestModel):
    ttl_seconds: int = Field(3600, ge=60, le=86_400)


class TalosParams(RequestModel):
    role: Literal["controlplane", "worker", "talosconfig"] = "controlplane"


class AttestationParams(RequestModel):
    nonce: str | None = Field(None, pattern=r"^[0-9a-fA-F]{16,128}$")


def _vault(request: web.Request) -> Vault:
    return request.app[VAULT].get(request.app)


async def _rack(request: web.Request) -> Rack:
    return await store.RACKS.get(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["rack_id"]
    )


@routes.post("/v1/vault/racks")
async def create_rack(request: web.Request) -> web.Response:
    vault = _vault(request)
    principal = request[PRINCIPAL]
    body = await read_json(request, CreateRack)
    pool = request.app[POOL]

    async def create() -> tuple[int, dict[str, Any]]:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", store.RESERVATION_LOCK)
            free = await store.free_rack(
                conn, metro=body.metro, rack_type=body.rack_type, country=body.sovereignty
            )
            if free is None:
                where = f" in {body.sovereignty}" if body.sovereignty else ""
                raise Conflict(
                    f"No free {body.rack_type} rack in {body.metro}{where}.",
                    param="rack_type",
                    code="insufficient_capacity",
                )
            rack = await store.insert_rack(
                conn,
                principal.org_id,
                free,
                body.sovereignty,
                price=vault.settings.prices.get(free.rack_type),
            )
        vault.wake()
        return 202, views.rack(rack, free)

    return await idempotent(request, pool, principal.org_id, body.model_dump(), create)


@routes.get("/v1/vault/racks")
async def list_racks(request: web.Request) -> web.Response:
    _vault(request)
    params = parse_query(request, RackListParams)
    pool = request.app[POOL]
    return await list_response(
        request,
        "vault_racks",
        params,
        row=Rack.from_record,
        render=lambda racks: views.racks(pool, racks),
        where="$5::text IS NULL OR status = $5",
        args=(params.status and params.status.value,),
    )


@routes.get("/v1/vault/racks/{rack_id}")
async def get_rack(request: web.Request) -> web.Response:
    _vault(request)
    rack = await _rack(request)
    return json_response((await views.racks(request.app[POOL], [rack]))[0])


@routes.delete("/v1/vault/racks/{rack_id}")
async def release_rack(request: web.Request) -> web.Response:
    vault = _vault(request)
    pool = request.app[POOL]

    async def release(rack: Rack) -> Rack | None:
        # Releasing, released, or failed while releasing: already going.
        going = rack.target_status is RackState.RELEASING
        if going or not MACHINE.allows(rack.status, RackEvent.RELEASE):
            return None  # unchanged
        return await store.RACKS.apply(pool, rack, RackEvent.RELEASE, target=RackState.RELEASING)

    # The reconciler may move the rack between our read and write.
    rack = await versioned.change(lambda: _rack(request), release, code="rack_changed")
    vault.wake()
    return json_response((await views.racks(pool, [rack]))[0], status=202)


@routes.post("/v1/vault/racks/{rack_id}/redfish-credentials")
async def mint_credentials(request: web.Request) -> web.Response:
    vault = _vault(request)
    body = await read_json(request, CreateCredentials, allow_empty=True)
    try:
        minted = await credentials.mint(
            request.app[POOL],
            vault.sealer,
            vault.settings,
            request[PRINCIPAL].org_id,
            request.match_info["rack_id"],
            body.ttl_seconds,
        )
    except ServiceUnavailable:
        vault.wake()  # the expired remains of the account are deleted now, not next tick
        raise
    account = minted.account
    return json_response(
        {
            "object": "vault.redfish_credentials",
            "id": account.id,
            "rack_id": minted.rack.id,
            "username": account.username,
            "password": minted.password,
            "role": account.role,
            "expires_at": int(account.expires_at.timestamp()),
            "nodes": [
                {"node_id": n.id, "redfish_url": n.redfish_url, "system_id": n.system_id}
                for n in minted.nodes
            ],
        },
        status=201,
    )


def _secret_material(request: web.Request) -> None:
    """Routes that hand out secrets (Talos CA keys, an admin client certificate) or change
    state on a GET (enrolling attestation keys) need `write`, which the method-based check in
    the auth middleware does not ask of a GET: a read-only key sees racks, never their keys."""
    request[PRINCIPAL].require_scope("write")


@routes.get("/v1/vault/racks/{rack_id}/talos-config")
async def talos_config(request: web.Request) -> web.Response:
    vault = _vault(request)
    _secret_material(request)
    params = parse_query(request, TalosParams)
    pool = request.app[POOL]
    rack = await _rack(request)
    sealed = store.require_state(
        rack, ALLOCATED, "its cluster identity exists once it is allocated"
    )
    bundle_data = vault.sealer.open_json(sealed)
    assert isinstance(bundle_data, dict)
    bundle = SecretsBundle.from_dict(bundle_data)
    physical = await store.inventory_rack(pool, rack.inventory_rack)
    nodes = await store.inventory_nodes(pool, rack.inventory_rack)
    cluster = rack.id.lower().replace("_", "-")
    if params.role == "talosconfig":
        control = [n.address for n in nodes if n.role == "controlplane"]
        text = yaml.safe_dump(
            talosconfig(bundle, cluster_name=cluster, endpoints=control), sort_keys=False
        )
    else:
        docs = machine_config(
            bundle,
            params.role,
            cluster_name=cluster,
            endpoint=physical.endpoint,
            cert_sans=[n.address for n in nodes],
        )
        text = yaml.safe_dump_all(docs, sort_keys=False)
    return web.Response(
        text=text,
        content_type="application/yaml",
        headers={"content-disposition": f'attachment; filename="{params.role}.yaml"'},
    )


@routes.get("/v1/vault/racks/{rack_id}/attestation")
async def attestation(request: web.Request) -> web.Response:
    vault = _vault(request)
    _secret_material(request)
    params = parse_query(request, AttestationParams)
    rack = await _rack(request)
    nonce = bytes.fromhex(params.nonce) if params.nonce else None
    return json_response(await attestation_report(vault, request.app[POOL], rack, nonce))


async def attestation_report(
    vault: Vault, pool: asyncpg.Pool, rack: Rack, nonce: bytes | None = None
) -> dict[str, Any]:
    """The `vault.attestation` object: every node of a ready rack challenged now, its verdict
    and why. Shared by the API and the console.

    Usage: `report = await attestation_report(vault, pool, await store.RACKS.get(...))`.
    """
    store.require_state(
        rack, frozenset({RackState.READY}), "nodes are attested once the rack is ready"
    )
    # A caller's nonce proves freshness to the caller; ours is fresh for every report.
    nonce = nonce or secrets.token_bytes(32)
    physical = await store.inventory_rack(pool, rack.inventory_rack)
    nodes = await attest_rack(vault.agents, pool, physical, nonce, vault.ek_cas)
    return {
        "object": "vault.attestation",
        "rack_id": rack.id,
        "nonce": nonce.hex(),
        "time": int(dt.datetime.now(dt.UTC).timestamp()),
        "verdict": "pass" if all(n["verdict"] == "pass" for n in nodes) else "fail",
        "nodes": nodes,
    }
