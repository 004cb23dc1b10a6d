"""The SDK's own typed models of every request parameter and response in openapi.yaml."""

from volt.types.common import Condition, CursorPage, ErrorObject, LastError, ListObject
from volt.types.finetuning import (
    FileDeleted,
    FileObject,
    FineTuningJob,
    FineTuningJobEvent,
    HyperparametersParam,
    LoraParam,
)
from volt.types.forge import ForgeAvailability, Kubeconfig, Lease, LeaseNode
from volt.types.inference import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessageParam,
    Completion,
    CompletionChunk,
    CompletionUsage,
    CreateEmbeddingResponse,
    Embedding,
    Model,
    VoltBlock,
    VoltTiming,
)
from volt.types.oauth import DeviceAuthorization, TokenResponse
from volt.types.ops import Health
from volt.types.tenancy import (
    ApiKey,
    ApiKeyWithSecret,
    AuditLog,
    Organization,
    Principal,
    UsageBucket,
    UsagePage,
    UsageResult,
)
from volt.types.vault import AttestationReport, NodeAttestation, Rack, RackNode, RedfishCredentials

__all__ = [
    "ApiKey",
    "ApiKeyWithSecret",
    "AttestationReport",
    "AuditLog",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessageParam",
    "Completion",
    "CompletionChunk",
    "CompletionUsage",
    "Condition",
    "CreateEmbeddingResponse",
    "CursorPage",
    "DeviceAuthorization",
    "Embedding",
    "ErrorObject",
    "FileDeleted",
    "FileObject",
    "FineTuningJob",
    "FineTuningJobEvent",
    "ForgeAvailability",
    "Health",
    "HyperparametersParam",
    "Kubeconfig",
    "LastError",
    "Lease",
    "LeaseNode",
    "ListObject",
    "LoraParam",
    "Model",
    "NodeAttestation",
    "Organization",
    "Principal",
    "Rack",
    "RackNode",
    "RedfishCredentials",
    "TokenResponse",
    "UsageBucket",
    "UsagePage",
    "UsageResult",
    "VoltBlock",
    "VoltTiming",
]
