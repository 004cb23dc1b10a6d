"""`Volt` and `AsyncVolt`. Both build the same resource tree and share a `Session` (the
request protocol); each only drives that protocol with its own httpx client and clock."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypedDict, TypeVar, Unpack

import httpx

from volt._call import Call
from volt._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
)
from volt._pagination import AsyncPaginator, SyncPage
from volt._protocol import Auth, Exchange, Session, Sleep
from volt._resource import Async, Executor, M, Sync
from volt._streaming import AsyncStream, Stream
from volt._waiting import S, Wait, wait
from volt.credentials import Credentials, load_credentials, save_credentials
from volt.resources.billing import Costs
from volt.resources.finetuning import Files, FineTuning
from volt.resources.forge import Forge
from volt.resources.inference import Chat, Completions, Embeddings, Models, Tokenizer
from volt.resources.oauth import OAuth
from volt.resources.ops import Ops
from volt.resources.responses import Responses
from volt.resources.tenancy import ApiKeys, AuditLogs, Me, Orgs, Usage
from volt.resources.vault import Vault
from volt.types.common import Page

T = TypeVar("T")
C = TypeVar("C", bound="BaseClient[Any]")


class ClientOptions(TypedDict, total=False):
    """What `Volt(...)` and `AsyncVolt(...)` accept besides their own httpx client."""

    api_key: str | None
    base_url: str | None
    credentials: Credentials | None
    timeout: float | httpx.Timeout | None
    max_retries: int
    default_headers: dict[str, str] | None
    save_refreshed: Callable[[Credentials], Any] | None


class BaseClient(Executor[M], Generic[M]):
    """Configuration, credentials and the resource tree, for either client.

    Credentials, first found: `api_key`, `VOLT_API_KEY`, `credentials`, then the CLI's saved
    sign-in (refreshed when it expires, and saved again; used only against the service that
    issued it). Base URL: `base_url`, `VOLT_BASE_URL`, the saved sign-in's, then
    http://127.0.0.1:8080.

    Usage: `Volt(base_url="http://127.0.0.1:8080", api_key="volt_sk_live_...", max_retries=5)`.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        credentials: Credentials | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: dict[str, str] | None = None,
        save_refreshed: Callable[[Credentials], Any] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("VOLT_BASE_URL") or None
        if api_key is None and credentials is None:
            api_key = os.environ.get("VOLT_API_KEY") or None
            saved = load_credentials() if api_key is None else None
            # Tokens only ever go to the service that issued them.
            if saved is not None and (base_url is None or _same(base_url, saved.base_url)):
                credentials = saved
                if save_refreshed is None:
                    save_refreshed = save_credentials
        # `api_key=""` asks for no credentials at all (the device flow signs in with none).
        api_key = api_key or None
        base_url = base_url or (credentials.base_url if credentials else None) or DEFAULT_BASE_URL
        self._session = Session(
            base_url=base_url.rstrip("/"),
            auth=Auth(api_key=api_key, credentials=credentials, on_refresh=save_refreshed),
            max_retries=max_retries,
            timeout=_timeout(timeout),
            headers=dict(default_headers or {}),
        )
        self._mount()

    def _mount(self) -> None:
        self.chat: Chat[M] = Chat(self)
        self.completions: Completions[M] = Completions(self)
        self.embeddings: Embeddings[M] = Embeddings(self)
        self.models: Models[M] = Models(self)
        self.responses: Responses[M] = Responses(self)
        self.tokenizer: Tokenizer[M] = Tokenizer(self)
        self.files: Files[M] = Files(self)
        self.fine_tuning: FineTuning[M] = FineTuning(self)
        self.forge: Forge[M] = Forge(self)
        self.vault: Vault[M] = Vault(self)
        self.me: Me[M] = Me(self)
        self.orgs: Orgs[M] = Orgs(self)
        self.api_keys: ApiKeys[M] = ApiKeys(self)
        self.audit_logs: AuditLogs[M] = AuditLogs(self)
        self.usage: Usage[M] = Usage(self)
        self.costs: Costs[M] = Costs(self)
        self.oauth: OAuth[M] = OAuth(self)
        self.health: Ops[M] = Ops(self)

    @property
    def base_url(self) -> str:
        return self._session.base_url

    @property
    def credentials(self) -> Credentials | None:
        """The device-flow credentials in use (after any refresh), if any."""
        return self._session.credentials

    def with_options(
        self: C, *, max_retries: int | None = None, timeout: float | httpx.Timeout | None = None
    ) -> C:
        """A client sharing this one's connections and credentials, with other limits. The
        credentials are shared, not copied: a token either client refreshes is the one both use.

        Usage: `client.with_options(max_retries=0).models.list()`.
        """
        other = copy.copy(self)
        other._session = dataclasses.replace(
            self._session,
            max_retries=self._session.max_retries if max_retries is None else max_retries,
            timeout=self._session.timeout if timeout is None else _timeout(timeout),
        )
        other._mount()
        return other


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout or DEFAULT_TIMEOUT_S, connect=DEFAULT_CONNECT_TIMEOUT_S)


class Volt(BaseClient[Sync]):
    """The synchronous client.

    Usage: `with Volt() as client: print(client.models.list().data)`.
    """

    def __init__(
        self, *, http_client: httpx.Client | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(**options)
        self._http = http_client or httpx.Client()

    def _drive(self, exchange: Exchange[T]) -> T:
        outcome: httpx.Response | httpx.TransportError | None = None
        while True:
            try:
                step = exchange.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            outcome = None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            try:
                response = self._http.send(step.request, stream=True)
                if not step.stream or response.is_error:
                    try:
                        response.read()
                    finally:
                        response.close()
                outcome = response
            except httpx.TransportError as exc:
                outcome = exc

    def _request(self, call: Call[T]) -> T:
        return self._drive(self._session.fetch(call))

    def _stream(self, call: Call[T]) -> Stream[T]:
        return Stream(self._drive(self._session.exchange(call, stream=True)), call.cast)

    def _paginate(self, call: Call[Page[T]]) -> SyncPage[T]:
        return SyncPage(self._request, call, self._request(call))

    def _wait(self, spec: Wait[S]) -> S:
        return self._drive(wait(self._session.fetch, spec))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Volt:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncVolt(BaseClient[Async]):
    """The asyncio client: the same methods, awaited.

    Usage: `async with AsyncVolt() as client: print((await client.models.list()).data)`.
    """

    def __init__(
        self, *, http_client: httpx.AsyncClient | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(**options)
        self._http = http_client or httpx.AsyncClient()

    async def _drive(self, exchange: Exchange[T]) -> T:
        outcome: httpx.Response | httpx.TransportError | None = None
        while True:
            try:
                step = exchange.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            outcome = None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            try:
                response = await self._http.send(step.request, stream=True)
                if not step.stream or response.is_error:
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
                outcome = response
            except httpx.TransportError as exc:
                outcome = exc

    async def _request(self, call: Call[T]) -> T:
        return await self._drive(self._session.fetch(call))

    async def _stream(self, call: Call[T]) -> AsyncStream[T]:
        return AsyncStream(await self._drive(self._session.exchange(call, stream=True)), call.cast)

    def _paginate(self, call: Call[Page[T]]) -> AsyncPaginator[T]:
        return AsyncPaginator(self._request, call)

    async def _wait(self, spec: Wait[S]) -> S:
        return await self._drive(wait(self._session.fetch, spec))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVolt:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
