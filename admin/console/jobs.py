"""`/console/jobs`: the org's fine-tuning jobs as the API shows them, with their progress, and
one job's loss curve: a point per step from the `metrics` events the worker records (the
events `GET /v1/fine_tuning/jobs/{id}/events` lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from admin.console import queries
from admin.console.charts import Line, line_chart
from admin.console.html import Raw, esc, message, note, table, when
from admin.console.layout import Page, console_page
from admin.finetune.views import job_object
from admin.signin.session.store import Session
from finetune import store
from finetune.store import Event
from voltcore.appkeys import POOL

routes = web.RouteTableDef()

# Points a curve draws at most: a long job's steps are thinned evenly, its last kept.
MAX_POINTS = 500
# Named as the metrics events' fields, so a point reads back as what the API returns.
SERIES = ("train_loss", "valid_loss")


def thin(events: Sequence[Event], limit: int = MAX_POINTS) -> list[Event]:
    if len(events) <= limit:
        return list(events)
    step = len(events) / (limit - 1)
    return [events[int(i * step)] for i in range(limit - 1)] + [events[-1]]


def progress(metrics: dict[str, Any] | None, status: str) -> Raw | str:
    """`<progress>` at the last recorded step; a job that succeeded is done."""
    if status == "succeeded":
        return Raw("<progress value=1 max=1>100%</progress> done")
    if not metrics or not metrics.get("total_steps"):
        return ""
    step, total = int(metrics["step"]), int(metrics["total_steps"])
    return Raw(
        f'<progress value="{step}" max="{total}">{step * 100 // total}%</progress> '
        f"step {step}/{total}"
    )


def _link(job_id: str) -> Raw:
    return Raw(f'<a href="/console/jobs/{esc(job_id)}">{esc(job_id)}</a>')


@routes.get("/console/jobs")
@console_page("jobs")
async def jobs(request: web.Request, session: Session) -> Page:
    pool = request.app[POOL]
    rows = await queries.jobs(pool, session.org_id)
    last = await queries.last_metrics(pool, session.org_id, [j.id for j in rows])
    shown = [job_object(j) for j in rows]
    body = "<h2>Fine-tuning jobs</h2>" + table(
        ["Job", "Model", "Status", "Progress", "Fine-tuned model", "Created", "Finished"],
        [
            (
                _link(j["id"]),
                j["model"],
                j["status"],
                progress(last.get(j["id"]), j["status"]),
                j["fine_tuned_model"] or "",
                when(j["created_at"]),
                when(j["finished_at"]),
            )
            for j in shown
        ],
        id="jobs",
    )
    return Page("Fine-tuning jobs", body)


@routes.get("/console/jobs/{job_id}")
@console_page("jobs")
async def job(request: web.Request, session: Session) -> Page:
    pool = request.app[POOL]
    row = await store.JOBS.get(pool, session.org_id, request.match_info["job_id"])
    shown = job_object(row)
    metrics = await queries.job_metrics(pool, session.org_id, row.id)
    facts = table(
        ["Model", "Status", "Progress", "Trained tokens", "Fine-tuned model", "Created"],
        [
            (
                shown["model"],
                shown["status"],
                progress(metrics[-1].data if metrics else None, shown["status"]),
                shown["trained_tokens"] if shown["trained_tokens"] is not None else "",
                shown["fine_tuned_model"] or "",
                when(shown["created_at"]),
            )
        ],
        id="job",
    )
    body = f"<h2 id=job-id>{esc(shown['id'])}</h2>{facts}"
    if shown["error"]:
        body += message(shown["error"]["message"], error=True, id="job-error")
    points = thin(metrics)
    series = [
        Line(key, [(e.data["step"], e.data[key]) for e in points if e.data and key in e.data])
        for key in SERIES
    ]
    series = [s for s in series if s.points]
    body += "<h3>Loss</h3>"
    if series:
        body += line_chart(
            series, id="chart-loss", title="Loss per step", x_label="step", y_label="loss"
        )
    else:
        body += note("No steps recorded yet.", id="no-metrics")
    return Page(shown["id"], body)
