"""The audit log: every request recorded without bodies, append-only, and a hash chain that
detects an edited or deleted row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import asyncpg
import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Org
from tests.support.admin_cli import audit_verify
from tests.support.client import Client
from voltcore.appkeys import AUDIT
from voltcore.audit import (
    GENESIS,
    AuditEntry,
    AuditWriter,
    ChainVerifier,
    chain_hash,
    verify_chain,
)
from voltcore.db import Pool
from voltcore.metrics import Metrics


def make_rows(n: int) -> list[dict[str, object]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = AuditEntry(
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=seq * 1001),
            "org_a",
            "key_a",
            "spiffe://volt.local/tenant/org_a",
            "GET",
            "/v1/me",
            200,
            f"req_{seq}",
            "volt-admin",
        )
        digest = chain_hash(prev, seq, entry)
        rows.append({"seq": seq, **dataclasses.asdict(entry), "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def verify(rows: list[dict[str, object]]) -> ChainVerifier:
    v = ChainVerifier()
    for row in rows:
        if not v.check(row):
            break
    return v


@given(st.integers(1, 30), st.data())
def test_any_single_edit_or_deletion_is_detected(n: int, data: st.DataObject) -> None:
    rows = make_rows(n)
    assert verify(rows).result().ok
    victim = data.draw(st.integers(0, n - 1))
    edited = [dict(r) for r in rows]
    field = data.draw(st.sampled_from(["principal", "route", "status", "method", "time"]))
    edited[victim][field] = {
        "principal": "key_b",
        "route": "/v1/usage",
        "status": 500,
        "method": "POST",
        "time": rows[victim]["time"] + dt.timedelta(seconds=1),  # type: ignore[operator]
    }[field]
    result = verify(edited).result()
    assert not result.ok and result.seq == victim + 1 and "modified" in (result.problem or "")
    if victim < n - 1:  # deleting the newest row leaves a valid, shorter chain (see README)
        deleted = rows[:victim] + rows[victim + 1 :]
        result = verify(deleted).result()
        assert not result.ok and result.seq == victim + 2 and "missing" in (result.problem or "")


async def test_requests_are_audited_without_bodies(
    client: Client, org: Org, admin_app: tuple[web.Application, str], pool: Pool
) -> None:
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "very-secret-name"}
    )
    created_request = r.headers["x-request-id"]
    denied = await client.get(f"/v1/orgs/{org.id}/api-keys", key="volt_sk_live_bad")
    await admin_app[0][AUDIT].flush()

    logs = (await client.get(f"/v1/orgs/{org.id}/audit-logs", key=org.key)).json()["data"]
    entry = next(e for e in logs if e["request_id"] == created_request)
    assert entry["method"] == "POST"
    assert entry["route"] == "/v1/orgs/{org_id}/api-keys"
    assert entry["status"] == 201
    assert entry["principal"] == org.key_id
    assert entry["spiffe_id"] == org.spiffe_id
    # Unauthenticated requests are audited too, with no principal.
    row = await pool.fetchrow(
        "SELECT * FROM audit_log WHERE request_id = $1", denied.headers["x-request-id"]
    )
    assert row is not None and row["status"] == 401 and row["principal"] is None
    dump = orjson.dumps([dict(r) for r in await pool.fetch("SELECT * FROM audit_log")], default=str)
    assert b"very-secret-name" not in dump
    assert r.json()["secret"].encode() not in dump


async def test_database_refuses_changes_to_audit_rows(pool: Pool, client: Client, org: Org) -> None:
    await client.get("/v1/me", key=org.key)
    for sql in ("UPDATE audit_log SET status = 200", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute(sql)


async def _tamper(pool: Pool, sql: str) -> None:
    # An attacker with owner rights can disable the trigger; the chain still tells.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")


def _cli_verify(dsn: str) -> tuple[int, dict[str, object]]:
    return audit_verify({**os.environ, "VOLT_DATABASE_URL": dsn})


@pytest.mark.slow
async def test_verify_detects_tampering(fresh_db: tuple[str, Pool]) -> None:
    # History is rewritten here, so on a database of its own rather than the shared one.
    dsn, db = fresh_db
    writer = AuditWriter(db, Metrics("test"))
    for i in range(5):
        writer.add(
            AuditEntry(
                dt.datetime.now(dt.UTC),
                "org_a",
                "key_a",
                None,
                "GET",
                "/v1/me",
                200,
                f"req_{i}",
                "volt-admin",
            )
        )
    await writer.flush()
    code, report = _cli_verify(dsn)
    assert code == 0 and report == {
        "ok": True,
        "rows": 5,
        "head_seq": 5,
        "head_hash": report["head_hash"],
        "problem": None,
        "seq": None,
    }

    await _tamper(db, "UPDATE audit_log SET status = 500, principal = 'x' WHERE seq = 3")
    code, report = _cli_verify(dsn)
    assert code == 1 and report["ok"] is False
    assert report["seq"] == 3 and report["problem"] == "row 3 was modified"

    await _tamper(db, "DELETE FROM audit_log WHERE seq = 3")
    result = await verify_chain(db)
    assert not result.ok and result.seq == 4 and result.problem == "rows 3..3 are missing"
    assert result.rows == 2
