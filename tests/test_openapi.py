"""openapi.yaml is a valid OpenAPI 3.1 document, documents every route the services serve, and
agrees with the request models. (Every response in the suite is validated against it by the
test client.)"""

from __future__ import annotations

from aiohttp import web
from openapi_spec_validator import validate

from admin.routes.api_keys import ApiKeyCreate, ApiKeyRotate, KeyLimits
from admin.routes.limits import LimitsUpdate
from admin.usage import UsageParams
from tests.support.openapi import Spec
from voltcore.pagination import ListParams


def test_spec_is_valid_openapi_3_1(spec: Spec) -> None:
    assert spec.doc["openapi"].startswith("3.1")
    validate(spec.doc)


def test_every_served_route_is_in_the_spec(
    spec: Spec, admin_app: tuple[web.Application, str]
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in admin_app[0].router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert served, "no routes found"
    missing = served - spec.operations()
    assert not missing, f"served but not in openapi.yaml: {sorted(missing)}"


def _schema(spec: Spec, ref_or_schema: dict[str, object]) -> dict[str, object]:
    ref = ref_or_schema.get("$ref")
    if isinstance(ref, str):
        return spec.doc["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return ref_or_schema


def _body_schema(spec: Spec, path: str, method: str) -> dict[str, object]:
    body = spec.doc["paths"][path][method]["requestBody"]
    return _schema(spec, body["content"]["application/json"]["schema"])


def _query_names(spec: Spec, path: str, method: str) -> set[str]:
    names = set()
    for p in spec.doc["paths"][path][method].get("parameters", []):
        if "$ref" in p:
            p = spec.doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if p["in"] == "query":
            names.add(p["name"])
    return names


def test_request_models_match_the_spec(spec: Spec) -> None:
    keys = "/v1/orgs/{org_id}/api-keys"
    create = _body_schema(spec, keys, "post")
    assert set(create["properties"]) == set(ApiKeyCreate.model_fields)  # type: ignore[call-overload]
    assert create.get("additionalProperties") is False
    assert set(create.get("required", [])) == {  # type: ignore[call-overload]
        n for n, f in ApiKeyCreate.model_fields.items() if f.is_required()
    }
    key_limits = _schema(spec, create["properties"]["limits"]["oneOf"][0])  # type: ignore[index]
    assert set(key_limits["properties"]) == set(KeyLimits.model_fields)  # type: ignore[call-overload]
    update = _body_schema(spec, "/v1/orgs/{org_id}/limits", "patch")
    assert set(update["properties"]) == set(LimitsUpdate.model_fields)  # type: ignore[call-overload]
    rotate = _body_schema(spec, keys + "/{key_id}/rotate", "post")
    assert set(rotate["properties"]) == set(ApiKeyRotate.model_fields)  # type: ignore[call-overload]
    assert _query_names(spec, keys, "get") == set(ListParams.model_fields)
    assert _query_names(spec, "/v1/orgs/{org_id}/audit-logs", "get") == set(ListParams.model_fields)
    assert _query_names(spec, "/v1/usage", "get") == set(UsageParams.model_fields)


def test_spark_request_models_match_the_spec(spec: Spec) -> None:
    from inference.protocol import (
        ChatCompletionRequest,
        CompletionRequest,
        EmbeddingRequest,
    )

    schemas = spec.doc["components"]["schemas"]
    for model, name in [
        (ChatCompletionRequest, "CreateChatCompletionRequest"),
        (CompletionRequest, "CreateCompletionRequest"),
        (EmbeddingRequest, "CreateEmbeddingRequest"),
    ]:
        documented = set(schemas[name]["properties"])
        fields = {f.alias or n for n, f in model.model_fields.items()}
        assert fields <= documented, (name, fields - documented)
        # What the spec lists beyond the model is OpenAI's, refused by name as unsupported.
        assert documented - fields <= set(model.UNSUPPORTED), (name, documented - fields)
        assert set(schemas[name]["required"]) == {
            f.alias or n for n, f in model.model_fields.items() if f.is_required()
        }
