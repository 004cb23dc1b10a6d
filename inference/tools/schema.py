"""The JSON schemas of tool calls: checking a tool's `parameters`, and the schema that holds
`tool_choice: "required"` to a list of calls of the given tools."""

from __future__ import annotations

import copy
from typing import Any

from voltcore.errors import InvalidRequest

EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


def check_parameters(parameters: dict[str, Any] | None, param: str, name: str) -> None:
    """OpenAI's rule (a function's parameters are a JSON Schema of an object) and the JSON
    Schema meta-schema; a 400 naming `param` before any generation starts."""
    if not parameters:
        return
    if parameters.get("type") != "object":
        raise InvalidRequest(
            f"Invalid schema for function '{name}': parameters must be a JSON Schema of "
            f"'type: \"object\"', got 'type: {parameters.get('type')!r}'.",
            param=param,
            code="invalid_value",
        )
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(parameters).check_schema(parameters)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise InvalidRequest(
            f"Invalid schema for function '{name}' at {where}: {err.message}",
            param=param,
            code="invalid_value",
        ) from None


def call_list_schema(
    tools: list[tuple[str, dict[str, Any] | None]], parallel: bool
) -> dict[str, Any]:
    """`[{"name": <a tool>, "arguments": <its parameters>}, ...]`: at least one call, at most
    one when `parallel` is false. Each tool's own `$defs` move to the root (where its `$ref`s,
    rewritten, point), prefixed by the tool's name so that two tools' definitions never clash."""
    defs: dict[str, Any] = {}
    branches = []
    for name, parameters in tools:
        schema = copy.deepcopy(parameters) if parameters else dict(EMPTY_OBJECT)
        local = {**schema.pop("definitions", {}), **schema.pop("$defs", {})}
        if local:
            renames = {key: f"{name}.{key}" for key in local}
            schema = _rewrite_refs(schema, renames)
            for key, value in local.items():
                defs[renames[key]] = _rewrite_refs(value, renames)
        branches.append(
            {
                "type": "object",
                "properties": {"name": {"type": "string", "enum": [name]}, "arguments": schema},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    out: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"anyOf": branches}}
    if not parallel:
        out["maxItems"] = 1
    if defs:
        out["$defs"] = defs
    return out


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rewrite_refs(value, renames) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str):
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in renames:
                out["$ref"] = f"#/$defs/{renames[ref[len(prefix) :]]}"
    return out
