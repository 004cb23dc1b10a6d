"""Usage queries over `usage_events`: time buckets, grouping and paging, shaped like OpenAI's
organization usage API (`object: page` of `bucket`s, each with `results`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
from pydantic import Field

from voltcore.errors import InvalidRequest
from voltcore.validation import RequestModel

BucketWidth = Literal["1m", "1h", "1d"]
GroupBy = Literal["model", "api_key", "endpoint"]

WIDTH_S: dict[str, int] = {"1m": 60, "1h": 3600, "1d": 86_400}
# (default, maximum) buckets per page, as OpenAI's usage API allows.
PAGE_LIMITS: dict[str, tuple[int, int]] = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
GROUP_COLUMNS: dict[str, str] = {"model": "model", "api_key": "api_key_id", "endpoint": "endpoint"}


class WindowParams(RequestModel):
    """The time range and paging every usage and costs query shares."""

    start_time: int = Field(ge=0)
    end_time: int | None = Field(None, ge=0)
    bucket_width: BucketWidth = "1d"
    limit: int | None = Field(None, ge=1, le=1440)
    page: str | None = None


class UsageParams(WindowParams):
    group_by: list[GroupBy] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    api_key_ids: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """The buckets of one page: `count` buckets of `width` seconds from `first`, clipped to
    the caller's [start, end)."""

    start: int
    end: int
    width: int
    first: int
    count: int
    has_more: bool

    @property
    def span(self) -> tuple[int, int]:
        """The seconds this page covers: its buckets clipped to [start, end)."""
        return max(self.start, self.first), min(self.end, self.first + self.count * self.width)

    @property
    def next_page(self) -> str | None:
        return f"page_{self.first + self.count * self.width}" if self.has_more else None


def plan_window(params: WindowParams, now: float | None = None) -> Window:
    """Pure: validate the range and cursor, and choose the buckets of this page."""
    width = WIDTH_S[params.bucket_width]
    # Without an end, up to and including the current second (end_time is exclusive).
    end = params.end_time if params.end_time is not None else int(now or time.time()) + 1
    if end <= params.start_time:
        raise InvalidRequest(
            "'end_time' must be after 'start_time'.", param="end_time", code="invalid_value"
        )
    default, maximum = PAGE_LIMITS[params.bucket_width]
    limit = params.limit if params.limit is not None else default
    if limit > maximum:
        raise InvalidRequest(
            f"'limit' may be at most {maximum} for bucket_width {params.bucket_width}.",
            param="limit",
            code="invalid_value",
        )
    aligned = params.start_time - params.start_time % width
    first = aligned
    if params.page is not None:
        raw = params.page.removeprefix("page_")
        if not raw.isdigit() or int(raw) % width or not aligned <= int(raw) < end:
            raise InvalidRequest(
                f"Invalid page cursor: '{params.page}'.", param="page", code="invalid_cursor"
            )
        first = int(raw)
    total = -(-(end - first) // width)  # buckets left, rounding up
    count = min(limit, total)
    return Window(params.start_time, end, width, first, count, has_more=total > count)


async def query_usage(pool: asyncpg.Pool, org_id: str, params: UsageParams) -> dict[str, Any]:
    window = plan_window(params)
    groups = [GROUP_COLUMNS[g] for g in dict.fromkeys(params.group_by)]
    lo, hi = window.span
    where = ["org_id = $1", "time >= to_timestamp($4)", "time < to_timestamp($5)"]
    args: list[Any] = [org_id, window.first, window.width, lo, hi]
    if params.models:
        args.append(params.models)
        where.append(f"model = ANY(${len(args)})")
    if params.api_key_ids:
        args.append(params.api_key_ids)
        where.append(f"api_key_id = ANY(${len(args)})")
    group_sql = "".join(f", {c}" for c in groups)
    rows = await pool.fetch(
        f"""SELECT floor((extract(epoch FROM time) - $2) / $3)::bigint AS bucket{group_sql},
                   sum(prompt_tokens)::bigint AS input_tokens,
                   sum(completion_tokens)::bigint AS output_tokens,
                   sum(cached_tokens)::bigint AS input_cached_tokens,
                   sum(requests)::bigint AS num_model_requests
            FROM usage_events WHERE {" AND ".join(where)}
            GROUP BY bucket{group_sql} ORDER BY bucket{group_sql}""",
        *args,
    )
    results: dict[int, list[dict[str, Any]]] = {i: [] for i in range(window.count)}
    for row in rows:
        results[row["bucket"]].append(
            {
                "object": "usage.result",
                "input_tokens": row["input_tokens"],
                "output_tokens": row["output_tokens"],
                "input_cached_tokens": row["input_cached_tokens"],
                "num_model_requests": row["num_model_requests"],
                **{c: (row[c] if c in groups else None) for c in GROUP_COLUMNS.values()},
            }
        )
    return page_of(window, results)


def page_of(window: Window, results: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """The `page` object: every bucket of the window, empty ones included, oldest first."""
    buckets = [
        {
            "object": "bucket",
            "start_time": window.first + i * window.width,
            "end_time": window.first + (i + 1) * window.width,
            "results": results.get(i, []),
        }
        for i in range(window.count)
    ]
    return {
        "object": "page",
        "data": buckets,
        "has_more": window.has_more,
        "next_page": window.next_page,
    }
