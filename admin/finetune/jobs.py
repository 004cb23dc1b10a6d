"""The fine-tuning jobs API, at Volt's `/v1/fine-tuning/jobs` and OpenAI's `/v1/fine_tuning/jobs`.

Creating a job records intent and answers 202 in `validating_files`; `volt-finetune` workers
validate, train and register the model. Cancel is a transition the worker notices within a
heartbeat.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from admin.finetune.appkeys import BASE_MODELS, FINETUNE_SETTINGS
from admin.finetune.views import event_object, job_object
from finetune import store
from finetune.plan import DEFAULT_LORA
from finetune.states import MACHINE, JobEvent
from finetune.store import Job
from voltcore import versioned
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.db import Conn
from voltcore.errors import Conflict, InvalidRequest, NotFound
from voltcore.http import json_response
from voltcore.idempotency import idempotent
from voltcore.pagination import ListParams, list_object, list_response
from voltcore.principal import Principal
from voltcore.validation import RequestModel, parse_query, read_json

routes = web.RouteTableDef()
PATHS = ("/v1/fine-tuning/jobs", "/v1/fine_tuning/jobs")
LoraModule = Literal["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Hyperparameters(RequestModel):
    batch_size: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = "auto"
    learning_rate_multiplier: Literal["auto"] | Annotated[float, Field(gt=0, le=100)] = "auto"
    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=50)] = "auto"


class SupervisedMethod(RequestModel):
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)


class Method(RequestModel):
    """OpenAI's `method`. Only `supervised` is trained; `dpo` and `reinforcement` are accepted
    here so that the 400 says the method is unsupported, not that a field is unknown."""

    type: str = Field(min_length=1, max_length=32)
    supervised: SupervisedMethod | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: dict[str, Any] | None = None


class LoraSettings(RequestModel):
    """Volt extension: the adapter's shape (peft `LoraConfig`)."""

    rank: int = Field(DEFAULT_LORA["rank"], ge=1, le=256)
    alpha: float = Field(DEFAULT_LORA["alpha"], gt=0)
    dropout: float = Field(DEFAULT_LORA["dropout"], ge=0, le=1)
    target_modules: list[LoraModule] = Field(
        default_factory=lambda: list(DEFAULT_LORA["target_modules"]), min_length=1
    )


class CreateFineTuningJob(RequestModel):
    model: str = Field(min_length=1, max_length=256)
    training_file: str = Field(min_length=1, max_length=64)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    # A `:` would break the `ft:<base>:<org>:<suffix>:<job>` name apart.
    suffix: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    validation_file: str | None = Field(None, min_length=1, max_length=64)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    method: Method | None = None
    # Volt extension
    lora: LoraSettings = Field(default_factory=LoraSettings)


def _base_model(request: web.Request, body: CreateFineTuningJob, principal: Principal) -> None:
    spec = request.app[BASE_MODELS].get(body.model)
    if spec is None or principal.tier not in spec.tiers or spec.kind != "chat":
        raise InvalidRequest(
            f"The model '{body.model}' does not exist or cannot be fine-tuned; see /v1/models "
            "for the base models your organization can use.",
            param="model",
            code="model_not_found",
        )
    if spec.max_loras == 0:
        raise InvalidRequest(
            f"The model '{body.model}' is served without LoRA adapters, so it cannot be "
            "fine-tuned.",
            param="model",
            code="model_not_fine_tunable",
        )
    if body.lora.rank > spec.max_lora_rank:
        raise InvalidRequest(
            f"'lora.rank' may be at most {spec.max_lora_rank} for '{body.model}'.",
            param="lora.rank",
            code="invalid_value",
        )


def _hyperparameters(body: CreateFineTuningJob) -> Hyperparameters:
    """The hyperparameters in effect, from the top level or OpenAI's newer `method` form."""
    method = body.method
    if method is None:
        return body.hyperparameters
    if method.type != "supervised":
        raise InvalidRequest(
            f"Invalid value for 'method.type': '{method.type}' is not supported. Volt trains "
            "LoRA adapters by supervised fine-tuning only; use method.type 'supervised'.",
            param="method.type",
            code="unsupported_value",
        )
    for other in ("dpo", "reinforcement"):
        if getattr(method, other) is not None:
            raise InvalidRequest(
                f"'method.{other}' cannot be given with method.type 'supervised'; put the "
                "settings in 'method.supervised'.",
                param=f"method.{other}",
                code="invalid_value",
            )
    supervised = method.supervised
    if supervised is None or "hyperparameters" not in supervised.model_fields_set:
        return body.hyperparameters
    if "hyperparameters" in body.model_fields_set:
        raise InvalidRequest(
            "Give hyperparameters either in 'hyperparameters' or in "
            "'method.supervised.hyperparameters', not both ('hyperparameters' is the older "
            "form of the same settings).",
            param="hyperparameters",
            code="conflicting_parameters",
        )
    return supervised.hyperparameters


