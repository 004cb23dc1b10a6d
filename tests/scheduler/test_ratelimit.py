"""The sliding-window limiter: never more than `limit` in any window, and the wait it names
is exactly when the next event is allowed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scheduler.ratelimit import WindowLimiter


def test_limit_then_wait_then_allowed() -> None:
    limiter = WindowLimiter(2, 60)
    assert limiter.hit("a", 0) is None and limiter.hit("a", 10) is None
    assert limiter.hit("a", 20) == 40  # the event at 0 leaves the window at 60
    assert limiter.hit("b", 20) is None  # keys are separate
    assert limiter.hit("a", 60) is None


@given(st.lists(st.floats(min_value=0, max_value=1000), max_size=60), st.integers(1, 5))
def test_never_more_than_limit_in_any_window(times: list[float], limit: int) -> None:
    limiter = WindowLimiter(limit, 10)
    allowed = []
    for now in sorted(times):
        wait = limiter.hit("k", now)
        if wait is None:
            allowed.append(now)
        else:
            assert wait > 0
    for t in allowed:
        assert sum(1 for u in allowed if t - 10 < u <= t) <= limit


def test_memory_is_bounded() -> None:
    limiter = WindowLimiter(1, 10, max_keys=100)
    for i in range(1000):
        limiter.hit(f"client{i}", float(i))
    assert len(limiter._events) <= 100


def test_a_refund_gives_back_the_latest_event() -> None:
    limiter = WindowLimiter(1, 60)
    assert limiter.hit("a", 0) is None
    limiter.refund("a")  # the attempt turned out not to count
    assert limiter.hit("a", 1) is None
    assert limiter.hit("a", 2) is not None
    limiter.refund("unknown")  # nothing counted: nothing to give back
