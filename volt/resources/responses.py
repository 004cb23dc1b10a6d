"""Spark's Responses API, stateless: `client.responses.create` and `client.responses.stream`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from volt._call import Call, body
from volt._resource import M, Resource, endpoint, streaming
from volt.types.responses import InputItemParam, Response, ResponseParams, ResponseStreamEvent


class Responses(Resource[M]):
    @endpoint
    def create(
        self, *, model: str, input: str | Sequence[InputItemParam], **params: Unpack[ResponseParams]
    ) -> Call[Response]:
        """A model response, `volt` block included; nothing is stored, so send the whole
        conversation (earlier output items included) as `input` on every turn.

        Usage: `client.responses.create(model="smollm2-135m-instruct", input="Hi").output_text`.
        """
        return Call(
            "POST",
            "/v1/responses",
            Response,
            json=body(
                model=model, input=input if isinstance(input, str) else list(input), **params
            ),
        )

    @streaming
    def stream(
        self, *, model: str, input: str | Sequence[InputItemParam], **params: Unpack[ResponseParams]
    ) -> Call[ResponseStreamEvent]:
        """The same response as typed events; the last (`response.completed`, or
        `response.incomplete`) carries the whole response with `usage` and `volt`. A failure
        after the stream began raises `APIError`.

        Usage: `for event in client.responses.stream(model=..., input="Hi"):
        if event.type == "response.output_text.delta": print(event.delta, end="")`.
        """
        return Call(
            "POST",
            "/v1/responses",
            ResponseStreamEvent,
            json=body(
                model=model,
                input=input if isinstance(input, str) else list(input),
                stream=True,
                **params,
            ),
        )
