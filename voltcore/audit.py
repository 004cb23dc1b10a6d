"""The tamper-evident audit log: entries, the hash chain, its batched writer and its verifier.

Each row's hash is SHA-256 over the previous row's hash and the row's own fields in a fixed
canonical form, so editing a row breaks its hash, and deleting one breaks the next row's link and
leaves a gap in `seq`. A database trigger additionally refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from voltcore.db import Conn
from voltcore.writers import BatchWriter

GENESIS = bytes(32)
# Serialises writers across processes so that seq and prev_hash stay a single chain.
_CHAIN_LOCK = 0x766F6C74_0002


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One request as the audit log keeps it: who, what route, what outcome; never a body."""

    time: dt.datetime
    org_id: str | None
    principal: str | None
    spiffe_id: str | None
    method: str
    route: str
    status: int
    request_id: str
    service: str


# The table's column order: the chain position, the entry's fields in order, then the links.
COLUMNS = ("seq", *(f.name for f in dataclasses.fields(AuditEntry)), "prev_hash", "hash")


def _micros(t: dt.datetime) -> int:
    # Postgres keeps microseconds, so the canonical form does too: the hash survives a round trip.
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def chain_hash(prev_hash: bytes, seq: int, entry: AuditEntry) -> bytes:
    fields = dataclasses.astuple(entry)
    canonical = orjson.dumps([seq, _micros(entry.time), *fields[1:]])
    return hashlib.sha256(prev_hash + canonical).digest()


class AuditWriter(BatchWriter[AuditEntry]):
    name = "audit"

    async def _write(self, conn: Conn, batch: list[AuditEntry]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CHAIN_LOCK)
            head = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS)
            records = []
            for entry in batch:
                seq += 1
                digest = chain_hash(prev, seq, entry)
                records.append((seq, *dataclasses.astuple(entry), prev, digest))
                prev = digest
            await conn.copy_records_to_table("audit_log", records=records, columns=COLUMNS)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    seq: int | None = None


class ChainVerifier:
    """Walks the chain in seq order and stops at the first row that does not link or hash.

    Usage: `for row in rows: if not v.check(row): break`, then `v.result()`.
    """

    def __init__(self) -> None:
        self._expected_seq = 1
        self._prev = GENESIS
        self._rows = 0
        self._problem: tuple[int, str] | None = None

    def check(self, row: Mapping[str, Any]) -> bool:
        seq = row["seq"]
        if seq != self._expected_seq:
            return self._fail(seq, f"rows {self._expected_seq}..{seq - 1} are missing")
        if bytes(row["prev_hash"]) != self._prev:
            return self._fail(seq, f"row {seq} does not link to row {seq - 1}")
        entry = AuditEntry(*(row[c] for c in COLUMNS[1:-2]))
        if chain_hash(self._prev, seq, entry) != bytes(row["hash"]):
            return self._fail(seq, f"row {seq} was modified")
        self._prev, self._expected_seq, self._rows = bytes(row["hash"]), seq + 1, self._rows + 1
        return True

    def _fail(self, seq: int, problem: str) -> bool:
        self._problem = (seq, problem)
        return False

    def result(self) -> VerifyResult:
        head = VerifyResult(True, self._rows, self._expected_seq - 1, self._prev.hex())
        if self._problem is None:
            return head
        seq, problem = self._problem
        return dataclasses.replace(head, ok=False, problem=problem, seq=seq)


async def verify_chain(pool: asyncpg.Pool, page: int = 10_000) -> VerifyResult:
    """Check the whole audit log. Usage: `result = await verify_chain(pool)`."""
    verifier = ChainVerifier()
    after = 0
    while True:
        rows = await pool.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            after,
            page,
        )
        for row in rows:
            if not verifier.check(dict(row)):
                return verifier.result()
        if len(rows) < page:
            return verifier.result()
        after = rows[-1]["seq"]
