"""Request parsing that turns bad input into 400s naming the offending parameter.

Bodies are parsed strictly (a string is not an integer), query strings leniently (everything
arrives as text). Unknown fields are rejected, as OpenAI does, so a typo never passes silently.
"""

from __future__ import annotations

import asyncio
import re
import types
import typing
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from voltcore.appkeys import SETTINGS
from voltcore.errors import InvalidRequest, RequestTimeout

M = TypeVar("M", bound=BaseModel)


class RequestModel(BaseModel):
    """Base of every request body and query model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


# pydantic puts the union member it tried into `loc` ("str", "list[TextPart]", ...); those are
# types, not parameters, and never reach the client.
_UNION_TAG = re.compile(r"^(str|int|float|bool|none|dict|list|[a-z-]+\[.*\]|[a-z]+-[a-z-]+)$")


def param_path(loc: tuple[int | str, ...]) -> str | None:
    """`("messages", 0, "role")` -> `"messages[0].role"`, the way OpenAI names parameters."""
    out = ""
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.match(part):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or None


def _most_specific(errors: list[ErrorDetails]) -> ErrorDetails:
    """Of a union's alternatives, the error that went deepest, preferring a wrong value over a
    wrong type: for `content: [{"type": "image_url"}]` that is "content[0].type should be
    'text'", not "content should be a string"."""

    def rank(e: ErrorDetails) -> tuple[int, bool]:
        depth = len([p for p in e["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p))])
        return depth, not e["type"].endswith("_type")

    return max(errors, key=rank)


def _error_from_validation(err: ValidationError) -> InvalidRequest:
    errors = err.errors(include_url=False)
    first: ErrorDetails = errors[0] if len(errors) == 1 else _most_specific(errors)
    param = param_path(first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        return InvalidRequest(
            f"Unrecognized request argument supplied: {param}",
            param=param,
            code="unknown_parameter",
        )
    if kind == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    code = (
        "invalid_type" if kind.endswith("_type") or kind.endswith("_parsing") else "invalid_value"
    )
    msg = first["msg"]
    return InvalidRequest(f"Invalid value for '{param}': {msg}.", param=param, code=code)


def validate_model(model: type[M], data: Any, *, strict: bool) -> M:
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as err:
        raise _error_from_validation(err) from None


async def read_json(request: web.Request, model: type[M], *, allow_empty: bool = False) -> M:
    """Parse and validate the JSON body. Usage: `body = await read_json(request, CreateKey)`."""
    # aiohttp enforces the app's client_max_size here; the error middleware maps it to a 413.
    deadline = request.app[SETTINGS].body_timeout_s
    try:
        async with asyncio.timeout(deadline):
            raw = await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {deadline:g} s.",
            headers={"Connection": "close"},  # the rest of the body is not waited for
        ) from None
    if not raw.strip():
        if allow_empty:
            return validate_model(model, {}, strict=True)
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise InvalidRequest(
            f"The request body is not valid JSON: {err.msg} "
            f"(line {err.lineno}, column {err.colno}).",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return validate_model(model, data, strict=True)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(request: web.Request, model: type[M]) -> M:
    """Validate the query string. List fields take repeated keys and comma-separated values
    (`group_by=model&group_by=endpoint` or `group_by=model,endpoint`)."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        field = model.model_fields.get(key)
        if field is not None and _is_list(field.annotation):
            data[key] = [v for value in values for v in value.split(",") if v]
        elif len(values) > 1:
            raise InvalidRequest(
                f"Parameter '{key}' was given more than once.", param=key, code="invalid_value"
            )
        else:
            data[key] = values[0]
    return validate_model(model, data, strict=False)
