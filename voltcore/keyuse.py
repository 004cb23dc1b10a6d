"""`last_used_at` of API keys and access tokens, recorded off the request path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from voltcore.db import Conn
from voltcore.writers import BatchWriter


class KeyUseRecorder(BatchWriter[tuple[str, dt.datetime]]):
    """Records `last_used_at` of API keys and access tokens off the request path, at most once a
    minute per credential: a hot key must not turn every request into a row update."""

    name = "key_last_used"
    granularity = dt.timedelta(minutes=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: dict[str, dt.datetime] = {}

    def used(self, key_id: str, at: dt.datetime) -> None:
        last = self._seen.get(key_id)
        if last is None or at - last >= self.granularity:
            if len(self._seen) > 100_000:  # bound memory; forgetting only costs an extra update
                self._seen.clear()
            self._seen[key_id] = at
            self.add((key_id, at))

    async def _write(self, conn: Conn, batch: list[tuple[str, dt.datetime]]) -> None:
        ids, times = [k for k, _ in batch], [t for _, t in batch]
        for table in ("api_keys", "oauth_tokens"):  # ids are unique across both (prefixes)
            await conn.execute(
                f"""UPDATE {table} SET last_used_at = u.at
                    FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
                    WHERE {table}.id = u.id AND (last_used_at IS NULL OR last_used_at < u.at)""",
                ids,
                times,
            )
