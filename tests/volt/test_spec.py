"""The SDK's own models agree with openapi.yaml: every documented property of every response
has a field, and every request body's properties are parameters of its method."""

from __future__ import annotations

import inspect
import typing
from typing import Any, get_type_hints

import pytest
from pydantic import BaseModel

from tests.support.openapi import Spec
from volt import types
from volt.resources import finetuning, forge, inference, responses, tenancy, vault
from volt.types import common
from volt.types import finetuning as ft_types
from volt.types import inference as inf_types
from volt.types import responses as resp_types
from volt.types import vault as vault_types

# Schema name in openapi.yaml -> the SDK model of it.
RESPONSES: dict[str, type[BaseModel]] = {
    "Error": common.ErrorObject,
    "VoltOrigin": common.VoltOrigin,
    "LastError": common.LastError,
    "Condition": common.Condition,
    "Volt": types.VoltBlock,
    "ChatCompletion": types.ChatCompletion,
    "ChatCompletionChunk": types.ChatCompletionChunk,
    "ChatCompletionResponseMessage": inf_types.ChatCompletionMessage,
    "ChatCompletionTokenLogprob": inf_types.ChatCompletionTokenLogprob,
    "TopLogprob": inf_types.TopLogprob,
    "ChatChoiceLogprobs": inf_types.ChoiceLogprobs,
    "CompletionUsage": types.CompletionUsage,
    "Completion": types.Completion,
    "CompletionChunk": types.CompletionChunk,
    "CompletionChoice": inf_types.CompletionChoice,
    "CompletionLogprobs": inf_types.CompletionLogprobs,
    "Embedding": types.Embedding,
    "CreateEmbeddingResponse": types.CreateEmbeddingResponse,
    "Model": types.Model,
    "Response": resp_types.Response,
    "ResponseOutputMessage": resp_types.ResponseOutputMessage,
    "ResponseOutputText": resp_types.ResponseOutputText,
    "ResponseFunctionCall": resp_types.ResponseFunctionCall,
    "ResponseUsage": resp_types.ResponseUsage,
    "ResponseTextConfig": resp_types.ResponseTextConfig,
    "ResponseLifecycleEvent": resp_types.ResponseLifecycleEvent,
    "ResponseOutputItemEvent": resp_types.ResponseOutputItemEvent,
    "ResponseContentPartEvent": resp_types.ResponseContentPartEvent,
    "ResponseTextDeltaEvent": resp_types.ResponseTextDeltaEvent,
    "ResponseTextDoneEvent": resp_types.ResponseTextDoneEvent,
    "ResponseFunctionCallArgumentsDeltaEvent": resp_types.ResponseFunctionCallArgumentsDeltaEvent,
    "ResponseFunctionCallArgumentsDoneEvent": resp_types.ResponseFunctionCallArgumentsDoneEvent,
    "ResponseErrorEvent": resp_types.ResponseErrorEvent,
    "TokenizeResponse": inf_types.TokenizeResponse,
    "DetokenizeResponse": inf_types.DetokenizeResponse,
    "File": types.FileObject,
    "DeletedFile": types.FileDeleted,
    "FineTuningJob": types.FineTuningJob,
    "FineTuningJobEvent": types.FineTuningJobEvent,
    "LoraSettings": ft_types.LoraSettings,
    "Hyperparameters": ft_types.Hyperparameters,
    "ForgeAvailability": types.ForgeAvailability,
    "Lease": types.Lease,
    "Kubeconfig": types.Kubeconfig,
    "Rack": types.Rack,
    "RackNode": types.RackNode,
    "RedfishCredentials": types.RedfishCredentials,
    "AttestationCheck": vault_types.AttestationCheck,
    "NodeAttestation": types.NodeAttestation,
    "AttestationReport": types.AttestationReport,
    "Principal": types.Principal,
    "Organization": types.Organization,
    "OrganizationLimits": types.OrganizationLimits,
    "RateLimit": types.RateLimit,
    "ApiKeyLimits": types.ApiKeyLimits,
    "ApiKey": types.ApiKey,
    "ApiKeyWithSecret": types.ApiKeyWithSecret,
    "AuditLog": types.AuditLog,
    "UsageResult": types.UsageResult,
    "UsageBucket": types.UsageBucket,
    "UsagePage": types.UsagePage,
    "DeviceAuthorizationResponse": types.DeviceAuthorization,
    "TokenResponse": types.TokenResponse,
    "CursorList": common.CursorPage,
}

