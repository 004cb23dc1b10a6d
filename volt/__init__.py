"""The Volt Python SDK: `Volt` and `AsyncVolt` over every endpoint in openapi.yaml, and the
`volt` command-line client (`volt.cli`).

Usage:

    from volt import Volt

    client = Volt()  # VOLT_BASE_URL, VOLT_API_KEY or `volt login`'s saved sign-in
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Hi"}]
    )
    print(reply.choices[0].message.content, reply.volt.timing.ttft_ms)
"""

from volt._client import AsyncVolt, BaseClient, Volt
from volt._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OAuthError,
    PermissionDeniedError,
    RateLimitError,
    UnexpectedStatusError,
    UnprocessableEntityError,
    VoltError,
    WaitError,
    WaitTimeoutError,
)
from volt._pagination import AsyncPage, AsyncPaginator, SyncPage
from volt._streaming import AsyncStream, Stream
from volt._version import __version__
from volt.credentials import Credentials

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPage",
    "AsyncPaginator",
    "AsyncStream",
    "AsyncVolt",
    "AuthenticationError",
    "BadRequestError",
    "BaseClient",
    "ConflictError",
    "Credentials",
    "InternalServerError",
    "NotFoundError",
    "OAuthError",
    "PermissionDeniedError",
    "RateLimitError",
    "Stream",
    "SyncPage",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "Volt",
    "VoltError",
    "WaitError",
    "WaitTimeoutError",
    "__version__",
]
