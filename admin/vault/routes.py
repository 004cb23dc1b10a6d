"""Vault's HTTP API: racks (202 + reconciler), BMC credentials, Talos configs, attestation."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any, Literal

import asyncpg
import yaml
from aiohttp import web
from pydantic import Field

from admin.vault import store
from admin.vault.appkeys import VAULT, Vault
from admin.vault.attest import attest_rack
from admin.vault.redfish import BmcError
from admin.vault.states import ALLOCATED, RackEvent, RackState
from admin.vault.talos import SecretsBundle, machine_config, talosconfig
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.errors import Conflict, ServiceUnavailable
from voltcore.http import json_response
from voltcore.idempotency import idempotent
from voltcore.pagination import ListParams, keyset_page, list_object
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
    vault = request.app.get(VAULT)
    if vault is None:
        raise ServiceUnavailable(
            "Vault is not configured on this deployment (no inventory).", code="vault_unavailable"
        )
    return vault


async def _views(pool: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    names = list({r["inventory_rack"] for r in rows})
    found = await pool.fetch("SELECT * FROM vault_inventory_racks WHERE name = ANY($1)", names)
    by_name = {i["name"]: i for i in found}
    return [store.rack_object(r, by_name.get(r["inventory_rack"])) for r in rows]


async def _rack(request: web.Request) -> asyncpg.Record:
    return await store.get_rack(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["rack_id"]
    )


def _require(rack: asyncpg.Record, states: frozenset[RackState], what: str) -> None:
    # A rack released before allocation can fail while releasing without ever having secrets.
    if RackState(rack["status"]) not in states or rack["secrets_sealed"] is None:
        raise Conflict(
            f"Rack '{rack['id']}' is {rack['status']}; {what}.",
            param="rack_id",
            code="rack_not_allocated",
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
            row = await store.insert_rack(conn, principal.org_id, free, body.sovereignty)
        vault.reconciler.wake()
        return 202, store.rack_object(row, free)

    return await idempotent(request, pool, principal.org_id, body.model_dump(), create)


@routes.get("/v1/vault/racks")
async def list_racks(request: web.Request) -> web.Response:
    _vault(request)
    params = parse_query(request, RackListParams)
    pool = request.app[POOL]
    rows, more = await keyset_page(
        pool,
        "vault_racks",
        request[PRINCIPAL].org_id,
        limit=params.limit,
        after=params.after,
        where="$5::text IS NULL OR status = $5",
        args=(params.status and params.status.value,),
    )
    return json_response(list_object(await _views(pool, rows), has_more=more))


@routes.get("/v1/vault/racks/{rack_id}")
async def get_rack(request: web.Request) -> web.Response:
    _vault(request)
    rack = await _rack(request)
    return json_response((await _views(request.app[POOL], [rack]))[0])


@routes.delete("/v1/vault/racks/{rack_id}")
async def release_rack(request: web.Request) -> web.Response:
    vault = _vault(request)
    pool = request.app[POOL]
    for _ in range(5):  # the reconciler may move the rack between our read and write
        rack = await _rack(request)
        if rack["status"] in (RackState.RELEASING, RackState.RELEASED) or (
            rack["status"] == RackState.FAILED and rack["failed_in"] == RackState.RELEASING
        ):
            break  # already going: unchanged
        try:
            rack = await store.apply(pool, rack, RackEvent.RELEASE)
            break
        except Conflict:
            continue
    vault.reconciler.wake()
    return json_response((await _views(pool, [rack]))[0], status=202)


def _password() -> str:
    """20 characters with every class BMC password policies ask for."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.~!#%")
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(16)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@routes.post("/v1/vault/racks/{rack_id}/redfish-credentials")
async def mint_credentials(request: web.Request) -> web.Response:
    vault = _vault(request)
    body = await read_json(request, CreateCredentials, allow_empty=True)
    pool = request.app[POOL]
    rack = await _rack(request)
    _require(
        rack,
        frozenset({RackState.PROVISIONING, RackState.READY}),
        "BMC credentials are minted for provisioning or ready racks",
    )
    role = vault.settings.bmc_role
    ttl = min(body.ttl_seconds, vault.settings.max_credential_ttl_s)
    # Recorded before any BMC sees it, so an interrupted mint is still cleaned up by expiry.
    account = await store.insert_account(
        pool, rack["org_id"], rack["id"], role, store.from_now(ttl)
    )
    password = _password()
    nodes = await store.inventory_nodes(pool, rack["inventory_rack"])
    results = await vault.reconciler.on_bmcs(
        store.distinct_bmcs(nodes),
        lambda bmc, _: bmc.create_account(account["username"], password, role),
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        # Expire it now: the reconciler deletes whatever part was made, on every node.
        await pool.execute(
            "UPDATE vault_bmc_accounts SET expires_at = now() WHERE id = $1", account["id"]
        )
        vault.reconciler.wake()
        error = failed[0]
        if isinstance(error, BmcError):
            raise ServiceUnavailable(
                f"A BMC of the rack did not accept the account: {error.message}",
                code=error.code,
                headers={"retry-after": "10"},
            )
        raise error
    return json_response(
        {
            "object": "vault.redfish_credentials",
            "id": account["id"],
            "rack_id": rack["id"],
            "username": account["username"],
            "password": password,
            "role": role,
            "expires_at": int(account["expires_at"].timestamp()),
            "nodes": [
                {"node_id": n["id"], "redfish_url": n["redfish_url"], "system_id": n["system_id"]}
                for n in nodes
            ],
        },
        status=201,
    )


@routes.get("/v1/vault/racks/{rack_id}/talos-config")
async def talos_config(request: web.Request) -> web.Response:
    vault = _vault(request)
    params = parse_query(request, TalosParams)
    pool = request.app[POOL]
    rack = await _rack(request)
    _require(rack, ALLOCATED, "its cluster identity exists once it is allocated")
    bundle_data = vault.sealer.open_json(rack["secrets_sealed"])
    assert isinstance(bundle_data, dict)
    bundle = SecretsBundle.from_dict(bundle_data)
    physical = await store.inventory_rack(pool, rack["inventory_rack"])
    nodes = await store.inventory_nodes(pool, rack["inventory_rack"])
    cluster = rack["id"].lower().replace("_", "-")
    if params.role == "talosconfig":
        control = [n["address"] for n in nodes if n["role"] == "controlplane"]
        text = yaml.safe_dump(
            talosconfig(bundle, cluster_name=cluster, endpoints=control), sort_keys=False
        )
    else:
        docs = machine_config(
            bundle,
            params.role,
            cluster_name=cluster,
            endpoint=physical["endpoint"],
            cert_sans=[n["address"] for n in nodes],
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
    params = parse_query(request, AttestationParams)
    pool = request.app[POOL]
    rack = await _rack(request)
    _require(rack, frozenset({RackState.READY}), "nodes are attested once the rack is ready")
    # A caller's nonce proves freshness to the caller; ours is fresh for every report.
    nonce = bytes.fromhex(params.nonce) if params.nonce else secrets.token_bytes(32)
    physical = await store.inventory_rack(pool, rack["inventory_rack"])
    nodes = await attest_rack(vault.agents, pool, physical, nonce)
    return json_response(
        {
            "object": "vault.attestation",
            "rack_id": rack["id"],
            "nonce": nonce.hex(),
            "time": int(dt.datetime.now(dt.UTC).timestamp()),
            "verdict": "pass" if all(n["verdict"] == "pass" for n in nodes) else "fail",
            "nodes": nodes,
        }
    )