RESPONSES_REFUSED = {
    "conversation",
    "context_management",
    "previous_response_id",
    "prompt",
    "top_logprobs",
}


def _properties(spec: Spec, name: str) -> tuple[set[str], set[str]]:
    schema = spec.doc["components"]["schemas"][name]
    if name == "Error":
        schema = schema["properties"]["error"]
    return set(schema.get("properties", {})), set(schema.get("required", []))


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_models_match_the_spec(spec: Spec, name: str) -> None:
    model = RESPONSES[name]
    props, required = _properties(spec, name)
    assert props == set(model.model_fields), name
    # What the spec promises is present is required in the model too (or has a default
    # that the spec also documents): a server that drops it fails loudly.
    optional_required = {n for n in required if not model.model_fields[n].is_required()}
    assert optional_required <= {"object", "interval", "has_more", "first_id", "last_id"}, (
        name,
        optional_required,
    )


def _params(method: Any) -> set[str]:
    fn = method.fn
    names = set(inspect.signature(fn).parameters) - {"self", "params", "idempotency_key"}
    hints = get_type_hints(fn, include_extras=True)
    if "params" in hints:
        unpacked = typing.get_args(hints["params"])[0]
        names |= set(get_type_hints(unpacked))
    return names


def _request_props(spec: Spec, path: str, method: str) -> set[str]:
    body = spec.doc["paths"][path][method]["requestBody"]
    if "$ref" in body:
        body = spec.doc["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    schema = next(iter(body["content"].values()))["schema"]
    return set(spec.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["properties"])


@pytest.mark.parametrize(
    ("method", "path", "verb", "extra"),
    [
        (
            inference.ChatCompletions.create,
            "/v1/chat/completions",
            "post",
            {"stream", "stream_options"},
        ),
        (inference.ChatCompletions.stream, "/v1/chat/completions", "post", {"stream"}),
        (inference.Completions.create, "/v1/completions", "post", {"stream", "stream_options"}),
        (inference.Completions.stream, "/v1/completions", "post", {"stream"}),
        (inference.Embeddings.create, "/v1/embeddings", "post", set()),
        # The OpenAI fields Volt refuses by name (stored state, stored prompts) are documented
        # but no parameters of the SDK.
        (
            responses.Responses.create,
            "/v1/responses",
            "post",
            {"stream", "stream_options", *RESPONSES_REFUSED},
        ),
        (
            responses.Responses.stream,
            "/v1/responses",
            "post",
            {"stream", "stream_options", *RESPONSES_REFUSED},
        ),
        (inference.Tokenizer.tokenize, "/tokenize", "post", set()),
        (inference.Tokenizer.detokenize, "/detokenize", "post", set()),
        (finetuning.Jobs.create, "/v1/fine-tuning/jobs", "post", set()),
        (forge.Leases.create, "/v1/forge/leases", "post", set()),
        (vault.Racks.create, "/v1/vault/racks", "post", set()),
        (tenancy.ApiKeys.create, "/v1/orgs/{org_id}/api-keys", "post", {"org_id"}),
        (tenancy.Limits.update, "/v1/orgs/{org_id}/limits", "patch", {"org_id"}),
    ],
)
def test_request_parameters_match_the_spec(
    spec: Spec, method: Any, path: str, verb: str, extra: set[str]
) -> None:
    documented = _request_props(spec, path, verb)
    ours = _params(method)
    # `extra`: what the method sets itself (stream) or takes from the path (org_id).
    assert ours - {"org_id"} == documented - extra, ours ^ documented
