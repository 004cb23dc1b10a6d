"""One inference request's engine work, shared by every endpoint: catalog lookup, bounded
admission, generation with abort on client disconnect, the volt block, metering and metrics.

Prompts and completions stay in this process: only token counts leave it (usage events),
and no log line or metric label carries text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, cast

from aiohttp import web

from inference import sse
from inference.appkeys import ENGINES, FINE_TUNED, RATE_LIMITER, SPARK_METRICS
from inference.engine import Engine
from inference.lora import PREFIX as LORA_PREFIX
from inference.lora import FineTuned
from inference.protocol import StreamOptions
from inference.queue import QueueRefused, Seat
from inference.ratelimit import RATE_HEADERS, Ticket
from voltcore.appkeys import PRINCIPAL, REQUEST_ID, SETTINGS, USAGE
from voltcore.config import Tier
from voltcore.errors import (
    InternalError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    VoltError,
)
from voltcore.http import error_body, origin
from voltcore.principal import Principal
from voltcore.usage import UsageEvent

log = logging.getLogger(__name__)


def visible_to(engine: Engine, principal: Principal) -> bool:
    return principal.tier in engine.spec.tiers


def _not_found(model: str) -> NotFound:
    return NotFound(
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def find_engine(request: web.Request, model: str, kind: str, endpoint: str) -> Engine:
    """The engine serving `model` for this caller, or the error OpenAI would give."""
    engine = request.app[ENGINES].get(model)
    if engine is None or not visible_to(engine, request[PRINCIPAL]):
        raise _not_found(model)
    return _usable(engine, model, kind, endpoint)


async def find_model(
    request: web.Request, model: str, kind: str, endpoint: str
) -> tuple[Engine, FineTuned | None]:
    """Like `find_engine`, and also the caller's own fine-tuned models: their base model's
    engine and the adapter to apply. Another org's fine-tuned model is not found."""
    if not model.startswith(LORA_PREFIX):
        return find_engine(request, model, kind, endpoint), None
    principal = request[PRINCIPAL]
    tuned = await request.app[FINE_TUNED].get(model, principal.org_id)
    engine = tuned_engine(request, tuned, principal)
    if tuned is None or engine is None:
        raise _not_found(model)
    return _usable(engine, model, kind, endpoint), tuned


def tuned_engine(
    request: web.Request, tuned: FineTuned | None, principal: Principal
) -> Engine | None:
    """The engine serving the org's fine-tuned model, if the org may use it: exactly the base
    model's tier rules (an org whose tier may not use the base model, say after a downgrade,
    may not use its fine-tunes either), and a base engine that serves adapters."""
    engine = request.app[ENGINES].get(tuned.base_model) if tuned else None
    if engine is None or not engine.spec.max_loras or not visible_to(engine, principal):
        return None
    return engine


def cache_salt(principal: Principal) -> str:
    """The prefix-cache partition of a caller: one per org, so that the cache still serves an
    org's repeated prefixes (system prompts, few-shot examples) but never another org's."""
    return f"org:{principal.org_id}"


def _usable(engine: Engine, model: str, kind: str, endpoint: str) -> Engine:
    if engine.spec.kind != kind:
        raise InvalidRequest(
            f"The model '{model}' is a {engine.spec.kind} model and cannot serve {endpoint}.",
            param="model",
            code="model_not_supported",
        )
    if not engine.healthy:
        raise ServiceUnavailable(
            f"The engine serving '{model}' has failed; retry later.",
            code="engine_unavailable",
            headers={"retry-after": "5"},
        )
    return engine


def finish_reason(reason: str | None) -> str | None:
    """vLLM's reason in OpenAI's words: a length cap is `length`, anything else ends as `stop`."""
    return "length" if reason == "length" else ("stop" if reason else None)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


