"""Fine-tuned models in Spark: the registry the `volt-finetune` workers write (`ft_models`),
read per org, and the vLLM `LoRARequest` that serves each one on its base model's engine.

vLLM loads an adapter on its first request and keeps the most recently used ones resident
(`max_cpu_loras` in models.yaml), so nothing is loaded here ahead of use.

Usage: `ft = await app[FINE_TUNED].get("ft:...", org_id)`; `engine.generate(..., ft.request())`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

PREFIX = "ft:"


@dataclass(frozen=True)
class FineTuned:
    id: str
    org_id: str
    base_model: str
    adapter: Path
    created: int
    # vLLM tells adapters apart by this number: one per model id for the life of the process.
    lora_int_id: int

    def request(self) -> Any:
        from vllm.lora.request import LoRARequest

        return LoRARequest(self.id, self.lora_int_id, str(self.adapter))


class FineTunedModels:
    """Registered models are immutable, so hits are cached (bounded); misses are not, so a model
    registered a moment ago is found at once."""

    def __init__(self, pool: asyncpg.Pool, artifacts: Path, cache_size: int = 4096) -> None:
        self._pool = pool
        self._root = artifacts
        self._cache: OrderedDict[str, FineTuned] = OrderedDict()
        self._cache_size = cache_size
        self._int_ids: dict[str, int] = {}

    def _entry(self, row: asyncpg.Record) -> FineTuned:
        int_id = self._int_ids.setdefault(row["id"], len(self._int_ids) + 1)
        return FineTuned(
            id=row["id"],
            org_id=row["org_id"],
            base_model=row["base_model"],
            adapter=self._root / row["adapter"],
            created=int(row["created_at"].timestamp()),
            lora_int_id=int_id,
        )

    async def get(self, model_id: str, org_id: str) -> FineTuned | None:
        """The org's fine-tuned model by id; None for any other org's, as for a missing one."""
        if not model_id.startswith(PREFIX):
            return None
        found = self._cache.get(model_id)
        if found is None:
            row = await self._pool.fetchrow("SELECT * FROM ft_models WHERE id = $1", model_id)
            if row is None:
                return None
            found = self._entry(row)
            self._cache[model_id] = found
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(model_id)
        return found if found.org_id == org_id else None

    async def for_org(self, org_id: str) -> list[FineTuned]:
        rows = await self._pool.fetch(
            "SELECT * FROM ft_models WHERE org_id = $1 ORDER BY created_at, id", org_id
        )
        return [self._entry(row) for row in rows]
