"""`POST /v1/embeddings`: float or base64 (little-endian float32) vectors."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from aiohttp import web

from inference.appkeys import SPARK_SETTINGS
from inference.params import completion_prompts, prompt_count
from inference.protocol import EmbeddingRequest
from inference.serving import Run, find_engine
from voltcore.errors import InvalidRequest
from voltcore.http import json_response
from voltcore.validation import read_json

routes = web.RouteTableDef()
ENDPOINT = "/v1/embeddings"


@routes.post(ENDPOINT)
async def create_embeddings(request: web.Request) -> web.Response:
    body = await read_json(request, EmbeddingRequest)
    engine = find_engine(request, body.model, "embedding", "embeddings")
    settings = request.app[SPARK_SETTINGS]
    # Counted before tokenizing, so that an oversized list costs nothing to refuse.
    count, limit = prompt_count(body.input), settings.max_embedding_inputs
    if count > limit:
        raise InvalidRequest(
            f"At most {limit} inputs per request; got {count}.", param="input", code="invalid_value"
        )
    inputs = await completion_prompts(engine, body.input, settings, param="input")
    for i, ids in enumerate(inputs):
        if len(ids) > engine.max_model_len:
            raise InvalidRequest(
                f"Input {i} has {len(ids)} tokens; this model takes at most "
                f"{engine.max_model_len}.",
                param="input",
                code="context_length_exceeded",
            )
    reserve = sum(len(ids) for ids in inputs)
    async with Run(request, engine, ENDPOINT, reserve=reserve, reserve_param="input") as run:
        run.prompt_tokens = sum(len(ids) for ids in inputs)
        outputs = await asyncio.gather(
            *(engine.embed(ids, f"{run.id}-{i}") for i, ids in enumerate(inputs))
        )
        vectors = [out.outputs.data.float().numpy() for out in outputs]
        if body.dimensions is not None and body.dimensions != vectors[0].shape[-1]:
            raise InvalidRequest(
                f"'{body.model}' returns {vectors[0].shape[-1]} dimensions and cannot return "
                f"{body.dimensions}.",
                param="dimensions",
                code="invalid_value",
            )
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
                if body.encoding_format == "base64"
                else v.astype(np.float32).tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": body.model,
                "usage": {"prompt_tokens": run.prompt_tokens, "total_tokens": run.prompt_tokens},
                "volt": run.volt(),
            }
        )