class Run:
    """Usage: `async with Run(request, engine, endpoint) as run: async for i, out in
    run.generate(prompts, params): ...`; leaving the block aborts what is unfinished and
    meters what was produced, whether it ended normally, in error or by a disconnect."""

    def __init__(
        self,
        request: web.Request,
        engine: Engine,
        endpoint: str,
        *,
        tuned: FineTuned | None = None,
        sequences: int = 1,
        reserve: int = 0,
        reserve_param: str = "max_tokens",
    ) -> None:
        self.request = request
        self.engine = engine
        self.endpoint = endpoint
        # A fine-tuned model runs on its base model's engine with its adapter applied; usage is
        # metered under its own name, metrics under the base model's (bounded label values).
        self.tuned = tuned
        self._lora = tuned.request() if tuned else None
        self.principal: Principal = request[PRINCIPAL]
        # What the engine's queue counts: every engine sequence the request starts (prompts x n).
        self.sequences = sequences
        self._seat: Seat | None = None
        # What the rate limits hold from admission to the end: prompt + max_tokens for each
        # sequence (scheduler.limits.reservation); `reserve_param` is what a 400 names when it
        # could never fit the caller's tokens per minute.
        self.reserve = reserve
        self._reserve_param = reserve_param
        self._ticket: Ticket | None = None
        self._salt = cache_salt(self.principal)
        self.id = uuid.uuid4().hex
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self.last_token: float | None = None
        self.queue_s = 0.0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.outcome = "ok"
        self._open: set[str] = set()
        self._metrics = request.app[SPARK_METRICS]
        self._labels = (engine.spec.id, self.principal.tier)

    async def __aenter__(self) -> Run:
        # The org's and key's limits first (shared by every replica), then the engine's queue.
        limiter = self.request.app[RATE_LIMITER]
        self._ticket = await limiter.admit(
            self.principal,
            self.reserve,
            param=self._reserve_param,
            request_id=self.request.get(REQUEST_ID),
        )
        self.request[RATE_HEADERS] = self._ticket.headers
        try:
            self._seat = await self._take_seat()
        except BaseException:
            limiter.settle(self._ticket, 0)  # never queued or run: nothing was used
            raise
        self._metrics.inflight.labels(self.engine.spec.id).inc()
        return self

    async def _take_seat(self) -> Seat:
        """A seat in the engine: at once while one is free, else in turn from its fair queue
        (by tokens served, weighted by tier; scheduler/fairqueue.py). A disconnect while
        waiting cancels this and leaves the queue."""
        model, queue = self.engine.spec.id, self.engine.queue
        tier = self.request.app[SETTINGS].tiers[cast("Tier", self.principal.tier)]
        try:
            seat = await queue.acquire(
                self.principal.org_id, self.sequences, tier.weight, tier.priority
            )
        except QueueRefused as refused:
            self._metrics.rejected.labels(model, refused.reason).inc()
            raise refused.error from None
        self._metrics.queue_wait.labels(*self._labels).observe(seat.waited)
        self.queue_s = seat.waited
        return seat

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.outcome = "cancelled" if issubclass(kind, asyncio.CancelledError) else "error"
        if self._ticket is not None:
            used = self.prompt_tokens + self.completion_tokens
            self.request.app[RATE_LIMITER].settle(self._ticket, used)
        for engine_request in self._open:
            with contextlib.suppress(Exception):
                await self.engine.abort(engine_request)
        if self._seat is not None:
            self._seat.charge(self.prompt_tokens, self.completion_tokens)
            self._seat.queue.release(self._seat)
        self._metrics.inflight.labels(self.engine.spec.id).dec()
        self._meter()

    def _meter(self) -> None:
        m, labels = self._metrics, self._labels
        m.requests.labels(*labels, self.endpoint, self.outcome).inc()
        m.prompt_tokens.labels(*labels).inc(self.prompt_tokens)
        m.completion_tokens.labels(*labels).inc(self.completion_tokens)
        m.queue.labels(*labels).observe(self.queue_s)
        if self.first_token is not None:
            m.ttft.labels(*labels).observe(self.first_token - self.started)
            if self.last_token is not None and self.completion_tokens > 1:
                gap = (self.last_token - self.first_token) / (self.completion_tokens - 1)
                m.inter_token.labels(*labels).observe(gap)
        if self.prompt_tokens or self.completion_tokens:
            self.request.app[USAGE].add(
                UsageEvent(
                    time=dt.datetime.now(dt.UTC),
                    org_id=self.principal.org_id,
                    api_key_id=self.principal.api_key_id,
                    model=self.tuned.id if self.tuned else self.engine.spec.id,
                    endpoint=self.endpoint,
                    prompt_tokens=self.prompt_tokens,
                    completion_tokens=self.completion_tokens,
                    cached_tokens=self.cached_tokens,
                )
            )

    async def generate(
        self, prompts: list[list[int]], params: Any, lora: Any = None
    ) -> AsyncIterator[tuple[int, Any]]:
        """Yield `(prompt index, RequestOutput delta)` across all prompts as they arrive."""
        lora = lora or self._lora
        self.prompt_tokens += sum(len(p) for p in prompts)
        if len(prompts) == 1:
            async for out in self._one(0, prompts[0], params, lora):
                yield out
            return
        queue: asyncio.Queue[tuple[int, Any] | BaseException | None] = asyncio.Queue()

        async def pump(i: int, prompt: list[int]) -> None:
            try:
                async for item in self._one(i, prompt, params, lora):
                    queue.put_nowait(item)
            except BaseException as err:  # handed to the consumer, which re-raises it
                queue.put_nowait(err)
            finally:
                queue.put_nowait(None)

        tasks = [asyncio.create_task(pump(i, p)) for i, p in enumerate(prompts)]
        try:
            remaining = len(tasks)
            while remaining:
                item = await queue.get()
                if item is None:
                    remaining -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()

    async def _one(
        self, index: int, prompt: list[int], params: Any, lora: Any
    ) -> AsyncIterator[tuple[int, Any]]:
        engine_request = f"{self.id}-{index}"
        self._open.add(engine_request)
        try:
            async for out in self.engine.generate(
                prompt,
                params,
                engine_request,
                lora,
                cache_salt=self._salt,
                priority=self._seat.priority if self._seat else 0,
            ):
                self._observe(out)
                yield index, out
        except Exception as err:
            raise engine_failure(self.engine, err) from None
        finally:
            self._open.discard(engine_request)

    def _observe(self, out: Any) -> None:
        if any(o.finish_reason == "error" for o in out.outputs):
            # vLLM's request-level internal error (a KV load failure, a grammar that failed to
            # compile in the engine): never an answer that merely looks short.
            raise InternalError(
                f"The engine serving '{self.engine.spec.id}' failed this request; retry it.",
                code="engine_error",
            )
        new = sum(len(o.token_ids) for o in out.outputs)
        if new:
            now = time.perf_counter()
            if self.first_token is None:
                self.first_token = now
                metrics = out.metrics
                # Spark's fair queue, then the engine's own (queued to scheduled).
                waited = self._seat.waited if self._seat else 0.0
                if metrics is not None and metrics.scheduled_ts and metrics.queued_ts:
                    waited += max(metrics.scheduled_ts - metrics.queued_ts, 0.0)
                self.queue_s = waited
            self.last_token = now
            self.completion_tokens += new
            if self._seat is not None:  # VTC's counter, charged as tokens are produced
                self._seat.charge(self.prompt_tokens, self.completion_tokens)
        if out.finished and out.num_cached_tokens:
            self.cached_tokens += out.num_cached_tokens

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }

    def volt(self) -> dict[str, Any]:
        return volt_block(self.request, self.principal, self)


