"""Waiting on a long-running resource (a lease, a rack, a fine-tuning job) as one more
generator of protocol steps: it fetches the resource with the session, then `Sleep`s, until the
status waited for. `Volt` and `AsyncVolt` drive it like any other request, so the loop exists
once for both."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from volt._call import Call
from volt._exceptions import UnexpectedStatusError, WaitTimeoutError
from volt._protocol import Exchange, Sleep


class Stateful(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...


S = TypeVar("S", bound=Stateful)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Lifecycle:
    """A resource's states as the SDK needs them to wait: `order` ranks the states of its
    forward path (a state ranked past the one awaited means it will not come), `final` holds
    states never left. A state in neither (a rack's `failed`, which the reconciler retries)
    never ends a wait early."""

    kind: str
    order: Mapping[str, int]
    final: frozenset[str]

    def unreachable(self, status: str, until: frozenset[str]) -> bool:
        """Whether a resource in `status` can no longer reach any state in `until`."""
        if status in until:
            return False
        if status in self.final:
            return True
        ranks = [self.order[s] for s in until if s in self.order]
        return status in self.order and bool(ranks) and self.order[status] > max(ranks)


@dataclasses.dataclass(frozen=True)
class Wait(Generic[T]):
    """Poll `call` until the resource is in one of `until` (see `Lifecycle`), for at most
    `timeout` seconds, every `poll_interval` seconds; `on_update` sees every snapshot."""

    call: Call[T]
    lifecycle: Lifecycle
    until: frozenset[str]
    timeout: float
    poll_interval: float
    on_update: Callable[[T], object] | None = None


def last_error(resource: Any) -> str | None:
    """`code: message` of a resource's last failure (`last_error`, or a job's `error`)."""
    error = getattr(resource, "last_error", None) or getattr(resource, "error", None)
    if error is None:
        return None
    return f"{getattr(error, 'code', None)}: {getattr(error, 'message', error)}"


def wait(fetch: Callable[[Call[S]], Exchange[S]], spec: Wait[S]) -> Exchange[S]:
    """The resource once its status is in `spec.until`; raises `UnexpectedStatusError` when it
    cannot get there any more, `WaitTimeoutError` when `spec.timeout` runs out."""
    start = time.monotonic()
    wanted = " or ".join(sorted(spec.until))
    while True:
        current = yield from fetch(spec.call)
        if spec.on_update is not None:
            spec.on_update(current)
        status = current.status
        if status in spec.until:
            return current
        error = last_error(current)
        detail = f" (last error {error})" if error else ""
        name = f"{spec.lifecycle.kind} {current.id}"
        if spec.lifecycle.unreachable(status, spec.until):
            raise UnexpectedStatusError(
                f"{name} is {status}{detail}, so it will not become {wanted}",
                current,
                status,
                spec.until,
            )
        left = spec.timeout - (time.monotonic() - start)
        if left <= 0:
            raise WaitTimeoutError(
                f"{name} is still {status}{detail} after {spec.timeout:g}s waiting for {wanted}",
                current,
                status,
                spec.until,
            )
        yield Sleep(min(spec.poll_interval, left))
