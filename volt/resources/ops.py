"""`client.health` and the service's own documents (unauthenticated)."""

from __future__ import annotations

from volt._call import Call
from volt._resource import M, Resource, endpoint
from volt.types.ops import Health


class Ops(Resource[M]):
    @endpoint
    def live(self) -> Call[Health]:
        """Usage: `client.health.live().status == "ok"`."""
        return Call("GET", "/health/live", Health, authenticated=False)

    @endpoint
    def ready(self) -> Call[Health]:
        """503 (`InternalServerError`) while a dependency is down.

        Usage: `client.health.ready()`.
        """
        return Call("GET", "/health/ready", Health, authenticated=False)

    @endpoint
    def metrics(self) -> Call[str]:
        """Prometheus text. Usage: `client.health.metrics()`."""
        return Call("GET", "/metrics", str, authenticated=False)

    @endpoint
    def openapi(self) -> Call[str]:
        """The API reference (YAML). Usage: `client.health.openapi()`."""
        return Call("GET", "/openapi.yaml", str, authenticated=False)
