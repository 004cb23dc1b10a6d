"""Forge's HTTP API: availability, leases (202 + reconciler), kubeconfig minting."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import yaml
from aiohttp import web
from pydantic import Field

from admin.forge import store, views
from admin.forge.appkeys import FORGE, Forge
from admin.forge.kube import KUBE_ERRORS
from admin.forge.plan import TENANT, kubeconfig
from admin.forge.states import MACHINE, LeaseEvent, LeaseState
from admin.forge.store import Lease
from scheduler.placement import GpuNode, Tenancy, free_gpus, largest_placeable, place, usable_pool
from voltcore import versioned
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.db import Conn
from voltcore.errors import Conflict, InvalidRequest, ServiceUnavailable
from voltcore.http import json_response
from voltcore.idempotency import idempotent
from voltcore.pagination import ListParams, list_response
from voltcore.validation import RequestModel, parse_query, read_json

routes = web.RouteTableDef()
T = TypeVar("T")

# TokenRequest's shortest lifetime: a token cannot be made to expire sooner than this.
MIN_TOKEN_S = 600


class AvailabilityParams(RequestModel):
    metro: str | None = None
    gpu_type: str | None = None
    count: int | None = Field(None, ge=1)


class CreateLease(RequestModel):
    gpu_type: str = Field(min_length=1, max_length=128)
    gpu_count: int = Field(ge=1, le=1024)
    metro: str = Field(min_length=1, max_length=64)
    duration_seconds: int = Field(ge=60)


class LeaseListParams(ListParams):
    status: (
        Literal[
            "pending", "provisioning", "active", "terminating", "terminated", "failed", "expired"
        ]
        | None
    ) = None


def _forge(request: web.Request) -> Forge:
    return request.app[FORGE].get(request.app)


async def _cluster(fn: Callable[..., T], *args: Any) -> T:
    """A blocking cluster call off the event loop; an unreachable cluster is a 503."""
    try:
        return await asyncio.to_thread(fn, *args)
    except KUBE_ERRORS:
        raise ServiceUnavailable(
            "The GPU cluster cannot be reached; retry shortly.",
            code="apiserver_unreachable",
            headers={"retry-after": "5"},
        ) from None


async def _nodes(forge: Forge) -> list[GpuNode]:
    return await _cluster(forge.kube.gpu_nodes, forge.settings)


async def _tenancy(conn: Conn, forge: Forge, org_id: str) -> Tenancy:
    return Tenancy(org_id, await store.node_orgs(conn), forge.settings.share_nodes)


@routes.get("/v1/forge/availability")
async def availability(request: web.Request) -> web.Response:
    forge = _forge(request)
    params = parse_query(request, AvailabilityParams)
    nodes = await _nodes(forge)
    async with request.app[POOL].acquire() as conn:
        held = await store.allocated_gpus(conn)
        tenancy = await _tenancy(conn, forge, request[PRINCIPAL].org_id)
    free = free_gpus(nodes, held)
    rows: list[dict[str, Any]] = []
    for metro, gpu_type in sorted({(n.metro, n.gpu_type) for n in nodes}):
        if params.metro not in (None, metro) or params.gpu_type not in (None, gpu_type):
            continue
        # What this org can have: other orgs' nodes are not free to it without sharing.
        pool = [n for n in nodes if (n.metro, n.gpu_type) == (metro, gpu_type)]
        usable = usable_pool(pool, metro, gpu_type, tenancy)
        largest = largest_placeable(nodes, held, metro=metro, gpu_type=gpu_type, tenancy=tenancy)
        if params.count is not None and largest < params.count:
            continue
        rows.append(
            {
                "object": "forge.availability",
                "metro": metro,
                "gpu_type": gpu_type,
                "total_gpus": sum(n.capacity for n in pool),
                "available_gpus": sum(free[n.name] for n in usable),
                "largest_lease_gpus": largest,
                "price_per_gpu_hour": forge.settings.prices.get(gpu_type),
                "currency": forge.settings.currency,
            }
        )
    return json_response(
        {"object": "list", "data": [r for r in rows if r["price_per_gpu_hour"] is not None]}
    )


@routes.post("/v1/forge/leases")
async def create_lease(request: web.Request) -> web.Response:
    forge = _forge(request)
    principal = request[PRINCIPAL]
    body = await read_json(request, CreateLease)
    if body.duration_seconds > forge.settings.max_duration_s:
        raise InvalidRequest(
            f"'duration_seconds' may be at most {forge.settings.max_duration_s}.",
            param="duration_seconds",
            code="invalid_value",
        )
    price = forge.settings.prices.get(body.gpu_type)
    if price is None:
        raise InvalidRequest(
            f"Unknown GPU type '{body.gpu_type}'; see /v1/forge/availability.",
            param="gpu_type",
            code="invalid_value",
        )
    pool = request.app[POOL]

    async def create() -> tuple[int, dict[str, Any]]:
        nodes = await _nodes(forge)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", store.PLACEMENT_LOCK)
            held = await store.allocated_gpus(conn)
            tenancy = await _tenancy(conn, forge, principal.org_id)
            metro, gpu_type = body.metro, body.gpu_type
            placement = place(
                nodes, held, metro=metro, gpu_type=gpu_type, count=body.gpu_count, tenancy=tenancy
            )
            if placement is None:
                largest = largest_placeable(
                    nodes, held, metro=metro, gpu_type=gpu_type, tenancy=tenancy
                )
                raise Conflict(
                    f"Not enough {body.gpu_type} GPUs in {body.metro}: the largest lease that "
                    f"can be placed now has {largest}.",
                    param="gpu_count",
                    code="insufficient_capacity",
                )
            lease = await store.insert_lease(
                conn,
                principal.org_id,
                gpu_type=body.gpu_type,
                gpu_count=body.gpu_count,
                metro=body.metro,
                duration_s=body.duration_seconds,
                placement=placement,
                price=price,
            )
        forge.wake()
        return 202, views.lease(lease, forge.settings.currency)

    return await idempotent(request, pool, principal.org_id, body.model_dump(), create)


@routes.get("/v1/forge/leases")
async def list_leases(request: web.Request) -> web.Response:
    currency = _forge(request).settings.currency
    params = parse_query(request, LeaseListParams)
    return await list_response(
        request,
        "forge_leases",
        params,
        row=Lease.from_record,
        render=lambda leases: [views.lease(lease, currency) for lease in leases],
        where="$5::text IS NULL OR status = $5",
        args=(params.status,),
    )


@routes.get("/v1/forge/leases/{lease_id}")
async def get_lease(request: web.Request) -> web.Response:
    forge = _forge(request)
    lease = await store.LEASES.get(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["lease_id"]
    )
    return json_response(views.lease(lease, forge.settings.currency))


@routes.delete("/v1/forge/leases/{lease_id}")
async def terminate_lease(request: web.Request) -> web.Response:
    forge = _forge(request)
    pool = request.app[POOL]
    org, lease_id = request[PRINCIPAL].org_id, request.match_info["lease_id"]

    async def terminate(lease: Lease) -> Lease | None:
        if not MACHINE.allows(lease.status, LeaseEvent.TERMINATE):
            return None  # already ending or ended: unchanged
        return await store.LEASES.apply(
            pool, lease, LeaseEvent.TERMINATE, target=LeaseState.TERMINATED
        )

    # A reconciler may move the lease between our read and write.
    lease = await versioned.change(
        lambda: store.LEASES.get(pool, org, lease_id), terminate, code="lease_changed"
    )
    forge.wake()
    return json_response(views.lease(lease, forge.settings.currency), status=202)


@routes.post("/v1/forge/leases/{lease_id}/kubeconfig")
async def mint_kubeconfig(request: web.Request) -> web.Response:
    forge = _forge(request)
    lease = await store.LEASES.get(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["lease_id"]
    )
    return json_response(await mint(forge, lease), status=201)


async def mint(forge: Forge, lease: Lease) -> dict[str, Any]:
    """The `forge.kubeconfig` object of an active lease: a token of its tenant account that
    ends with the lease, in a kubeconfig for its namespace. Shared by the API and the console.

    Usage: `minted = await mint(forge, await store.LEASES.get(pool, org_id, lease_id))`.
    """
    if lease.status is not LeaseState.ACTIVE or lease.expires_at is None:
        raise Conflict(
            f"Lease '{lease.id}' is {lease.status}; kubeconfigs are minted for active leases only.",
            param="lease_id",
            code="lease_not_active",
        )
    remaining = int((lease.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    if remaining < MIN_TOKEN_S:
        raise Conflict(
            f"Lease '{lease.id}' ends in {remaining} s; Kubernetes cannot issue a "
            f"token that expires that soon (minimum {MIN_TOKEN_S} s).",
            param="lease_id",
            code="lease_ending",
        )
    token, expires = await _cluster(forge.kube.token, lease.namespace, TENANT, remaining)
    config = kubeconfig(forge.kube.server, forge.kube.ca_pem, lease.namespace, token, lease.id)
    return {
        "object": "forge.kubeconfig",
        "lease_id": lease.id,
        "namespace": lease.namespace,
        "expires_at": int(min(expires, lease.expires_at).timestamp()),
        "kubeconfig": yaml.safe_dump(config, sort_keys=False),
    }
