"""Rate-limit policy: which limits apply, the sliding window's guarantee, and OpenAI's header
format; exhaustively with hypothesis and without an event loop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.limits import (
    Limit,
    Overrides,
    ScopeState,
    SlidingWindow,
    binding,
    duration,
    headers,
    reservation,
    resolve,
    retry_headers,
)

maybe = st.none() | st.integers(0, 10_000)


@given(
    tier=st.builds(Limit, st.integers(0, 10_000), st.integers(0, 10_000)),
    o=st.builds(Overrides, maybe, maybe, maybe, maybe, maybe, maybe),
)
def test_a_key_never_has_more_than_its_org_nor_an_org_more_than_its_ceiling(
    tier: Limit, o: Overrides
) -> None:
    limits = resolve(tier, o)
    ceiling = limits.ceiling
    assert ceiling.requests == (
        tier.requests if o.org_ceiling_requests is None else o.org_ceiling_requests
    )
    assert limits.org.requests <= ceiling.requests and limits.org.tokens <= ceiling.tokens
    if o.org_requests is None:
        assert limits.org.requests == ceiling.requests
    if limits.key is not None:
        assert limits.key.requests <= limits.org.requests
        assert limits.key.tokens <= limits.org.tokens
    assert (limits.key is None) == (o.key_requests is None and o.key_tokens is None)


def test_the_reservation_counts_each_prompt_once_and_max_tokens_per_sequence() -> None:
    # Three prompts of 10 tokens with n=2: 30 prompt tokens, 6 sequences of up to 16 tokens.
    assert reservation(30, 16, 6) == 30 + 96


events = st.lists(
    st.tuples(
        st.floats(0, 30, allow_nan=False),  # seconds since the previous request
        st.integers(1, 400),  # its reservation
        st.floats(0, 1),  # the share of it used
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(events=events, rpm=st.integers(1, 20), tpm=st.integers(400, 3000))
def test_no_sixty_second_window_admits_more_than_the_limits(
    events: list[tuple[float, int, float]], rpm: int, tpm: int
) -> None:
    window, limit = SlidingWindow(), Limit(rpm, tpm)
    now, admitted = 0.0, []
    for gap, tokens, share in events:
        now += gap
        rid = window.admit(tokens, now, limit)
        if rid is not None:
            used = int(tokens * share)
            window.settle(rid, used)
            admitted.append((now, used))
    # Every window (0, 60] ending at an admission: its requests and their settled tokens fit.
    for end, _ in admitted:
        inside = [u for t, u in admitted if end - 60 < t <= end]
        assert len(inside) <= rpm
        assert sum(inside) <= tpm


@settings(max_examples=300)
@given(events=events, rpm=st.integers(1, 20), tpm=st.integers(400, 3000))
def test_the_wait_is_exactly_when_the_request_fits(
    events: list[tuple[float, int, float]], rpm: int, tpm: int
) -> None:
    window, limit, now = SlidingWindow(), Limit(rpm, tpm), 0.0
    for gap, tokens, share in events:
        now += gap
        wait = window.wait(tokens, now, limit)
        assert wait is not None  # every request here fits an empty window
        if wait > 0:
            # Not a moment before, and then it does (a moment: the store's microsecond, since
            # `at + window - now` and back again may round by a few ulps).
            assert window.wait(tokens, now + wait - 1e-6, limit) != 0
            assert window.wait(tokens, now + wait + 1e-6, limit) == 0
        rid = window.admit(tokens, now, limit)
        assert (rid is not None) == (wait == 0)
        if rid is not None:
            window.settle(rid, int(tokens * share))


def test_a_request_larger_than_the_limit_never_fits() -> None:
    window = SlidingWindow()
    assert window.wait(501, 0.0, Limit(10, 500)) is None
    assert window.wait(1, 0.0, Limit(0, 500)) is None


def test_settling_hands_back_what_was_not_used_at_once() -> None:
    window, limit = SlidingWindow(), Limit(100, 1000)
    rid = window.admit(900, 0.0, limit)
    assert rid is not None and window.admit(200, 1.0, limit) is None
    window.settle(rid, 300)  # the answer stopped early
    assert window.admit(200, 1.0, limit) is not None
    # Never corrected upwards: a request cannot use more than it reserved.
    window.settle(rid, 5000)
    assert window.usage(1.0) == (2, 1100)


def test_headers_are_openais_names_and_formats() -> None:
    state = ScopeState(Limit(60, 150_000), 1, 22_000, reset_s=59.9805)
    assert headers(state) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-remaining-tokens": "128000",
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-reset-tokens": "1m0s",
    }
    assert [duration(s) for s in (0, 0.0201, 1, 6.2, 360, 3723)] == [
        "0ms",
        "21ms",
        "1s",
        "7s",
        "6m0s",
        "1h2m3s",
    ]
    assert retry_headers(0.0004) == {"retry-after": "1", "retry-after-ms": "1"}
    assert retry_headers(2.5) == {"retry-after": "3", "retry-after-ms": "2500"}


def test_the_headers_describe_the_scope_closer_to_its_limit() -> None:
    org = ScopeState(Limit(100, 10_000), 10, 1_000, 60)
    key = ScopeState(Limit(100, 2_000), 5, 1_500, 60)
    assert binding([org, key]) is key
