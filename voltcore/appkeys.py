"""Typed keys for every shared resource of a Volt aiohttp app and of its requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from asyncpg import Pool

from voltcore.audit import AuditWriter
from voltcore.config import Settings
from voltcore.keycache import KeyAuthenticator
from voltcore.keyuse import KeyUseRecorder
from voltcore.metrics import Metrics
from voltcore.principal import Principal
from voltcore.usage import UsageWriter

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", Pool)
AUDIT = web.AppKey("audit", AuditWriter)
USAGE = web.AppKey("usage", UsageWriter)
KEY_USE = web.AppKey("key_use", KeyUseRecorder)
AUTHENTICATOR = web.AppKey("authenticator", KeyAuthenticator)
# Named readiness checks; each answers "ok" or why not.
ReadyCheck = Callable[[web.Application], Awaitable[str]]
READY_CHECKS = web.AppKey("ready_checks", dict[str, ReadyCheck])
# Subsystems still starting in the background (the embedded default's lab), each with what it is
# doing: readiness reports them, and their routes answer 503 `<name>_starting` meanwhile.
STARTING = web.AppKey("starting", dict[str, str])

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
# Set on a request shed before it was anyone's (a flood of unknown keys past its limit):
# counted in the request metrics by status, but worth neither an audit row nor a log line
# each, or the flood would cost the log what it no longer costs the pool.
SHED = web.RequestKey("shed", bool)
