"""The fine-tuning request models and openapi.yaml describe the same fields."""

from __future__ import annotations

from typing import Any

from admin.finetune.jobs import (
    CreateFineTuningJob,
    Hyperparameters,
    LoraSettings,
    Method,
    SupervisedMethod,
)
from finetune.plan import LORA_MODULES
from tests.support.openapi import Spec


def _fields(model: Any) -> set[str]:
    return set(model.model_fields)


def test_job_request_matches_the_spec(spec: Spec) -> None:
    schemas = spec.doc["components"]["schemas"]
    create = schemas["CreateFineTuningJobRequest"]
    assert set(create["properties"]) == _fields(CreateFineTuningJob)
    assert set(create["required"]) == {
        n for n, f in CreateFineTuningJob.model_fields.items() if f.is_required()
    }
    assert create["additionalProperties"] is False
    assert set(schemas["Hyperparameters"]["properties"]) == _fields(Hyperparameters)
    method = schemas["FineTuningMethod"]
    assert set(method["properties"]) == _fields(Method)
    assert set(method["required"]) == {n for n, f in Method.model_fields.items() if f.is_required()}
    assert method["properties"]["type"]["enum"] == ["supervised"]
    assert set(method["properties"]["supervised"]["properties"]) == _fields(SupervisedMethod)
    # The job reports `method` with the same hyperparameters it reports at the top level.
    job = schemas["FineTuningJob"]["properties"]
    reported = job["method"]["properties"]["supervised"]["properties"]["hyperparameters"]
    assert reported["properties"] == job["hyperparameters"]["properties"]
    lora = schemas["LoraSettings"]["properties"]
    assert set(lora) == _fields(LoraSettings)
    assert tuple(lora["target_modules"]["items"]["enum"]) == LORA_MODULES


def test_list_parameters_match_the_spec(spec: Spec) -> None:
    from admin.finetune.files import FileListParams

    params = spec.doc["paths"]["/v1/files"]["get"]["parameters"]
    names = {
        p["name"]
        if "name" in p
        else spec.doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]
        for p in params
    }
    assert names == _fields(FileListParams)
