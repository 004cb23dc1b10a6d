"""Forge's place in the admin app: its settings and, when a cluster is configured, the `Forge`
its routes use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from admin.forge.config import ForgeSettings
from admin.forge.kube import Kube
from admin.subsystems import Slot


@dataclass(frozen=True)
class Forge:
    settings: ForgeSettings
    kube: Kube
    # Reconcile now rather than at the next tick (a lease was created or deleted).
    wake: Callable[[], None]


FORGE: web.AppKey[Slot[Forge]] = web.AppKey("forge", Slot)
FORGE_SETTINGS = web.AppKey("forge_settings", ForgeSettings)