def chunk_usage(run: Run, options: StreamOptions | None, prompt_tokens: int) -> dict[str, Any]:
    """vLLM's `stream_options.continuous_usage_stats`: with `include_usage`, every chunk's
    `usage` is the request's so far (`prompt_tokens` of all its prompts, the completion tokens
    generated until then), so the final usage chunk is the last of a rising series. Usage:
    `{**chunk, **chunk_usage(run, body.stream_options, len(prompt))}`; `{}` when not asked."""
    if options is None or not (options.include_usage and options.continuous_usage_stats):
        return {}
    # Given, not read from the run: chunks sent before generation begins count the prompt too.
    prompt = max(prompt_tokens, run.prompt_tokens)
    return {
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": run.completion_tokens,
            "total_tokens": prompt + run.completion_tokens,
        }
    }


def engine_failure(engine: Engine, err: Exception) -> VoltError:
    """What a client is told of an exception out of the engine."""
    from vllm.exceptions import VLLMClientError
    from vllm.v1.engine.exceptions import EngineDeadError

    if isinstance(err, VoltError):
        return err
    if isinstance(err, EngineDeadError) or not engine.healthy:
        return ServiceUnavailable(
            f"The engine serving '{engine.spec.id}' has failed; retry later.",
            code="engine_unavailable",
            headers={"retry-after": "5"},
        )
    # vLLM's own validation, e.g. a JSON schema its grammar compiler cannot take.
    if isinstance(err, ValueError | VLLMClientError):
        return InvalidRequest(str(err), code="invalid_value")
    log.error("engine request failed", extra={"model": engine.spec.id, "error": type(err).__name__})
    return InternalError(
        f"The engine serving '{engine.spec.id}' failed this request; retry it.",
        code="engine_error",
    )


@contextlib.asynccontextmanager
async def event_stream(request: web.Request, run: Run) -> AsyncIterator[web.StreamResponse]:
    """Usage: `async with event_stream(request, run) as response: await sse.send(response, ...)`.

    Once the stream has begun its status is sent, so a failure (the engine failing the request
    or dying, a grammar failing to compile) ends it with an OpenAI-style error event and no
    `[DONE]`: the client sees an error, never an answer that merely stops. Whatever can be
    checked before the first byte is checked by the handler first and is a plain 4xx."""
    response = await sse.open_stream(request)
    try:
        yield response
    except ConnectionResetError:
        run.outcome = "cancelled"  # the client left; leaving the Run aborts and meters
    except Exception as err:
        run.outcome = "error"
        failure = engine_failure(run.engine, err)
        with contextlib.suppress(ConnectionResetError):
            await sse.fail(response, error_body(request, failure))


def volt_block(
    request: web.Request, principal: Principal, run: Run | None = None, started: float | None = None
) -> dict[str, Any]:
    """Where and how a response was served; times measured here, in milliseconds."""
    now = time.perf_counter()
    timing: dict[str, Any] = {
        "queue_ms": 0.0,
        "ttft_ms": None,
        "total_ms": _ms(now - (started or now)),
        "decode_tokens_per_s": None,
    }
    if run is not None:
        timing["queue_ms"] = _ms(run.queue_s)
        timing["total_ms"] = _ms(now - run.started)
        if run.first_token is not None:
            timing["ttft_ms"] = _ms(run.first_token - run.started)
            decode = (run.last_token or run.first_token) - run.first_token
            if run.completion_tokens > 1 and decode > 0:
                timing["decode_tokens_per_s"] = round((run.completion_tokens - 1) / decode, 2)
    return {**origin(request), "tier": principal.tier, "timing": timing}
