"""Subsystems a deployment may leave off (Forge without a cluster, Vault without an inventory):
their routes are always installed and answer 503 until the subsystem is configured."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from voltcore.errors import ServiceUnavailable

T = TypeVar("T")


def configured(request: web.Request, key: web.AppKey[T], name: str, missing: str) -> T:
    """The subsystem under `key`, or a 503 `<name>_unavailable` that says what is missing.

    Usage: `forge = configured(request, FORGE, "Forge", "no cluster")`.
    """
    subsystem = request.app.get(key)
    if subsystem is None:
        raise ServiceUnavailable(
            f"{name} is not configured on this deployment ({missing}).",
            code=f"{name.lower()}_unavailable",
        )
    return subsystem
