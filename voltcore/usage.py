"""Token usage events and their batched COPY writer (Spark meters every request through it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass, fields

from voltcore.db import Conn
from voltcore.writers import BatchWriter


@dataclass(frozen=True, slots=True)
class UsageEvent:
    time: dt.datetime
    org_id: str
    api_key_id: str | None
    model: str
    endpoint: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    requests: int = 1


_COLUMNS = tuple(f.name for f in fields(UsageEvent))


class UsageWriter(BatchWriter[UsageEvent]):
    name = "usage"

    async def _write(self, conn: Conn, batch: list[UsageEvent]) -> None:
        await conn.copy_records_to_table(
            "usage_events", records=[astuple(e) for e in batch], columns=_COLUMNS
        )
