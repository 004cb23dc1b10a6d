"""`GET /v1/models` and `GET /v1/models/{model_id}`: only what the caller's catalog allows."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from inference.appkeys import ENGINES, FINE_TUNED
from inference.engine import Engine
from inference.lora import FineTuned
from inference.serving import tuned_engine, visible_to, volt_block
from voltcore.appkeys import PRINCIPAL
from voltcore.errors import NotFound
from voltcore.http import json_response

routes = web.RouteTableDef()


def model_object(engine: Engine) -> dict[str, Any]:
    return {
        "id": engine.spec.id,
        "object": "model",
        "created": engine.created,
        "owned_by": "volt",
        "kind": engine.spec.kind,
        "max_model_len": engine.max_model_len,
    }


def tuned_object(tuned: FineTuned, base: Engine) -> dict[str, Any]:
    return {
        **model_object(base),
        "id": tuned.id,
        "created": tuned.created,
        "owned_by": tuned.org_id,
        "parent": tuned.base_model,
    }


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    started = time.perf_counter()
    principal = request[PRINCIPAL]
    engines = request.app[ENGINES]
    data = [model_object(e) for e in engines.values() if visible_to(e, principal)]
    # The org's own fine-tuned models, where this deployment serves their base model to it.
    for tuned in await request.app[FINE_TUNED].for_org(principal.org_id):
        base = tuned_engine(request, tuned, principal)
        if base is not None:
            data.append(tuned_object(tuned, base))
    return json_response(
        {"object": "list", "data": data, "volt": volt_block(request, principal, started=started)}
    )


@routes.get("/v1/models/{model_id:.+}")
async def get_model(request: web.Request) -> web.Response:
    started = time.perf_counter()
    principal = request[PRINCIPAL]
    model_id = request.match_info["model_id"]
    tuned = await request.app[FINE_TUNED].get(model_id, principal.org_id)
    base = tuned_engine(request, tuned, principal)
    engine = request.app[ENGINES].get(model_id)
    if tuned is not None and base is not None:
        body = tuned_object(tuned, base)
    elif tuned is None and engine is not None and visible_to(engine, principal):
        body = model_object(engine)
    else:
        raise NotFound(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return json_response({**body, "volt": volt_block(request, principal, started=started)})
