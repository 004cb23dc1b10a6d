"""Power changes in flight. A BMC lands a power change seconds after it is asked, and asking
again may restart that clock: sushy-tools' fake driver draws a new 1-11 s delay on every
request, so a reconciler asking on every 0.2 s pass could postpone a power-on for minutes. A
node is asked once, then given `wait_s` to get there before it is asked again.

In memory on purpose: after a restart each node still on its way is asked once more, which an
idempotent power request makes harmless."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from admin.vault.redfish import NodeObservation


class PowerRequests:
    """Usage: `seen = requests.drive(system_id, "On", lambda ask: bmc.power_on(id, ask=ask))`;
    safe from the BMC threads of one pass."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._asked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def drive(
        self, system_id: str, want: str, call: Callable[[bool], NodeObservation]
    ) -> NodeObservation:
        """`call(ask)` with `ask` False while an earlier request for `want` may still land."""
        key = (system_id, want)
        with self._lock:
            at = self._asked.get(key)
        ask = at is None or time.monotonic() - at >= self.wait_s
        seen = call(ask)
        with self._lock:
            if seen.power_state == want:
                self._asked.pop(key, None)
            elif ask:
                self._asked[key] = time.monotonic()
        return seen
