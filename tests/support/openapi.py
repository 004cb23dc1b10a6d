"""Checks real responses against openapi.yaml with JSON Schema 2020-12 (OpenAPI 3.1's dialect)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
_BASE = "urn:volt:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class Spec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.doc: dict[str, Any] = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(_BASE, resource)

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        out = []
        for template in self.doc["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            out.append((re.compile(regex), template))
        # Literal paths win over templated ones (/v1/fine-tuning/jobs vs /v1/{x}/jobs).
        out.sort(key=lambda t: t[1].count("{"))
        return out

    def operations(self) -> set[tuple[str, str]]:
        return {
            (method.upper(), path)
            for path, item in self.doc["paths"].items()
            for method in item
            if method in METHODS
        }

    def template_for(self, path: str) -> str | None:
        for regex, template in self._templates:
            if regex.match(path):
                return template
        return None

    def _deref(self, obj: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        while "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), ref
            pointer = ref[1:]
            obj = self.doc
            for part in ref[2:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
        return obj, pointer

    def validate_event(self, path: str, event: Any) -> None:
        """One event of a `POST path` stream (a chunk, or the error event that ends a stream
        which failed after it began) against the spec."""
        self.validate_response("POST", path, 200, "text/event-stream", _as_stream(event))

    def validate_response(
        self, method: str, path: str, status: int, content_type: str, body: bytes
    ) -> None:
        """Raise AssertionError unless the spec documents this response and the body fits."""
        template = self.template_for(path)
        assert template is not None, f"{path} is not in openapi.yaml"
        operation = self.doc["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not in openapi.yaml"
        responses = operation["responses"]
        key = next(
            (k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None
        )
        assert key is not None, f"{method} {template} does not document status {status}"
        response, pointer = self._deref(
            responses[key], _pointer("paths", template, method.lower(), "responses", key)
        )
        media = content_type.split(";")[0].strip()
        content = response.get("content", {})
        if media not in content:
            assert not body or media not in ("application/json",), (
                f"{method} {template} {status}: {media} not documented ({sorted(content)})"
            )
            return
        if "schema" not in content[media]:
            return
        schema_ptr = pointer + _pointer("content", media, "schema")
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{_BASE}#{schema_ptr}"}, registry=self.registry
        )
        if media == "application/json":
            documents = [orjson.loads(body)]
        elif media == "text/event-stream":
            documents = stream_documents(body)
        else:
            return
        for doc in documents:
            errors = sorted(validator.iter_errors(doc), key=lambda e: e.path)
            assert not errors, (
                f"{method} {template} {status} does not match the spec: "
                + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
            )


def stream_documents(body: bytes) -> list[Any]:
    """The `data:` documents of an event stream, which ends with `[DONE]` or, when it failed
    after it began, with an error event instead."""
    events = [e for e in body.decode().split("\n\n") if e.strip()]
    if events and events[0].startswith("event:"):
        return typed_events(events)
    data = [
        next(line[5:].strip() for line in e.split("\n") if line.startswith("data:")) for e in events
    ]
    assert data, "an empty event stream"
    if data[-1] == "[DONE]":
        return [orjson.loads(d) for d in data[:-1]]
    documents = [orjson.loads(d) for d in data]
    assert "error" in documents[-1], (
        f"a stream that ends with neither [DONE] nor an error: {data[-1]}"
    )
    return documents


RESPONSE_TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def typed_events(events: list[str]) -> list[Any]:
    """A Responses stream: `event: <type>` then `data: {...}` per event, the data's `type` equal
    to the event line, `sequence_number` counting from 0, no `[DONE]`, and a terminal event
    last (after a failure, `error` then `response.failed`)."""
    documents = []
    for i, event in enumerate(events):
        lines = event.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: "), event[:200]
        assert lines[1].startswith("data: ") and lines[1] != "data: [DONE]", event[:200]
        doc = orjson.loads(lines[1].removeprefix("data: "))
        assert doc["type"] == lines[0].removeprefix("event: "), event[:200]
        assert doc["sequence_number"] == i, (i, event[:200])
        documents.append(doc)
    assert documents[-1]["type"] in RESPONSE_TERMINAL, documents[-1]["type"]
    return documents


def _as_stream(event: Any) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\ndata: [DONE]\n\n"
