"""How long to wait before the next attempt (pure: constants in `_constants`)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from volt._constants import (
    INITIAL_RETRY_DELAY_S,
    MAX_RETRY_AFTER_S,
    MAX_RETRY_DELAY_S,
    RETRY_JITTER,
)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's `retry-after-ms` or `retry-after` (seconds or an HTTP date), if any."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def retry_delay(attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
    """Seconds to wait before retry number `attempt + 1`, or None when the server asked for
    a wait longer than is worth it. The server's `retry-after` wins; otherwise exponential
    backoff from `INITIAL_RETRY_DELAY_S`, capped, with jitter."""
    asked = retry_after(headers) if headers is not None else None
    if asked is not None:
        return asked if asked <= MAX_RETRY_AFTER_S else None
    delay = min(INITIAL_RETRY_DELAY_S * 2.0**attempt, MAX_RETRY_DELAY_S)
    return delay * (1 - RETRY_JITTER * random.random())  # noqa: S311 (jitter, not a secret)
