"""Rate limits across replicas: two `volt-spark serve` processes over one PostgreSQL, four keys
of one org, 64 concurrent streams (clients that wait out every 429 as the openai SDK does, by
`retry-after-ms`). Afterwards the store's own rows (what was admitted, when, its reservation and
the tokens it used, and which request) are audited against the limit and against the headers
each response carried, and their tokens against the usage each stream reported. Then the cost
of the check itself: `rate_admit` + `rate_settle` from one process, alone and under contention.
Writes both sections to RESULTS.md.

Usage: `.venv/bin/python -m benchmarks.ratelimit [--seconds 75] [--tpm 20000]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from admin import tenancy
from admin.bootstrap import bootstrap_org
from benchmarks.load import PROMPTS
from benchmarks.results import write_section
from benchmarks.spark_vs_vllm import say, stop, wait_http
from lab.ports import free_port
from scheduler import fairqueue
from scheduler.limits import WINDOW_S
from voltcore.db import EmbeddedPostgres, create_pool, migrate

MODEL = "volt-tiny"
CATALOG = {
    "models": [
        {
            "id": MODEL,
            "kind": "chat",
            "path": "volt-tiny",
            "tiers": ["free", "standard", "enterprise"],
            "max_model_len": 1024,
            "max_num_seqs": 32,
        }
    ]
}
STREAMS = 64


@dataclass
class Outcome:
    request_id: str
    status: int
    remaining_tokens: int | None = None
    used: int = 0
    retry_after: bool = False


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def _stream(
    http: aiohttp.ClientSession, base: str, key: str, rng: random.Random, load: Load
) -> float:
    """One streamed chat; returns how long to wait before the next (a 429's retry-after-ms)."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
        "max_tokens": rng.choice([16, 32, 64]),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {key}"}
    async with http.post(f"{base}/v1/chat/completions", json=body, headers=headers) as resp:
        out = Outcome(resp.headers.get("x-request-id", ""), resp.status)
        load.outcomes.append(out)
        if resp.status == 429:
            out.retry_after = "retry-after" in resp.headers
            await resp.read()
            return int(resp.headers.get("retry-after-ms", "1000")) / 1000
        resp.raise_for_status()
        out.remaining_tokens = int(resp.headers["x-ratelimit-remaining-tokens"])
        async for line in resp.content:
            if line.startswith(b"data: {"):
                chunk = orjson.loads(line[6:])
                if chunk.get("usage"):
                    out.used = chunk["usage"]["total_tokens"]
    return 0.0


async def drive(bases: list[str], keys: list[str], seconds: float) -> Load:
    load = Load()
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120)
    ) as http:

        async def client(i: int) -> None:
            rng = random.Random(i)
            while time.monotonic() < deadline:
                wait = await _stream(http, bases[i % 2], keys[i % 4], rng, load)
                await asyncio.sleep(min(wait, max(deadline - time.monotonic(), 0)))

        async def progress() -> None:
            while time.monotonic() < deadline:
                await asyncio.sleep(15)
                ok = sum(o.status == 200 for o in load.outcomes)
                say(f"  {ok} admitted, {len(load.outcomes) - ok} refused so far")

        await asyncio.gather(progress(), *(client(i) for i in range(STREAMS)))
    return load


@dataclass(frozen=True)
class Row:
    """One admission as the store keeps it (times in epoch seconds)."""

    at: float
    reserved: int
    tokens: int
    settled_at: float | None
    request_id: str

    def held_at(self, t: float) -> int:
        """What it counted against the window at instant `t`."""
        return (
            self.tokens if self.settled_at is not None and self.settled_at <= t else self.reserved
        )


def audit(rows: list[Row], load: Load, tpm: int) -> dict[str, float]:
    """The store's rows against the limit, the headers and the streams' own usage."""

    def window(t: float) -> list[Row]:
        return [r for r in rows if t - WINDOW_S < r.at <= t]

    worst = max(sum(r.tokens for r in window(row.at)) for row in rows)
    by_request = {r.request_id: r for r in rows}
    ok = [o for o in load.outcomes if o.status == 200]
    errors = []
    for out in ok:
        row = by_request[out.request_id]
        truth = tpm - sum(r.held_at(row.at) for r in window(row.at))
        errors.append(abs((out.remaining_tokens or 0) - truth) / tpm)
    refused = [o for o in load.outcomes if o.status == 429]
    return {
        "admitted": len(ok),
        "rows": len(rows),
        "refused": len(refused),
        "refused_with_retry_after": sum(o.retry_after for o in refused),
        "worst_window": worst,
        "largest_reservation": max(r.reserved for r in rows),
        "tokens_rows": sum(r.tokens for r in rows),
        "tokens_streams": sum(o.used for o in ok),
        "header_error_max": max(errors),
        "header_error_p99": quantile(errors, 0.99),
        "header_error_p50": quantile(errors, 0.5),
        "tokens_per_s": sum(o.used for o in ok),
    }


