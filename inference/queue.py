"""An engine's fair queue on the event loop: the policy (scheduler/fairqueue.py) decides, this
wakes the waiting handlers, runs the timer for queue timeouts and seat holds, and words the
refusals.

A client that disconnects while queued leaves at once: aiohttp cancels its handler
(`handler_cancellation=True`), the cancellation reaches `acquire`'s await, and the ticket is
taken out of the line (or, if it was given a seat in the same instant, the seat is released).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from scheduler.fairqueue import FairQueue, Outcome, QueueLimits, Ticket
from voltcore.errors import InvalidRequest, RateLimited, ServiceUnavailable, VoltError


class QueueRefused(Exception):
    """`reason` labels the refusal metric; `error` is what the client is told."""

    def __init__(self, reason: str, error: VoltError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(eq=False)
class Seat:
    """A request's place in the engine, from dispatch to release."""

    ticket: Ticket
    queue: EngineQueue
    # Seconds spent in Spark's queue before dispatch.
    waited: float
    _prompt: int = field(default=0, repr=False)
    _output: int = field(default=0, repr=False)

    @property
    def priority(self) -> int:
        return self.ticket.priority

    def charge(self, prompt_tokens: int, completion_tokens: int) -> None:
        """The request's token totals so far; the counter is charged what is new."""
        new_prompt, new_output = prompt_tokens - self._prompt, completion_tokens - self._output
        if new_prompt > 0 or new_output > 0:
            self.queue.policy.charge(self.ticket, max(new_prompt, 0), max(new_output, 0))
            self._prompt, self._output = prompt_tokens, completion_tokens


class EngineQueue:
    """Usage: `seat = await queue.acquire(org, cost, weight, priority)` (raises QueueRefused),
    `seat.charge(prompt, output)` as tokens come, `queue.release(seat)` at the end."""

    def __init__(self, model: str, limits: QueueLimits) -> None:
        self.model = model
        self.policy = FairQueue(limits)
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # A moving average of the queue wait, for retry-after.
        self._recent_wait = 0.0

    @property
    def limits(self) -> QueueLimits:
        return self.policy.limits

    @property
    def depth(self) -> int:
        """Sequences waiting."""
        return self.policy.queued

    async def acquire(self, org: str, cost: int, weight: float = 1.0, priority: int = 0) -> Seat:
        loop = asyncio.get_running_loop()
        ticket = Ticket(org, cost, weight=weight, priority=priority)
        outcome, woken = self.policy.arrive(ticket, loop.time())
        self._wake(woken)
        if outcome is Outcome.DISPATCHED:
            return Seat(ticket, self, 0.0)
        if outcome is not Outcome.QUEUED:
            raise self._refusal(outcome, ticket)
        waiter = loop.create_future()
        self._waiters[ticket] = waiter
        self._arm()
        try:
            await waiter
        except asyncio.CancelledError:
            # The client left (or the server is stopping): out of the line, or, if a seat was
            # given in the same instant, the seat back.
            self._waiters.pop(ticket, None)
            self._wake(self.policy.cancel(ticket, loop.time()))
            self._arm()
            raise
        waited = loop.time() - ticket.arrived
        self._recent_wait += (waited - self._recent_wait) / 16
        return Seat(ticket, self, waited)

    def release(self, seat: Seat) -> None:
        self._wake(self.policy.release(seat.ticket, asyncio.get_running_loop().time()))
        self._arm()

    def _wake(self, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            waiter = self._waiters.pop(ticket, None)
            # A cancelled waiter's handler releases the seat itself when it resumes.
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.policy.next_event()
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        # The loop may run a timer up to its clock resolution early: count it as due.
        loop = asyncio.get_running_loop()
        expired, woken = self.policy.tick(loop.time() + 1e-3)
        for ticket in expired:
            waiter = self._waiters.pop(ticket, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(self._refusal(None, ticket))
        self._wake(woken)
        self._arm()

    def _retry_after(self) -> dict[str, str]:
        seconds = min(max(math.ceil(self._recent_wait), 1), 60)
        return {"retry-after": str(seconds)}

    def _refusal(self, outcome: Outcome | None, ticket: Ticket) -> QueueRefused:
        limits, model = self.limits, self.model
        if outcome is Outcome.TOO_LARGE:
            return QueueRefused(
                "too_large",
                InvalidRequest(
                    f"This request would start {ticket.cost} sequences; '{model}' takes at "
                    f"most {limits.per_org} per request.",
                    param="n",
                    code="invalid_value",
                ),
            )
        if outcome is Outcome.ORG_QUEUE_FULL:
            return QueueRefused(
                "org_queue_full",
                RateLimited(
                    f"Your organization has {self.policy.queued_of(ticket.org)} sequences "
                    f"waiting for '{model}' (at most {limits.max_queued_per_org}) and this "
                    f"request needs {ticket.cost}; retry when some have been served.",
                    headers=self._retry_after(),
                ),
            )
        if outcome is Outcome.ENGINE_QUEUE_FULL:
            return QueueRefused(
                "engine_queue_full",
                ServiceUnavailable(
                    f"'{model}' is at capacity with {self.policy.queued} sequences waiting; "
                    "retry shortly.",
                    code="engine_overloaded",
                    headers=self._retry_after(),
                ),
            )
        return QueueRefused(
            "queue_timeout",
            ServiceUnavailable(
                f"'{model}' is at capacity: this request waited {limits.timeout_s:g} s in its "
                "queue without a seat; retry shortly.",
                code="engine_overloaded",
                headers=self._retry_after(),
            ),
        )
