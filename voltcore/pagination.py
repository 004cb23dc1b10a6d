"""Cursor pagination (`limit`, `after`, `has_more`), shaped like OpenAI's list objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from voltcore.validation import RequestModel


class ListParams(RequestModel):
    limit: int = Field(20, ge=1, le=100)
    after: str | None = Field(None, min_length=1, max_length=64)


def list_object(items: Sequence[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    """`items` already trimmed to the page; `has_more` from fetching one extra row."""
    return {
        "object": "list",
        "data": list(items),
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
