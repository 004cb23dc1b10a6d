"""Authenticated latency under a flood of random well-formed API keys, against a real
`volt-admin serve` (its own process, the real 10-connection pool) on the embedded PostgreSQL.
Writes the table to RESULTS.md.

The authenticated caller reads its org (`GET /v1/orgs/{org_id}`: a cached key, then one query
from the pool) at a steady rate; the flood is another process sending random keys over 64
connections, from another client address behind a trusted proxy (`X-Forwarded-For`), at an
offered rate and then as fast as it goes. Measured with the failed-authentication limit on
(the default) and off (a limit no flood reaches: every random key is a query, as before).

Usage: `.venv/bin/python -m benchmarks.auth_flood [--seconds 8] [--rounds 3]`
(`... flood URL SECONDS RATE KIND` is the flooding process.)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from admin.bootstrap import bootstrap_org
from benchmarks.results import write_section
from lab.ports import free_port
from voltcore.db import EmbeddedPostgres, create_pool, migrate
from voltcore.keys import generate_key

LEGIT_RATE = 100.0  # authenticated requests per second, up to LEGIT_CONCURRENCY at once
LEGIT_CONCURRENCY = 8
FLOOD_CONCURRENCY = 64
# Offered flood rates: one the server's CPU absorbs (so what is measured is the pool), and
# as fast as 64 connections go (then the CPU is what runs out).
# Each with random well-formed keys; "malformed" (checksum wrong, refused before any lookup in
# every version) is the floor: what any 500 requests a second cost the shared CPU.
FLOODS = ((500.0, "random"), (500.0, "malformed"), (0.0, "random"))


async def _until_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/health/ready") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("volt-admin did not become ready")


async def _paced(
    rate: float, seconds: float, concurrency: int, one: Callable[[], Awaitable[None]]
) -> None:
    """`one()` at `rate` per second (0: back to back) for `seconds`, at most `concurrency` at
    a time; a request that would start late starts as soon as a slot frees."""
    deadline = time.monotonic() + seconds
    if rate <= 0:

        async def loop() -> None:
            while time.monotonic() < deadline:
                await one()

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def slot() -> None:
        async with slots:
            await one()

    start = time.monotonic()
    n = 0
    while time.monotonic() < deadline:
        task = asyncio.create_task(slot())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)


async def _legit(base: str, key: str, org_id: str, seconds: float) -> list[float]:
    """Latencies (ms) of authenticated reads at LEGIT_RATE per second."""
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "198.51.100.1"}
    out: list[float] = []
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            started = time.perf_counter()
            async with http.get(f"{base}/v1/orgs/{org_id}", headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status
            out.append((time.perf_counter() - started) * 1000)

        await _paced(LEGIT_RATE, seconds, LEGIT_CONCURRENCY, one)
    return out


def _malformed() -> str:
    key = generate_key()
    return key[:-1] + ("a" if key[-1] != "a" else "b")


async def _flood(base: str, seconds: float, rate: float, kind: str) -> dict[str, int]:
    statuses: collections.Counter[int] = collections.Counter()
    headers = {"X-Forwarded-For": "203.0.113.7"}
    connector = aiohttp.TCPConnector(limit=FLOOD_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            key = generate_key() if kind == "random" else _malformed()
            auth = {"Authorization": f"Bearer {key}", **headers}
            async with http.get(f"{base}/v1/me", headers=auth) as r:
                await r.read()
                statuses[r.status] += 1

        await _paced(rate, seconds, FLOOD_CONCURRENCY, one)
    return {str(k): v for k, v in statuses.items()}


@dataclass(frozen=True)
class Phase:
    flood_rate: float | None  # None: no flood; 0: as fast as it goes
    flood_kind: str
    latencies_ms: list[float]
    flood_statuses: dict[str, int]
    flood_seconds: float

    def p(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    def flood_text(self) -> str:
        if self.flood_rate is None:
            return "none"
        offered = "max" if self.flood_rate == 0 else f"{self.flood_rate:,.0f}/s"
        got = sum(self.flood_statuses.values()) / self.flood_seconds
        answered = ", ".join(f"{n} x{c:,}" for n, c in sorted(self.flood_statuses.items()))
        return f"{self.flood_kind} keys, {offered}: {got:,.0f}/s ({answered})"


def _row(limit: str, rounds: list[list[Phase]], i: int) -> str:
    """Phase `i` of one limit, over every round: the median p50, p99 and p99 ratio (each
    round's flood against that round's unloaded p99, so machine noise cancels)."""
    med = statistics.median
    p50 = med(r[i].p(50) for r in rounds)
    p99 = med(r[i].p(99) for r in rounds)
    ratios = [r[i].p(99) / r[0].p(99) for r in rounds]
    flood = rounds[len(rounds) // 2][i].flood_text()
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    return f"| {limit} | {flood} | {p50:.1f} | {p99:.1f} | **{med(ratios):.2f}x** ({spread}) |"


async def _scenario(dsn: str, key: str, org_id: str, seconds: float, limit: int) -> list[Phase]:
    """One server with this failed-auth limit: unloaded, then under each flood rate."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "VOLT_DATABASE_URL": dsn,
        "VOLT_PORT": str(port),
        "VOLT_TRUSTED_PROXIES": '["127.0.0.0/8"]',
        "VOLT_FAILED_AUTH_PER_WINDOW": str(limit),
        "VOLT_LOG_LEVEL": "ERROR",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "admin", "serve", env=env, stderr=subprocess.DEVNULL
    )
    phases = []
    try:
        await _until_ready(base)
        await _legit(base, key, org_id, 1.0)  # warm: the key is cached, connections open
        phases.append(Phase(None, "", await _legit(base, key, org_id, seconds), {}, seconds))
        for rate, kind in FLOODS:
            flood = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "benchmarks.auth_flood", "flood", base),
                *(str(seconds + 1.0), str(rate), kind),
                stdout=subprocess.PIPE,
            )
            await asyncio.sleep(0.5)  # let the flood reach its pace
            flooded = await _legit(base, key, org_id, seconds)
            out, _ = await asyncio.wait_for(flood.communicate(), timeout=seconds + 60)
            phases.append(Phase(rate, kind, flooded, orjson.loads(out), seconds + 1.0))
            await asyncio.sleep(1.0)  # the backlog drains before the next phase
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)
    return phases


