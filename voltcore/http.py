"""HTTP plumbing shared by the services: JSON responses, request ids, the error middleware,
metrics, structured access logs and the audit trail."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from voltcore.appkeys import (
    AUDIT,
    AUTHENTICATOR,
    KEY_USE,
    METRICS,
    PRINCIPAL,
    REQUEST_ID,
    SETTINGS,
    SHED,
)
from voltcore.audit import AuditEntry
from voltcore.clientaddr import client_address
from voltcore.errors import (
    AuthenticationFailed,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
    VoltError,
)
from voltcore.principal import bearer_token

log = logging.getLogger("volt.http")
access_log = logging.getLogger("volt.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Probes and scrapes are not tenant activity; auditing them would bury the log in noise.
UNAUDITED_PREFIXES = ("/health/", "/metrics")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def route_template(request: web.Request) -> str:
    """The route pattern (`/v1/orgs/{org_id}/api-keys`): bounded cardinality, no ids or secrets."""
    info = request.match_info
    if info.http_exception is not None:
        return "unmatched"
    return info.route.resource.canonical if info.route.resource is not None else "unmatched"


def _error_for_http_exception(request: web.Request, exc: web.HTTPException) -> VoltError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound(
            f"Unknown request URL: {request.method} {request.path}.", code="unknown_url"
        )
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"Method {request.method} is not allowed for {request.path}; allowed: {allowed}.",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].max_body_bytes
        return PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    if isinstance(exc, web.HTTPUnsupportedMediaType):
        return UnsupportedMediaType(exc.text or "Unsupported media type.")
    err = InternalError(exc.reason)
    err.status = exc.status  # type: ignore[misc]
    return err


def origin(request: web.Request) -> dict[str, Any]:
    """Which pod answered, and for which tier: the first half of Spark's `volt` block, and all
    of it that an error body carries (so a client can tell which replica refused it)."""
    settings = request.app[SETTINGS]
    principal = request.get(PRINCIPAL)
    return {
        "pod": settings.pod,
        "metro": settings.metro,
        "tier": principal.tier if principal is not None else None,
    }


def error_body(request: web.Request, err: VoltError) -> dict[str, Any]:
    # An app without Volt's settings (Forge's admission webhook, which only the Kubernetes API
    # server calls) has no pod to name.
    if SETTINGS not in request.app:
        return err.body()
    return {**err.body(), "volt": origin(request)}


def error_response(request: web.Request, err: VoltError) -> web.Response:
    return json_response(error_body(request, err), status=err.status, headers=err.headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as the OpenAI error object; a bug is a 500 without a stack trace."""
    try:
        return await handler(request)
    except VoltError as err:
        return error_response(request, err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(request, _error_for_http_exception(request, exc))
    except Exception:
        log.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID)})
        return error_response(
            request,
            InternalError("The server had an error processing your request; it has been logged."),
        )


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, metrics, a JSON access log line and an audit entry for every request.

    Outermost, so it sees the final status of everything, errors included. Bodies and query
    strings are never recorded.
    """
    request_id = f"req_{secrets.token_hex(16)}"
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        # The client went away mid-request (e.g. closed a stream): still audited, as 499.
        _record(request, started, 499)
        raise
    if not response.prepared:  # a stream already sent these with its headers
        response.headers.update(response_headers(request))
    _record(request, started, response.status)
    return response


def response_headers(request: web.Request) -> dict[str, str]:
    """Headers every response carries: our request id, and the client's own id echoed."""
    headers = {"x-request-id": request[REQUEST_ID]}
    client_id = request.headers.get("x-client-request-id")
    if client_id and len(client_id) <= 128 and client_id.isprintable():
        headers["x-client-request-id"] = client_id
    return headers


def _record(request: web.Request, started: float, status: int) -> None:
    request_id = request[REQUEST_ID]
    elapsed = time.perf_counter() - started
    route = route_template(request)
    metrics = request.app[METRICS]
    metrics.requests.labels(request.method, route, str(status)).inc()
    metrics.latency.labels(request.method, route).observe(elapsed)
    if request.get(SHED, False):
        return
    principal = request.get(PRINCIPAL)
    access_log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "org_id": principal.org_id if principal else None,
        },
    )
    if AUDIT in request.app and not request.path.startswith(UNAUDITED_PREFIXES):
        request.app[AUDIT].add(
            AuditEntry(
                time=dt.datetime.now(dt.UTC),
                org_id=principal.org_id if principal else None,
                principal=principal.subject if principal else None,
                spiffe_id=principal.spiffe_id if principal else None,
                method=request.method,
                route=route,
                status=status,
                request_id=request_id,
                service=request.app[SETTINGS].service_name,
            )
        )


def public(handler: Handler) -> Handler:
    """Mark a handler as reachable without credentials (probes, metrics, the spec)."""
    handler.volt_public = True  # type: ignore[attr-defined]
    return handler


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate the bearer credential and enforce scope by method: reads need `read`,
    anything that creates, changes or deletes needs `write`."""
    info = request.match_info
    if info.http_exception is not None:  # unknown URL or method: say so before asking for a key
        raise info.http_exception
    if getattr(info.handler, "volt_public", False):
        return await handler(request)
    app = request.app
    try:
        token = bearer_token(request.headers.get("Authorization"))
        principal = await app[AUTHENTICATOR].authenticate(token, client=client_address(request))
    except AuthenticationFailed as err:
        err.headers.setdefault("WWW-Authenticate", 'Bearer realm="volt"')
        raise
    except RateLimited:
        # Too many unknown keys from this client: each refusal must cost next to nothing,
        # so it leaves a count in the metrics, no audit row and no log line.
        request[SHED] = True
        raise
    request[PRINCIPAL] = principal
    app[KEY_USE].used(principal.subject, dt.datetime.now(dt.UTC))
    principal.require_scope("read" if request.method in READ_METHODS else "write")
    return await handler(request)
