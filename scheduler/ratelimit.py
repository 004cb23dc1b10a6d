"""A sliding-window rate limit per key (a client address, say): at most `limit` events in any
`window_s` seconds. Pure: the caller passes the time."""

from __future__ import annotations

from collections import deque


class WindowLimiter:
    """Usage: `wait = limiter.hit(key, now)`; `None` means allowed (and counted), otherwise
    the seconds until the oldest counted event leaves the window."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> float | None:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._forget(now)
            events = self._events[key] = deque()
        start = now - self.window_s
        while events and events[0] <= start:
            events.popleft()
        if len(events) >= self.limit:
            # Measured from the same `start`: the oldest event is after it, so the wait is
            # never 0 (`events[0] + window_s - now` can round to 0.0, a refusal saying "now").
            return events[0] - start
        events.append(now)
        return None

    def refund(self, key: str) -> None:
        """Take back the latest counted event: a caller that counts an attempt before it
        knows the outcome (so that concurrent attempts cannot all pass) returns it when the
        attempt turns out not to count."""
        events = self._events.get(key)
        if events:
            events.pop()

    def _forget(self, now: float) -> None:
        """Bound memory: drop keys with nothing left in the window, else everything (failing
        open for a moment is better than growing without bound)."""
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window_s]
        for key in stale:
            del self._events[key]
        if len(self._events) >= self.max_keys:
            self._events.clear()