LIMITS = (("on (default, 30/min)", 30), ("off", 10**9))


async def run(seconds: float, rounds: int) -> dict[str, list[list[Phase]]]:
    """`rounds` rounds, each measuring both limits (alternating which goes first)."""
    with tempfile.TemporaryDirectory() as tmp:
        pg = await EmbeddedPostgres.start(Path(tmp) / "pg")
        try:
            pool = await create_pool(pg.uri, max_size=2)
            await migrate(pool)
            b = await bootstrap_org(
                pool,
                name="Bench",
                tier="standard",
                metro="fra1",
                admin_email="ops@bench.example",
                trust_domain="volt.local",
            )
            await pool.close()
            results: dict[str, list[list[Phase]]] = {name: [] for name, _ in LIMITS}
            for n in range(rounds):
                for name, limit in LIMITS if n % 2 == 0 else LIMITS[::-1]:
                    phases = await _scenario(pg.uri, b.api_key, b.org_id, seconds, limit)
                    results[name].append(phases)
                    for i in range(len(phases)):
                        print(f"round {n + 1}", _row(name, [phases], i), flush=True)
            return results
        finally:
            await pg.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "flood":
        base, seconds, rate, kind = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
        print(orjson.dumps(asyncio.run(_flood(base, seconds, rate, kind))).decode())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.rounds))
    rows = "\n".join(
        _row(name, rounds, i) for name, rounds in results.items() for i in range(len(rounds[0]))
    )
    write_section(
        "auth_flood",
        f"""## Authenticated latency under a flood of random API keys

`volt-admin serve` in its own process (10-connection pool) on the embedded PostgreSQL 16,
2 cores shared with the client processes. An authenticated caller reads its org
(`GET /v1/orgs/{{org_id}}`: a cached key, then one pooled query) {LEGIT_RATE:.0f} times a second
for {args.seconds:.0f} s per phase: unloaded, then while another process sends random
well-formed keys to `/v1/me` over {FLOOD_CONCURRENCY} connections, from another address behind
the trusted proxy, at an offered rate, then as fast as it can. "Malformed keys" (a wrong
checksum, refused before any lookup, limit or not) is the floor: what that many requests a
second cost on the shared cores whatever they carry. "Off" is a limit no flood reaches:
every random key costs a query and an audit row, as before the limit. Medians of
{args.rounds} rounds (both limits in each, alternating which goes first); the ratio is each
round's flooded p99 over the same server's unloaded p99 (median, and the range over rounds:
p99 of a 10 s phase is noisy on a shared 2-core VM).

| failed-auth limit | flood offered: answered (statuses) | p50 ms | p99 ms | p99 ratio (range) |
|---|---|---|---|---|
{rows}

With the limit the flooding address gets its 30 lookups a minute, then 429 before any query
and without an audit row; what is left of the slowdown is the CPU of parsing and answering the
flood's requests on cores the server shares with both clients and PostgreSQL. Malformed keys
(and missing ones) are not limited: each still costs an audit row (hash-chained, COPY), which
is why they cost more than limited random keys. At the maximum rate the CPU is all there is:
that is for the ingress to shed (connection and request rate limits), not the pool.
""",
    )


if __name__ == "__main__":
    main()
