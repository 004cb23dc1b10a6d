"""`GET /v1/models` and `GET /v1/models/{model_id}`: only what the caller's catalog allows."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from inference.appkeys import ENGINES
from inference.engine import Engine
from inference.serving import visible_to, volt_block
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


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    started = time.perf_counter()
    principal = request[PRINCIPAL]
    data = [model_object(e) for e in request.app[ENGINES].values() if visible_to(e, principal)]
    return json_response(
        {"object": "list", "data": data, "volt": volt_block(request, principal, started=started)}
    )


@routes.get("/v1/models/{model_id:.+}")
async def get_model(request: web.Request) -> web.Response:
    started = time.perf_counter()
    principal = request[PRINCIPAL]
    model_id = request.match_info["model_id"]
    engine = request.app[ENGINES].get(model_id)
    if engine is None or not visible_to(engine, principal):
        raise NotFound(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return json_response(
        {**model_object(engine), "volt": volt_block(request, principal, started=started)}
    )
