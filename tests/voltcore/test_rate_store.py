"""The shared store's `rate_admit` / `rate_settle` (migration 0011) against the specification,
scheduler.limits.SlidingWindow: the same random histories give the same admissions, usage and
waits, for an org alone and for a key with limits of its own inside it. Time is passed in
(`p_now`), so a history of minutes runs in milliseconds on the real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid

import pytest
from asyncpg import Pool

from scheduler.limits import Limit, SlidingWindow

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def admit(
    pool: Pool,
    org: str,
    key: str | None,
    org_l: Limit,
    key_l: Limit | None,
    tokens: int,
    t: float | None,
) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT * FROM rate_admit($1, $2, $3, $4, $5, $6, $7, NULL, interval '60 seconds', $8)",
        org,
        key,
        org_l.requests,
        org_l.tokens,
        key_l.requests if key_l else None,
        key_l.tokens if key_l else None,
        tokens,
        None if t is None else T0 + dt.timedelta(seconds=t),
    )
    return [dict(r) for r in rows]


@pytest.mark.parametrize("seed", range(12))
async def test_the_store_admits_exactly_as_the_sliding_window_does(pool: Pool, seed: int) -> None:
    rng = random.Random(seed)
    org, key = f"org_{uuid.uuid4().hex}", f"key_{uuid.uuid4().hex}"
    org_l = Limit(rng.randint(3, 12), rng.randint(500, 2500))
    key_l = (
        Limit(rng.randint(2, org_l.requests), rng.randint(300, org_l.tokens)) if seed % 2 else None
    )
    spec_org, spec_key = SlidingWindow(), SlidingWindow()
    t = 0.0
    for _ in range(40):
        t += rng.choice([0.0, 0.5, 3.0, 9.0, 25.0])
        tokens = rng.randint(1, 300)
        # Two keys of the org take turns: the org's window counts both, the key's only its own.
        mine = rng.random() < 0.6 or key_l is None
        rows = await admit(
            pool, org, key if mine else None, org_l, key_l if mine else None, tokens, t
        )
        org_wait = spec_org.wait(tokens, t, org_l)
        key_wait = spec_key.wait(tokens, t, key_l) if mine and key_l else 0.0
        expected = org_wait == 0 and key_wait == 0
        assert rows[0]["admitted"] is expected
        waits = [rows[0]["requests_wait_s"], rows[0]["tokens_wait_s"]]
        got = None if None in waits else max(w for w in waits if w is not None)
        assert got == (None if org_wait is None else pytest.approx(org_wait, abs=1e-3))
        if expected:
            rid = spec_org.admit(tokens, t, org_l)
            kid = spec_key.admit(tokens, t, key_l) if mine and key_l else None
        # Usage as the store reports it: after this admission, before its settlement.
        assert (rows[0]["requests_used"], rows[0]["tokens_used"]) == spec_org.usage(t)
        if mine and key_l is not None:
            assert rows[1]["scope"] == "key"
            assert (rows[1]["requests_used"], rows[1]["tokens_used"]) == spec_key.usage(t)
        if expected:
            assert rid is not None
            used = rng.randint(0, tokens)
            await pool.execute("SELECT rate_settle($1, $2)", rows[0]["reservation"], used)
            spec_org.settle(rid, used)
            if kid is not None:
                spec_key.settle(kid, used)


async def test_concurrent_admissions_from_many_connections_never_overshoot(pool: Pool) -> None:
    """Forty admissions at once for one org (four keys, the pool's connections in parallel):
    exactly as many pass as fit, never one more."""
    org = f"org_{uuid.uuid4().hex}"
    keys = [f"key_{uuid.uuid4().hex}" for _ in range(4)]
    results = await asyncio.gather(
        *(admit(pool, org, keys[i % 4], Limit(1000, 1000), None, 100, None) for i in range(40))
    )
    assert sum(bool(r[0]["admitted"]) for r in results) == 10
