"""The usage page in Chromium: its charts have one bar per day and model (or GPU type, rack
type), and every bar is the number `/v1/usage`, `/v1/usage/gpus` and `/v1/usage/racks` return
for the same org and window. Token usage goes through the batched writer Spark meters with;
leases and racks are rows with transition times in the past (as tests/admin/
test_usage_metered.py writes them), so no running lease moves a number between the page and
the API call."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.admin.console.conftest import ConsoleService, bars, get, signed_in_page
from tests.admin.test_usage_metered import T0, add_lease, add_rack
from tests.conftest import Org
from tests.support.forge import A100, H100
from voltcore.appkeys import USAGE
from voltcore.usage import UsageEvent

DAY, HOUR = 86_400, 3600
CHAT = "/v1/chat/completions"


def label(bucket: dict[str, Any]) -> str:
    return dt.datetime.fromtimestamp(bucket["start_time"], dt.UTC).strftime("%Y-%m-%d")


def expected(page: dict[str, Any], key: str, field: str, scale: float = 1) -> list[Any]:
    """(label, series, value) per bucket and distinct `key`, as the chart must draw them."""
    names = sorted({r[key] for b in page["data"] for r in b["results"]})
    return [
        (label(b), name, sum(r[field] for r in b["results"] if r[key] == name) / scale)
        for b in page["data"]
        for name in names
    ]


async def window(page: Page) -> dict[str, Any]:
    section = page.locator("#usage-window")
    start = await section.get_attribute("data-start-time")
    limit = await section.get_attribute("data-limit")
    assert start is not None and limit is not None
    return {"start_time": int(start), "bucket_width": "1d", "limit": int(limit)}


async def _seed_tokens(svc: ConsoleService, org: Org, now: float, models: list[str]) -> None:
    writer = svc.app[USAGE]
    for k, model in enumerate(models):
        for days_ago, tokens in ((0, 120), (3, 40 + k), (29, 7)):
            at = dt.datetime.fromtimestamp(now - days_ago * DAY, dt.UTC)
            writer.add(UsageEvent(at, org.id, org.key_id, model, CHAT, tokens, tokens // 4 + k))
        at = dt.datetime.fromtimestamp(now - 3 * DAY, dt.UTC)
        writer.add(UsageEvent(at, org.id, org.key_id, model, CHAT, 5, 1, requests=3))
    while writer.pending:
        await writer.flush()


def _ago(now: float, seconds: float) -> float:
    """`seconds` before now, as the offset from T0 that add_lease and add_rack take."""
    return now - seconds - T0


async def test_charts_show_the_apis_numbers(chromium: Browser, console: ConsoleService) -> None:
    a, b, db = console.a, console.b, console.pool
    now = time.time()
    await _seed_tokens(console, a, now, ["smollm2", "minilm"])
    await _seed_tokens(console, b, now, ["globex-model"])
    # Ended leases and a released rack, spanning day boundaries.
    await add_lease(db, a.id, active=_ago(now, 3 * DAY + 5 * HOUR), ended=_ago(now, 2 * DAY))
    await add_lease(
        db, a.id, active=_ago(now, DAY + HOUR), ended=_ago(now, DAY), gpu_type=A100, gpu_count=1
    )
    await add_rack(db, a.id, ready=_ago(now, 6 * DAY), released=_ago(now, 4 * DAY + HOUR))
    await add_lease(db, b.id, active=_ago(now, 9 * DAY), ended=_ago(now, 8 * DAY), gpu_count=7)

    page = await signed_in_page(chromium, console, a)
    params = await window(page)
    assert params["start_time"] % DAY == 0 and params["limit"] == 30
    tokens = await get(console, a, "/v1/usage", **params, group_by="model")
    assert len(tokens["data"]) == 30 and not tokens["has_more"]

    drawn = await bars(page, "#chart-input-tokens")
    assert drawn == expected(tokens, "model", "input_tokens")
    assert len(drawn) == 30 * 2 and {s for _, s, _ in drawn} == {"minilm", "smollm2"}
    assert sum(v for *_, v in drawn) == 2 * (120 + 7 + 5) + 40 + 41
    assert await bars(page, "#chart-output-tokens") == expected(tokens, "model", "output_tokens")
    requests = [
        (label(bk), "requests", sum(r["num_model_requests"] for r in bk["results"]))
        for bk in tokens["data"]
    ]
    assert await bars(page, "#chart-requests") == requests
    assert requests[-1][2] == 2 and sum(v for *_, v in requests) == 2 * (3 + 3)
    # Hover text and the x axis read as days.
    assert await page.locator("#chart-requests rect.bar title").count() == 30
    first = await page.locator("#chart-input-tokens rect.bar title").first.text_content()
    assert first is not None and first.startswith(label(tokens["data"][0]))
    assert await page.get_attribute("#chart-requests-svg", "role") == "img"
    assert "Requests" in (await page.get_attribute("#chart-requests-svg", "aria-label") or "")

    gpus = await get(console, a, "/v1/usage/gpus", **params, group_by="gpu_type")
    drawn = await bars(page, "#chart-gpu-hours")
    want = expected(gpus, "gpu_type", "gpu_seconds", HOUR)
    assert [(lb, s) for lb, s, _ in drawn] == [(lb, s) for lb, s, _ in want]
    assert [v for *_, v in drawn] == pytest.approx([v for *_, v in want], abs=1e-6)
    assert {s for _, s, _ in drawn} == {A100, H100} and len(drawn) == 60
    assert sum(v for *_, v in drawn) == pytest.approx(2 * 29 + 1)  # GPU-hours of both leases

    racks = await get(console, a, "/v1/usage/racks", **params, group_by="rack_type")
    drawn = await bars(page, "#chart-rack-hours")
    want = expected(racks, "rack_type", "rack_seconds", HOUR)
    assert [v for *_, v in drawn] == pytest.approx([v for *_, v in want], abs=1e-6)
    assert sum(v for *_, v in drawn) == pytest.approx(2 * 24 - 1)

    totals = await page.text_content("#usage") or ""
    assert "smollm2" in totals and "minilm" in totals
    body = await page.text_content("body") or ""
    assert "globex" not in body.lower()
    await page.context.close()

    # Org B's page: its own model only, and no GPU or rack chart (its lease is not A's).
    page = await signed_in_page(chromium, console, b)
    tokens_b = await get(console, b, "/v1/usage", **await window(page), group_by="model")
    assert await bars(page, "#chart-input-tokens") == expected(tokens_b, "model", "input_tokens")
    assert {s for _, s, _ in await bars(page, "#chart-input-tokens")} == {"globex-model"}
    gpus_b = await get(console, b, "/v1/usage/gpus", **await window(page), group_by="gpu_type")
    assert sum(v for *_, v in await bars(page, "#chart-gpu-hours")) == pytest.approx(
        sum(r["gpu_seconds"] for bk in gpus_b["data"] for r in bk["results"]) / HOUR
    )
    assert await page.locator("#no-rack-hours").count() == 1
    body = (await page.text_content("body") or "").lower()
    assert "smollm2" not in body and "minilm" not in body and "acme" not in body
    await page.context.close()


async def test_an_org_without_usage_sees_empty_charts_and_notes(
    chromium: Browser, console: ConsoleService
) -> None:
    page = await signed_in_page(chromium, console, console.a)
    assert await page.locator("#chart-input-tokens rect.bar").count() == 0
    assert [v for *_, v in await bars(page, "#chart-requests")] == [0] * 30
    assert await page.locator("#no-gpu-hours").count() == 1
    assert await page.locator("#no-rack-hours").count() == 1
    # The nav reaches every page, and marks this one.
    assert await page.get_attribute("#nav-usage", "aria-current") == "page"
    for key in ("keys", "leases", "racks", "jobs"):
        assert await page.locator(f"#nav-{key}").count() == 1
    await page.context.close()
