"""Subsystems a deployment may leave off (Forge without a cluster, Vault without an inventory):
their routes are always installed and answer 503 until the subsystem is up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web

from voltcore.appkeys import STARTING
from voltcore.errors import ServiceUnavailable

T = TypeVar("T")

# How soon a client should ask again while a subsystem starts (a lab's first start takes
# minutes, later ones seconds).
STARTING_RETRY_S = 10


@dataclass
class Slot(Generic[T]):
    """Where routes find a subsystem: `value` is set while it runs. A slot rather than an app
    key set once at start-up, because the embedded default's lab can come up after the app has
    started serving (when its state is frozen).

    Usage: `app[FORGE] = Slot("Forge", "no cluster")`; `forge = request.app[FORGE].get(app)`.
    """

    name: str
    missing: str
    value: T | None = None

    def get(self, app: web.Application) -> T:
        """The subsystem, or a 503: `<name>_starting` with retry-after while it is starting
        (app[STARTING] says how far), `<name>_unavailable` naming what is missing otherwise."""
        if self.value is not None:
            return self.value
        code = self.name.lower()
        progress = app[STARTING].get(code)
        if progress is not None:
            raise ServiceUnavailable(
                f"{self.name} is starting ({progress}); retry shortly.",
                code=f"{code}_starting",
                headers={"retry-after": str(STARTING_RETRY_S)},
            )
        raise ServiceUnavailable(
            f"{self.name} is not configured on this deployment ({self.missing}).",
            code=f"{code}_unavailable",
        )
