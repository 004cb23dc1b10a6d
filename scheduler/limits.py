"""Requests and tokens per minute, per org and per API key: which limits apply, what a request
reserves, and what the `x-ratelimit-*` headers say. Pure: the shared store (Postgres, migration
0011's `rate_admit`) does the atomic check-and-reserve over a sliding window; `SlidingWindow`
here is the same rule in memory, the specification the store is tested against.

Semantics. A scope (an org, or a key with limits of its own) admits a request when, over the
60 seconds ending now, its admitted requests + 1 stay within its RPM and its tokens + this
request's reservation within its TPM. The reservation is the prompt's tokens plus `max_tokens`
(or the context left) for every sequence; when the request ends it is corrected to the tokens
actually used, so a request that stops early hands the rest back at once. Since the window
slides, the limit holds in every minute, not only in aligned ones; and since the reservation is
checked before admission, concurrent requests cannot all pass (charging after the response,
as Envoy AI Gateway does, lets every request of a burst through).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Limit:
    """A scope's limits per window: requests and tokens."""

    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the database says beyond the tier: an operator's `ceiling` above (or below) the
    tier, the org's own `cap` below its ceiling, and a key's cap below its org. Any field None
    means "no override"."""

    org_ceiling_requests: int | None = None
    org_ceiling_tokens: int | None = None
    org_requests: int | None = None
    org_tokens: int | None = None
    key_requests: int | None = None
    key_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits that apply to one caller: its org's, and its key's when the key has its own
    (`key` None: the key shares its org's window and adds nothing)."""

    org: Limit
    key: Limit | None
    ceiling: Limit


def _capped(own: int | None, ceiling: int) -> int:
    return ceiling if own is None else min(own, ceiling)


def resolve(tier: Limit, o: Overrides) -> Limits:
    """The ceiling is the tier's unless an operator set one; the org's limit is its own cap
    within the ceiling; a key's limit, where set, is within its org's (a key can never have
    more than its org)."""
    ceiling = Limit(
        tier.requests if o.org_ceiling_requests is None else o.org_ceiling_requests,
        tier.tokens if o.org_ceiling_tokens is None else o.org_ceiling_tokens,
    )
    org = Limit(_capped(o.org_requests, ceiling.requests), _capped(o.org_tokens, ceiling.tokens))
    key = None
    if o.key_requests is not None or o.key_tokens is not None:
        key = Limit(_capped(o.key_requests, org.requests), _capped(o.key_tokens, org.tokens))
    return Limits(org, key, ceiling)


def reservation(prompt_tokens: int, max_tokens: int, sequences: int) -> int:
    """What a request holds against TPM from admission until it ends: its prompt tokens (each
    prompt once, as usage counts them) and the most it may generate, `max_tokens` for each of
    its sequences (prompts x n). `max_tokens` is the request's, or the context left."""
    return prompt_tokens + max_tokens * sequences


@dataclass(frozen=True, slots=True)
class ScopeState:
    """One scope's window as the store reports it: usage after admission (or before a
    refusal), when its newest request leaves the window (`reset_s` from now), and for a refusal
    how long until this request would fit (`None`: never, at these limits)."""

    limit: Limit
    used_requests: int
    used_tokens: int
    reset_s: float
    requests_wait_s: float | None = 0.0
    tokens_wait_s: float | None = 0.0

    @property
    def remaining_requests(self) -> int:
        return max(self.limit.requests - self.used_requests, 0)

    @property
    def remaining_tokens(self) -> int:
        return max(self.limit.tokens - self.used_tokens, 0)

    @property
    def wait_s(self) -> float | None:
        """How long until the request fits this scope; None if it never can."""
        if self.requests_wait_s is None or self.tokens_wait_s is None:
            return None
        return max(self.requests_wait_s, self.tokens_wait_s)


def binding(scopes: list[ScopeState]) -> ScopeState:
    """The scope the headers describe: the one with the fewest tokens left (then requests), so
    that a client pacing itself on them never runs into the other."""
    return min(scopes, key=lambda s: (s.remaining_tokens, s.remaining_requests))


def duration(seconds: float) -> str:
    """OpenAI's format for `x-ratelimit-reset-*`: `20ms`, `1s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(math.ceil(seconds * 1000), 0)}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def headers(state: ScopeState) -> dict[str, str]:
    """OpenAI's rate-limit headers, from the binding scope. `reset` is the time until the scope
    is back to its full limit: under a sliding window, when its newest request leaves it."""
    return {
        "x-ratelimit-limit-requests": str(state.limit.requests),
        "x-ratelimit-limit-tokens": str(state.limit.tokens),
        "x-ratelimit-remaining-requests": str(state.remaining_requests),
        "x-ratelimit-remaining-tokens": str(state.remaining_tokens),
        "x-ratelimit-reset-requests": duration(state.reset_s if state.used_requests else 0),
        "x-ratelimit-reset-tokens": duration(state.reset_s if state.used_tokens else 0),
    }


def retry_headers(wait_s: float) -> dict[str, str]:
    """`retry-after` in whole seconds (never 0, which would say "now"), and `retry-after-ms`,
    which the openai SDK reads first."""
    return {
        "retry-after": str(max(1, math.ceil(wait_s))),
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
    }


class SlidingWindow:
    """The store's rule in memory, for one scope: the specification `rate_admit` is tested
    against (tests/scheduler, tests/inference). Usage: `rid = w.admit(tokens, now, limit)`
    (None: refused), later `w.settle(rid, used)`."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._rows: deque[list[float]] = deque()  # [at, tokens, reserved, id]
        self._next = 0

    def _live(self, now: float) -> list[list[float]]:
        return [r for r in self._rows if r[0] > now - self.window_s]

    def usage(self, now: float) -> tuple[int, int]:
        live = self._live(now)
        return len(live), int(sum(r[1] for r in live))

    def wait(self, tokens: int, now: float, limit: Limit) -> float | None:
        """Seconds until a request of `tokens` fits (0: now, None: never)."""
        if limit.requests < 1 or tokens > limit.tokens:
            return None
        live = self._live(now)
        used_r, used_t = len(live), sum(r[1] for r in live)
        waits = [0.0]
        if used_r + 1 > limit.requests:
            waits.append(live[used_r - limit.requests][0] + self.window_s - now)
        if used_t + tokens > limit.tokens:
            freed = 0.0
            for row in live:
                freed += row[1]
                if freed >= used_t + tokens - limit.tokens:
                    waits.append(row[0] + self.window_s - now)
                    break
        return max(waits)

    def admit(self, tokens: int, now: float, limit: Limit) -> int | None:
        if self.wait(tokens, now, limit) != 0:
            return None
        self._next += 1
        self._rows.append([now, float(tokens), float(tokens), float(self._next)])
        while self._rows and self._rows[0][0] <= now - 2 * self.window_s:
            self._rows.popleft()
        return self._next

    def settle(self, rid: int, used: int) -> None:
        for row in self._rows:
            if row[3] == rid:
                row[1] = float(min(row[2], max(used, 0)))
