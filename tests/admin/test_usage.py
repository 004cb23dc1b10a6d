"""`GET /v1/usage`: bucketing, grouping, filters and paging over events written by the batched
usage writer (the same one Spark meters through)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from aiohttp import web

from tests.conftest import MakeOrg, Org
from tests.support.client import Client
from voltcore.appkeys import USAGE
from voltcore.usage import UsageEvent

DAY = 86_400
# A fixed, day-aligned origin far in the past so that tests never see "now" move under them.
T0 = 1_700_006_400  # 2023-11-15T00:00:00Z
assert T0 % DAY == 0


def at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


@pytest.fixture
def usage_writer(admin_app: tuple[web.Application, str]):  # type: ignore[no-untyped-def]
    return admin_app[0][USAGE]


async def _write(writer, events: list[UsageEvent]) -> None:  # type: ignore[no-untyped-def]
    for e in events:
        writer.add(e)
    while writer.pending:
        await writer.flush()


def totals(page: dict) -> list[tuple[int, int, int, int]]:  # type: ignore[type-arg]
    return [
        (
            sum(r["input_tokens"] for r in b["results"]),
            sum(r["output_tokens"] for r in b["results"]),
            sum(r["input_cached_tokens"] for r in b["results"]),
            sum(r["num_model_requests"] for r in b["results"]),
        )
        for b in page["data"]
    ]


async def test_buckets_group_and_filter(client: Client, org: Org, usage_writer) -> None:  # type: ignore[no-untyped-def]
    chat, emb = "/v1/chat/completions", "/v1/embeddings"
    events = [
        UsageEvent(at(10), org.id, org.key_id, "smollm2", chat, 100, 20, 5),
        UsageEvent(at(70), org.id, org.key_id, "smollm2", chat, 50, 10, 0),
        UsageEvent(at(3700), org.id, "key_other", "minilm", emb, 30, 0, 0),
        UsageEvent(at(DAY + 5), org.id, org.key_id, "smollm2", chat, 7, 3, 0, requests=2),
    ]
    await _write(usage_writer, events)

    async def usage(**params: object) -> dict:  # type: ignore[type-arg]
        r = await client.get("/v1/usage", key=org.key, params={"start_time": T0, **params})
        assert r.status == 200, r.body
        return r.json()  # type: ignore[no-any-return]

    page = await usage(end_time=T0 + 2 * DAY)
    assert [b["start_time"] for b in page["data"]] == [T0, T0 + DAY]
    assert totals(page) == [(180, 30, 5, 3), (7, 3, 0, 2)]
    assert page["data"][0]["results"][0]["model"] is None  # ungrouped

    page = await usage(end_time=T0 + 2 * 3600, bucket_width="1h")
    assert totals(page) == [(150, 30, 5, 2), (30, 0, 0, 1)]

    page = await usage(end_time=T0 + 120, bucket_width="1m")
    assert totals(page) == [(100, 20, 5, 1), (50, 10, 0, 1)]

    page = await usage(end_time=T0 + DAY, group_by="model")
    by_model = {r["model"]: r["input_tokens"] for r in page["data"][0]["results"]}
    assert by_model == {"smollm2": 150, "minilm": 30}

    page = await usage(end_time=T0 + DAY, group_by=["model", "api_key"])
    rows = {(r["model"], r["api_key_id"]): r["output_tokens"] for r in page["data"][0]["results"]}
    assert rows == {("smollm2", org.key_id): 30, ("minilm", "key_other"): 0}
    assert all(r["endpoint"] is None for r in page["data"][0]["results"])

    page = await usage(end_time=T0 + DAY, group_by="endpoint,model")
    assert {(r["endpoint"], r["model"]) for r in page["data"][0]["results"]} == {
        (chat, "smollm2"),
        (emb, "minilm"),
    }

    page = await usage(end_time=T0 + DAY, models="minilm")
    assert totals(page) == [(30, 0, 0, 1)]
    page = await usage(end_time=T0 + DAY, api_key_ids=org.key_id)
    assert totals(page) == [(150, 30, 5, 2)]

    # start_time inside a bucket: the bucket is still aligned, events before start are excluded.
    r = await client.get(
        "/v1/usage", key=org.key, params={"start_time": T0 + 60, "end_time": T0 + DAY}
    )
    assert r.json()["data"][0]["start_time"] == T0
    assert totals(r.json()) == [(80, 10, 0, 2)]


async def test_generated_events_sum_up_across_pages(
    client: Client, make_org: MakeOrg, usage_writer
) -> None:  # type: ignore[no-untyped-def]
    org = await make_org()
    rng = random.Random(7)
    models = ["smollm2", "minilm", "ft:smollm2:x"]
    events = [
        UsageEvent(
            at(rng.uniform(0, 10 * DAY)),
            org.id,
            org.key_id,
            rng.choice(models),
            "/v1/completions",
            rng.randint(1, 500),
            rng.randint(0, 200),
            rng.randint(0, 50),
        )
        for _ in range(400)
    ]
    await _write(usage_writer, events)
    expected: dict[tuple[int, str], int] = {}
    for e in events:
        b = (int(e.time.timestamp()) - T0) // DAY
        expected[(b, e.model)] = expected.get((b, e.model), 0) + e.prompt_tokens

    got: dict[tuple[int, str], int] = {}
    params: dict[str, object] = {
        "start_time": T0,
        "end_time": T0 + 10 * DAY,
        "group_by": "model",
        "limit": 3,
    }
    pages = 0
    while True:
        page = (await client.get("/v1/usage", key=org.key, params=params)).json()
        pages += 1
        assert len(page["data"]) <= 3
        for bucket in page["data"]:
            for r in bucket["results"]:
                got[((bucket["start_time"] - T0) // DAY, r["model"])] = r["input_tokens"]
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        params["page"] = page["next_page"]
    assert pages == 4  # 10 daily buckets, 3 per page
    assert got == expected


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({}, "start_time", "missing_required_parameter"),
        ({"start_time": "yesterday"}, "start_time", "invalid_type"),
        ({"start_time": T0, "end_time": T0}, "end_time", "invalid_value"),
        ({"start_time": T0, "bucket_width": "1w"}, "bucket_width", "invalid_value"),
        ({"start_time": T0, "group_by": "colour"}, "group_by[0]", "invalid_value"),
        ({"start_time": T0, "bucket_width": "1d", "limit": 32}, "limit", "invalid_value"),
        ({"start_time": T0, "page": "page_12"}, "page", "invalid_cursor"),
        ({"start_time": T0, "page": "garbage"}, "page", "invalid_cursor"),
        ({"start_time": T0, "project_id": "p"}, "project_id", "unknown_parameter"),
    ],
)
async def test_bad_usage_queries(
    client: Client, org: Org, params: dict[str, object], param: str, code: str
) -> None:
    r = await client.get("/v1/usage", key=org.key, params=params)
    r.expect_error(400, code, param)
