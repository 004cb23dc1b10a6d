"""Requests as data: a `Call` describes one API request and how to read its answer, and the
helpers below build its path and body. Everything that sends, pages, streams or waits takes a
`Call`; the resource methods that describe them are in `volt._resource`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

T_co = TypeVar("T_co", covariant=True)

# Where the caller's own org id goes in a path; filled from `GET /v1/me` when not given.
ORG = "{org_id}"


@dataclasses.dataclass(frozen=True)
class Call(Generic[T_co]):
    """One API request and how to read its answer: `cast` is a pydantic model (JSON) or `str`
    (text); for streams, the type of each event."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str
    cast: type[T_co]
    params: Mapping[str, Any] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    data: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    # OAuth endpoints authenticate by their body, never with the caller's token.
    authenticated: bool = True

    def with_params(self, **params: Any) -> Call[T_co]:
        return dataclasses.replace(self, params={**(self.params or {}), **params})


def path_id(value: str, *, slashes: bool = False) -> str:
    """`value` quoted for one path segment (model ids may keep `/` and `:`)."""
    return quote(value, safe=":/" if slashes else "")


def org_path(org_id: str | None, rest: str = "") -> str:
    return f"/v1/orgs/{path_id(org_id) if org_id else ORG}{rest}"


def body(**fields: Any) -> dict[str, Any]:
    """The fields that were given: None means "leave it to the server's default"."""
    return {k: v for k, v in fields.items() if v is not None}
