"""Shapes every part of the API shares: the error object, cursor pages, reconciler records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """One page of any paginated list: its items, and the query parameters that fetch the next
    page (None on the last). Cursor lists (`CursorPage`) and usage (`UsagePage`) are pages."""

    @property
    def data(self) -> Sequence[T_co]: ...

    @property
    def has_more(self) -> bool: ...

    def next_params(self) -> dict[str, str] | None: ...


class VoltModel(BaseModel):
    """Base of every response model. Unknown fields are kept, not rejected, so that an older
    SDK still reads a newer server's responses."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())


class ErrorObject(VoltModel):
    """The OpenAI error object (the value of `error` in an error response)."""

    message: str
    type: str
    param: str | None
    code: str | None


class VoltOrigin(VoltModel):
    """Which replica answered an error (`APIError.volt`): pod, metro and the caller's tier."""

    pod: str
    metro: str
    tier: str | None


class CursorPage(VoltModel, Generic[T]):
    """One page of a cursor-paginated list: pass `last_id` as `after` for the next one."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False

    def next_params(self) -> dict[str, str] | None:
        if not self.has_more or not self.data or self.last_id is None:
            return None
        return {"after": self.last_id}


class ListObject(VoltModel, Generic[T]):
    """A list that is never paginated (models, availability)."""

    object: Literal["list"] = "list"
    data: list[T]


class LastError(VoltModel):
    """The most recent failure a reconciler saw."""

    code: str
    message: str
    time: int | None = None


class Condition(VoltModel):
    """A Kubernetes-style observation recorded by a reconciler."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: int | None = None