async def _file(conn: Conn, org_id: str, file_id: str, param: str) -> None:
    try:
        # Held until the job is inserted: the file cannot be deleted in between.
        await store.get_file(conn, org_id, file_id, lock="FOR SHARE")
    except NotFound:
        raise InvalidRequest(
            f"Invalid '{param}': no file '{file_id}' with purpose 'fine-tune' in your "
            "organization.",
            param=param,
            code="invalid_file",
        ) from None


async def _job_room(conn: Conn, org_id: str, limit: int) -> None:
    """409 naming the limit when the org already has `limit` jobs that have not finished: one
    org cannot fill the workers' queue (the claim is fair, but the queue is still shared)."""
    if await store.unfinished_jobs(conn, org_id) >= limit:
        raise Conflict(
            f"Your organization has {limit} fine-tuning jobs that have not finished, the limit "
            "(max_org_unfinished_jobs); wait for one to end or cancel one.",
            param=None,
            code="unfinished_job_limit_exceeded",
        )


async def create_job(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    body = await read_json(request, CreateFineTuningJob)
    hyperparameters = _hyperparameters(body)
    _base_model(request, body, principal)
    pool = request.app[POOL]
    org = principal.org_id
    limit = request.app[FINETUNE_SETTINGS].max_org_unfinished_jobs

    async def create() -> tuple[int, dict[str, Any]]:
        async with pool.acquire() as conn, conn.transaction():
            # Serialised per org, so concurrent creates cannot each see room for one more.
            await store.lock_org(conn, "jobs", org)
            await _job_room(conn, org, limit)
            await _file(conn, org, body.training_file, "training_file")
            if body.validation_file is not None:
                await _file(conn, org, body.validation_file, "validation_file")
            job = await store.insert_job(
                conn,
                org,
                store.new_job_id(),
                model=body.model,
                training_file=body.training_file,
                validation_file=body.validation_file,
                hyperparameters=hyperparameters.model_dump(),
                lora=body.lora.model_dump(),
                suffix=body.suffix,
                # Always a seed, as OpenAI reports one: a rerun can reproduce the job.
                seed=body.seed if body.seed is not None else secrets.randbelow(2**31),
            )
            await store.add_event(conn, job, f"Validating training file: {body.training_file}")
        return 202, job_object(job)

    return await idempotent(request, pool, org, body.model_dump(), create)


async def list_jobs(request: web.Request) -> web.Response:
    params = parse_query(request, ListParams)
    return await list_response(
        request,
        "ft_jobs",
        params,
        row=Job.from_record,
        render=lambda rows: [job_object(r) for r in rows],
    )


async def _job(request: web.Request) -> Job:
    return await store.JOBS.get(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["job_id"]
    )


async def get_job(request: web.Request) -> web.Response:
    return json_response(job_object(await _job(request)))


async def cancel_job(request: web.Request) -> web.Response:
    pool = request.app[POOL]

    async def cancel(job: Job) -> Job:
        if job.status in MACHINE.final:
            raise Conflict(
                f"Job '{job.id}' has already {job.status.value}; only validating, queued or "
                "running jobs can be cancelled.",
                param="job_id",
                code="job_not_cancellable",
            )
        async with pool.acquire() as conn, conn.transaction():
            job = await store.JOBS.apply(conn, job, JobEvent.CANCEL)
            await store.add_event(conn, job, "Job cancelled by request.")
        return job

    # A worker may move the job between our read and our write: `change` looks again.
    job = await versioned.change(lambda: _job(request), cancel, code="job_changed", param="job_id")
    return json_response(job_object(job))


async def list_events(request: web.Request) -> web.Response:
    job = await _job(request)
    params = parse_query(request, ListParams)
    rows, more = await store.events_page(
        request.app[POOL], job.id, limit=params.limit, after=params.after
    )
    return json_response(list_object([event_object(r) for r in rows], has_more=more))


for _path in PATHS:
    routes.post(_path)(create_job)
    routes.get(_path)(list_jobs)
    routes.get(_path + "/{job_id}")(get_job)
    routes.post(_path + "/{job_id}/cancel")(cancel_job)
    routes.get(_path + "/{job_id}/events")(list_events)
