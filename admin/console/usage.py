"""`/console`: the org's usage of the last 30 days as charts, one bar per day: tokens in and
out per model and requests (Spark), GPU-hours (Forge) and rack-hours (Vault) when there are
any. Read with the very functions behind `GET /v1/usage`, `/v1/usage/gpus` and
`/v1/usage/racks` and the same parameters, so a chart cannot disagree with the API."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from admin.console.charts import Bars, bar_chart
from admin.console.html import note, table
from admin.console.layout import Page, console_page
from admin.metering import GPUS, RACKS, GpuUsageParams, RackUsageParams, query_metered
from admin.signin.session.store import Session
from admin.usage import WIDTH_S, UsageParams, query_usage
from voltcore.appkeys import POOL

routes = web.RouteTableDef()

DAYS = 30
DAY_S = WIDTH_S["1d"]
HOUR_S = 3600
Result = dict[str, Any]


def window_start(now: float, days: int = DAYS) -> int:
    """The first second of the day `days - 1` days before today (UTC): `days` whole buckets,
    today's included."""
    today = int(now) - int(now) % DAY_S
    return today - (days - 1) * DAY_S


def day_labels(page: dict[str, Any]) -> list[str]:
    return [
        dt.datetime.fromtimestamp(b["start_time"], dt.UTC).strftime("%Y-%m-%d")
        for b in page["data"]
    ]


def stacked(
    page: dict[str, Any], key: str, value: Callable[[Result], float]
) -> tuple[list[str], list[Bars]]:
    """A page of buckets as one series per distinct `key` of its results (model, GPU type):
    the series' value per bucket, zero where the bucket has no result for it."""
    names = sorted({r[key] for b in page["data"] for r in b["results"] if r[key] is not None})
    series = [
        Bars(name, [sum(value(r) for r in b["results"] if r[key] == name) for b in page["data"]])
        for name in names
    ]
    return day_labels(page), series


def _chart(
    id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Bars],
    *,
    y_label: str,
    unit: str,
) -> str:
    return bar_chart(
        labels,
        series,
        id=id,
        title=title,
        y_label=y_label,
        unit=unit,
        short_labels=[label[5:] for label in labels],  # MM-DD
    )


def _hours_section(
    page: dict[str, Any], key: str, what: str, seconds: str, unit: str, product: str
) -> str:
    """Forge's GPU-hours or Vault's rack-hours per day, stacked by `key`; a note when none."""
    slug = unit.lower()
    heading = f"<h2>{product} {unit}</h2>"
    if not any(b["results"] for b in page["data"]):
        return heading + note(f"No {unit} were used in the last {DAYS} days.", id=f"no-{slug}")
    labels, series = stacked(page, key, lambda r: r[seconds] / HOUR_S)
    title = f"{unit[0].upper()}{unit[1:]} per day, by {what}"
    return heading + _chart(f"chart-{slug}", title, labels, series, y_label=unit, unit=unit)


@routes.get("/console")
@console_page("usage")
async def usage(request: web.Request, session: Session) -> Page:
    pool, org = request.app[POOL], session.org_id
    start = window_start(time.time())
    common: dict[str, Any] = {"start_time": start, "bucket_width": "1d", "limit": DAYS}
    tokens = await query_usage(pool, org, UsageParams(**common, group_by=["model"]))
    gpus = await query_metered(pool, org, GPUS, GpuUsageParams(**common, group_by=["gpu_type"]))
    racks = await query_metered(pool, org, RACKS, RackUsageParams(**common, group_by=["rack_type"]))

    labels, inputs = stacked(tokens, "model", lambda r: r["input_tokens"])
    _, outputs = stacked(tokens, "model", lambda r: r["output_tokens"])
    requests = Bars(
        "requests",
        [sum(r["num_model_requests"] for r in b["results"]) for b in tokens["data"]],
    )
    parts = [
        f"<h2>Usage, last {DAYS} days</h2>",
        _chart(
            "chart-input-tokens",
            "Input tokens per day, by model",
            labels,
            inputs,
            y_label="tokens",
            unit="tokens",
        ),
        _chart(
            "chart-output-tokens",
            "Output tokens per day, by model",
            labels,
            outputs,
            y_label="tokens",
            unit="tokens",
        ),
        _chart(
            "chart-requests", "Requests per day", labels, [requests], y_label="requests", unit=""
        ),
    ]
    totals: dict[str, list[int]] = {}
    for b in tokens["data"]:
        for r in b["results"]:
            row = totals.setdefault(r["model"], [0, 0, 0])
            row[0] += r["num_model_requests"]
            row[1] += r["input_tokens"]
            row[2] += r["output_tokens"]
    parts.append(
        table(
            ["Model", "Requests", "Input tokens", "Output tokens"],
            [(model, *row) for model, row in sorted(totals.items())],
            id="usage",
        )
    )
    parts += [
        _hours_section(gpus, "gpu_type", "GPU type", "gpu_seconds", "GPU-hours", "Forge"),
        _hours_section(racks, "rack_type", "rack type", "rack_seconds", "rack-hours", "Vault"),
    ]
    # The window as the API takes it, for anyone comparing: the same query, the same numbers.
    body = (
        f'<section id=usage-window data-start-time="{start}" data-bucket-width="1d" '
        f'data-limit="{DAYS}">{"".join(parts)}</section>'
    )
    return Page("Usage", body + "<p class=note>Days are UTC days.</p>")