async def overhead(uri: str, org_ids: list[str]) -> dict[str, tuple[float, float, float]]:
    """`rate_admit` latency as Spark's request path pays it, in ms (p50, p99), and the p50 of
    the `rate_settle` that follows (in the background, after the response)."""
    pool = await create_pool(uri, max_size=10)
    sql = "SELECT * FROM rate_admit($1, NULL, 1000000, 1000000000, NULL, NULL, 100)"

    async def one(org: str, admits: list[float], settles: list[float]) -> None:
        started = time.perf_counter()
        rows = await pool.fetch(sql, org)
        admitted = time.perf_counter()
        await pool.execute("SELECT rate_settle($1, 50)", rows[0]["reservation"])
        admits.append((admitted - started) * 1000)
        settles.append((time.perf_counter() - admitted) * 1000)

    results = {}
    for name, concurrency, orgs in (
        ("alone (one request at a time)", 1, org_ids[:1]),
        ("8 at once, one org (its lock)", 8, org_ids[:1]),
        ("64 at once, one org (its lock)", 64, org_ids[:1]),
        ("64 at once, 64 orgs", 64, org_ids),
    ):
        admits: list[float] = []
        settles: list[float] = []
        for _ in range(3):  # warm-up rounds, not counted
            await asyncio.gather(*(one(orgs[i % len(orgs)], [], []) for i in range(concurrency)))
        for _ in range(max(20, 1000 // concurrency)):
            await asyncio.gather(
                *(one(orgs[i % len(orgs)], admits, settles) for i in range(concurrency))
            )
        results[name] = (
            statistics.median(admits),
            quantile(admits, 0.99),
            statistics.median(settles),
        )
    await pool.close()
    return results


def queue_cost() -> dict[str, tuple[float, float]]:
    """An engine queue's own bookkeeping per request (arrive, charge, release: what Spark's
    request path runs besides waiting for a seat), in microseconds (p50, p99): with seats free,
    and with a 128-seat engine full and 1,000 requests of 64 orgs in line, where each release
    dispatches the next by VTC."""
    limits = fairqueue.QueueLimits(
        capacity=128, max_queued=4096, max_queued_per_org=256, timeout_s=3600, reserved=16
    )
    results = {}
    free, times = fairqueue.FairQueue(limits), []
    for _ in range(20_000):
        ticket = fairqueue.Ticket("org", 1)
        started = time.perf_counter()
        free.arrive(ticket, 0.0)
        free.charge(ticket, 20, 64)
        free.release(ticket, 0.0)
        times.append((time.perf_counter() - started) * 1e6)
    results["seats free"] = (statistics.median(times), quantile(times, 0.99))
    full, running, times = fairqueue.FairQueue(limits), [], []
    for i in range(128 + 1000):
        ticket = fairqueue.Ticket(f"org{i % 64}", 1)
        outcome, woken = full.arrive(ticket, 0.0)
        running += woken + ([ticket] if outcome is fairqueue.Outcome.DISPATCHED else [])
    for i in range(20_000):
        ticket = fairqueue.Ticket(f"org{i % 64}", 1)
        started = time.perf_counter()
        old = running.pop(0)
        full.charge(old, 20, 64)
        woken = full.release(old, 0.0)
        outcome, more = full.arrive(ticket, 0.0)
        times.append((time.perf_counter() - started) * 1e6)
        running += woken + more + ([ticket] if outcome is fairqueue.Outcome.DISPATCHED else [])
    results["engine full, 1,000 waiting from 64 orgs"] = (
        statistics.median(times),
        quantile(times, 0.99),
    )
    return results


async def setup(uri: str, tpm: int) -> tuple[list[str], list[str]]:
    pool = await create_pool(uri, max_size=4)
    await migrate(pool)
    org = await bootstrap_org(
        pool,
        name="Bench",
        tier="standard",
        metro="local1",
        admin_email="bench@example.com",
        trust_domain="volt.local",
    )
    keys = [org.api_key]
    async with pool.acquire() as conn:
        for i in range(3):
            new = await tenancy.create_api_key(
                conn,
                org.org_id,
                name=f"k{i}",
                scopes=["read", "write"],
                expires_at=None,
                created_by=None,
            )
            keys.append(new.secret)
        await conn.execute(
            "UPDATE orgs SET rpm_ceiling = 100000, tpm_ceiling = $2 WHERE id = $1",
            org.org_id,
            tpm,
        )
        others = []
        for i in range(64):
            other = await tenancy.create_org(conn, f"O{i}", "standard", "local1")
            others.append(other["id"])
    await pool.close()
    return [org.org_id, *others], keys


def spawn(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inference", "serve"],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--tpm", type=int, default=20_000)
    args = parser.parse_args()
    if args.seconds >= 2 * WINDOW_S:
        raise SystemExit("--seconds must stay under two windows: the store keeps rows that long")

    async def go(tmp: Path) -> None:
        pg = await EmbeddedPostgres.start(tmp / "pg")
        procs = []
        try:
            orgs, keys = await setup(pg.uri, args.tpm)
            catalog = tmp / "models.yaml"
            catalog.write_text(orjson.dumps(CATALOG).decode())
            ports = [free_port(), free_port()]
            for i, port in enumerate(ports):
                env = {
                    **os.environ,
                    "VOLT_DATABASE_URL": pg.uri,
                    "VOLT_DATA_DIR": str(tmp / f"data{i}"),
                    "VOLT_PORT": str(port),
                    "VOLT_POD": f"spark-{i}",
                    "VOLT_MODELS_FILE": str(catalog),
                    "VOLT_LOG_LEVEL": "WARNING",
                }
                procs.append(spawn(env))
            say("starting two volt-spark replicas over one PostgreSQL")
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                await asyncio.to_thread(wait_http, f"{base}/health/ready", 600)
            say(f"{STREAMS} streams, 4 keys, TPM {args.tpm}, {args.seconds:.0f} s")
            load = await drive(bases, keys, args.seconds)
            await asyncio.sleep(2)  # the last settlements land
            pool = await create_pool(pg.uri, max_size=2)
            rows = [
                Row(
                    float(r["at"]),
                    r["reserved"],
                    r["tokens"],
                    None if r["settled_at"] is None else float(r["settled_at"]),
                    r["request_id"],
                )
                for r in await pool.fetch(
                    """SELECT extract(epoch FROM at) AS at, reserved, tokens, request_id,
                              extract(epoch FROM settled_at) AS settled_at
                         FROM rate_reservations WHERE org_id = $1 ORDER BY at""",
                    orgs[0],
                )
            ]
            await pool.close()
            figures = audit(rows, load, args.tpm)
            figures["tokens_per_s"] /= args.seconds
            say(f"audit: {figures}")
            for proc in procs:
                stop(proc)
            procs = []
            say("overhead of rate_admit + rate_settle")
            cost = await overhead(pg.uri, orgs[1:])
            write(args, figures, cost, queue_cost())
        finally:
            for proc in procs:
                stop(proc)
            await pg.stop()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(go(Path(tmp)))


def write(
    args: argparse.Namespace,
    f: dict[str, float],
    cost: dict[str, tuple[float, float, float]],
    queue: dict[str, tuple[float, float]],
) -> None:
    excess = max(f["worst_window"] - args.tpm, 0)
    rows = "\n".join(
        f"| {name} | {p50:.2f} | {p99:.2f} | {settle:.2f} |"
        for name, (p50, p99, settle) in cost.items()
    )
    window = (
        f"{f['worst_window']:.0f} (limit {args.tpm}: over by {excess:.0f}; "
        f"one reservation is at most {f['largest_reservation']:.0f})"
    )
    header = (
        f"p50 {100 * f['header_error_p50']:.3f}%, p99 {100 * f['header_error_p99']:.3f}%, "
        f"max {100 * f['header_error_max']:.3f}%"
    )
    tokens = f"{f['tokens_rows']:.0f} / {f['tokens_streams']:.0f}"
    queue_rows = "\n".join(
        f"| {name} | {p50:.1f} | {p99:.1f} |" for name, (p50, p99) in queue.items()
    )
    write_section(
        "ratelimit",
        f"""## Rate limits across replicas

Two `volt-spark serve` processes (tiny model) over one embedded PostgreSQL; one org's four keys
split over both; {STREAMS} concurrent streams for {args.seconds:.0f} s against a limit of
{args.tpm} tokens per minute; clients wait out each 429 by its `retry-after-ms`. Audited from the
store's rows (every admission, its reservation, the tokens it used, its request id).

| | |
|---|---|
| requests admitted / refused (429) | {f["admitted"]:.0f} / {f["refused"]:.0f} |
| 429s carrying `retry-after` | {f["refused_with_retry_after"]:.0f} of {f["refused"]:.0f} |
| most tokens admitted in any 60 s window | {window} |
| tokens in the store / reported by the streams | {tokens} |
| `x-ratelimit-remaining-tokens` vs the truth, as a share of the limit | {header} |
| tokens served per second, both replicas | {f["tokens_per_s"]:.0f} |

The truth for a response is recomputed from the rows: the limit less what every request admitted
in the 60 s before it held at that instant (its reservation, or its tokens once settled).

### Cost of the check and the queue on the request path

`rate_admit` (one round trip, on the request path, before the engine queue) from one process's
pool of 10 connections, as Spark calls it, in ms; `rate_settle` follows each in the background
once the response is sent. Concurrent callers share the pool, and those of one org take turns
at its lock.

| load | admit p50 | admit p99 | settle p50 |
|---|---|---|---|
{rows}

The engine queue's own bookkeeping per request (arrive, charge, release; `scheduler/fairqueue.py`,
the time a request spends waiting for a seat aside), in microseconds:

| load | p50 | p99 |
|---|---|---|
{queue_rows}
""",
    )


if __name__ == "__main__":
    main()
