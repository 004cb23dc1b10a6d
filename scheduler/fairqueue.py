"""An engine's seats and its waiting line: who runs next when the engine is full.

Capacity is counted in engine sequences (a request costs prompts x `n`), and for a generating
engine it is the engine's own batch (`max_num_seqs`), so vLLM's first-come-first-served waiting
queue stays empty and the order decided here is the order that runs. While seats are free a
request is dispatched at once; past them it waits, bounded per engine and per org, until a seat
frees or its queue timeout passes.

Dispatch is the Virtual Token Counter of Sheng et al., "Fairness in Serving Large Language
Models" (OSDI 2024): each org's counter is charged `w_p x prompt + w_q x output` tokens divided by
its tier's weight, with real counts as tokens are produced (no guessed output length to correct
later), and the backlogged org with the smallest counter is served next. An org that becomes
backlogged is lifted to the smallest counter among the backlogged (or the last one served when
none is), so idle time is not banked as credit. Equal counters go to the lower tier `priority`,
so an enterprise request arriving behind a line of free-tier ones is served first.

Dispatch cannot preempt, so two things keep a newcomer from waiting behind work that has already
started. No org holds more than `capacity - reserved` seats, which leaves a few seats for others
(a lone org still gets nearly all of them). And, optionally, a seat freed by an org below its
fair share of seats, with nothing of its own waiting, is held for it for `hold_s` (anticipatory
scheduling, Iyer and Druschel, SOSP 2001): a client's next request arrives milliseconds after
its last one ended, by which time a non-anticipating dispatcher would have given the seat to the
flood. Spark leaves it off: beside the reserve it bought no TTFT (benchmarks/RESULTS.md).

Pure bookkeeping: no I/O, no clock (times are passed in). Every change returns the tickets it
dispatched, which the caller wakes.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

Policy = Literal["fair", "fcfs"]


class Outcome(Enum):
    DISPATCHED = "dispatched"
    QUEUED = "queued"
    ORG_QUEUE_FULL = "org_queue_full"
    ENGINE_QUEUE_FULL = "engine_queue_full"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class QueueLimits:
    """`capacity`, `reserved` and the queue bounds count sequences. `fcfs` is the baseline the
    benchmark compares with: one line in arrival order, no reserve, no holding."""

    capacity: int
    max_queued: int
    max_queued_per_org: int
    timeout_s: float
    reserved: int = 0
    hold_s: float = 0.0
    prompt_weight: float = 1.0
    output_weight: float = 2.0
    policy: Policy = "fair"

    def __post_init__(self) -> None:
        if self.capacity < 1 or not 0 <= self.reserved < self.capacity:
            raise ValueError("capacity must be positive and reserved below it")
        if self.max_queued < 0 or self.max_queued_per_org < 0 or self.timeout_s <= 0:
            raise ValueError("queue bounds must be non-negative and the timeout positive")
        if self.hold_s < 0 or self.prompt_weight < 0 or self.output_weight < 0:
            raise ValueError("hold and token weights must be non-negative")

    @property
    def per_org(self) -> int:
        """The most seats one org may hold in flight, hence the largest admissible request."""
        return self.capacity if self.policy == "fcfs" else self.capacity - self.reserved


@dataclass(eq=False)
class Ticket:
    """One request. `weight` and `priority` are its org's tier's (an org has one tier)."""

    org: str
    cost: int = 1
    weight: float = 1.0
    priority: int = 0
    arrived: float = 0.0
    seq: int = field(default=-1, init=False)
    deadline: float = field(default=math.inf, init=False)
    state: Literal["new", "waiting", "running", "done"] = field(default="new", init=False)


@dataclass
class _Hold:
    seats: int
    until: float


class FairQueue:
    """Usage: `outcome, woken = q.arrive(t, now)`; when `t` runs, `q.charge(t, prompt, output)`
    as tokens come and `woken = q.release(t, now)` at the end; `q.cancel(t, now)` for a client
    that left; `expired, woken = q.tick(now)` at `q.next_event()`."""

    def __init__(self, limits: QueueLimits) -> None:
        self.limits = limits
        self._seq = itertools.count()
        self._waiting: dict[str, deque[Ticket]] = {}
        self._inflight: dict[str, int] = {}
        self._holds: dict[str, _Hold] = {}
        self._counters: dict[str, float] = {}
        self._weights: dict[str, float] = {}
        # The org served last, whose counter is the lift floor when none waits (kept as a value
        # once that org is forgotten).
        self._last_org: str | None = None
        self._last = 0.0
        self._running = 0
        self._queued = 0
        self._held = 0
        self._swept_at = 0

    # ------------------------------------------------------------------ reading

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def held(self) -> int:
        return self._held

    @property
    def free(self) -> int:
        return self.limits.capacity - self._running - self._held

    def running_of(self, org: str) -> int:
        return self._inflight.get(org, 0)

    def queued_of(self, org: str) -> int:
        return sum(t.cost for t in self._waiting.get(org, ()))

    def held_for(self, org: str) -> int:
        hold = self._holds.get(org)
        return hold.seats if hold else 0

    def counter(self, org: str) -> float:
        return self._counters.get(org, 0.0)

    @property
    def known_orgs(self) -> int:
        """Orgs with state kept: what `_forget` bounds."""
        return len(self._counters)

    def waiting(self) -> Iterable[Ticket]:
        for line in self._waiting.values():
            yield from line

    def next_event(self) -> float | None:
        """The earliest queue timeout or hold expiry: when `tick` has work."""
        times = [line[0].deadline for line in self._waiting.values()]
        times += [hold.until for hold in self._holds.values()]
        return min(times, default=None)

    # ------------------------------------------------------------------ changes

    def arrive(self, ticket: Ticket, now: float) -> tuple[Outcome, list[Ticket]]:
        limits, org = self.limits, ticket.org
        if ticket.cost < 1:
            raise ValueError("cost must be positive")
        if ticket.state != "new":
            raise ValueError("a ticket arrives once")
        if ticket.cost > limits.per_org:
            return Outcome.TOO_LARGE, []
        ticket.seq, ticket.arrived = next(self._seq), now
        ticket.deadline = now + limits.timeout_s
        self._weights[org] = ticket.weight
        if org not in self._waiting:
            self._lift(org)
        self._enqueue(ticket)
        # The line was settled before this arrival, so only this ticket can start now.
        woken = self._dispatch(now)
        if any(t is ticket for t in woken):
            return Outcome.DISPATCHED, [t for t in woken if t is not ticket]
        refusal = None
        if self.queued_of(org) > limits.max_queued_per_org:
            refusal = Outcome.ORG_QUEUE_FULL
        elif self._queued > limits.max_queued:
            refusal = Outcome.ENGINE_QUEUE_FULL
        if refusal is not None:
            self._unqueue(ticket)
            return refusal, woken
        # Its hold was for a request that would fit; a waiting org is served in turn instead.
        self._drop_hold(org)
        return Outcome.QUEUED, woken + self._dispatch(now)

    def charge(self, ticket: Ticket, prompt_tokens: int = 0, output_tokens: int = 0) -> None:
        """Tokens `ticket` was served since the last charge."""
        cost = self.limits.prompt_weight * prompt_tokens + self.limits.output_weight * output_tokens
        if cost:
            self._counters[ticket.org] = self.counter(ticket.org) + cost / ticket.weight

    def release(self, ticket: Ticket, now: float) -> list[Ticket]:
        if ticket.state != "running":
            raise ValueError(f"release of a {ticket.state} ticket")
        org = ticket.org
        ticket.state = "done"
        self._running -= ticket.cost
        self._inflight[org] -= ticket.cost
        if not self._inflight[org]:
            del self._inflight[org]
        if self._should_hold(ticket):
            hold = self._holds.setdefault(org, _Hold(0, now))
            hold.seats += ticket.cost
            hold.until = now + self.limits.hold_s
            self._held += ticket.cost
        woken = self._dispatch(now)
        self._forget(org)
        return woken

    def cancel(self, ticket: Ticket, now: float) -> list[Ticket]:
        """A client that left: out of the line at once, or its seats back if it was running."""
        if ticket.state == "running":
            return self.release(ticket, now)
        if ticket.state != "waiting":
            return []
        self._unqueue(ticket)
        woken = self._dispatch(now)  # it may have been the head that did not fit
        self._forget(ticket.org)
        return woken

    def tick(self, now: float) -> tuple[list[Ticket], list[Ticket]]:
        """Timed-out waiters (refused by the caller) and what the expired holds let run."""
        expired = [t for t in self.waiting() if t.deadline <= now]
        for ticket in expired:
            self._unqueue(ticket)
        for org in [o for o, hold in self._holds.items() if hold.until <= now]:
            self._drop_hold(org)
        woken = self._dispatch(now)
        for org in {t.org for t in expired}:
            self._forget(org)
        self._sweep()
        return expired, woken

    # ------------------------------------------------------------------ policy

    def _fits(self, ticket: Ticket, free: int) -> bool:
        return (
            ticket.cost <= free and self.running_of(ticket.org) + ticket.cost <= self.limits.per_org
        )

    def _order(self, org: str) -> tuple[float, ...]:
        head = self._waiting[org][0]
        if self.limits.policy == "fcfs":
            return (head.seq,)
        return (self.counter(org), head.priority, head.seq)

    def _dispatch(self, now: float) -> list[Ticket]:
        """Serve the line in order while the next eligible head fits. Seats held for an org go
        to it first. An org at its seat cap is passed over (its own completions will free its
        seats); a head that does not fit the free seats stops the line, so that a large request
        is not starved by smaller ones behind it."""
        woken: list[Ticket] = []
        while self._waiting:
            head = self._held_head()
            if head is None:
                if self.free < 1:
                    break  # no request fits: not worth ordering the line (O(orgs))
                eligible = [
                    org
                    for org, line in self._waiting.items()
                    if self.running_of(org) + line[0].cost <= self.limits.per_org
                ]
                if not eligible:
                    break
                head = self._waiting[min(eligible, key=self._order)][0]
                if head.cost > self.free:
                    break
            self._unqueue(head)
            self._start(head)
            woken.append(head)
        return woken

    def _held_head(self) -> Ticket | None:
        for org, hold in self._holds.items():
            line = self._waiting.get(org)
            if line and self._fits(line[0], self.free + hold.seats):
                return line[0]
        return None

    def _enqueue(self, ticket: Ticket) -> None:
        ticket.state = "waiting"
        self._waiting.setdefault(ticket.org, deque()).append(ticket)
        self._queued += ticket.cost

    def _start(self, ticket: Ticket) -> None:
        org = ticket.org
        hold = self._holds.get(org)
        if hold is not None:
            used = min(hold.seats, ticket.cost)
            hold.seats -= used
            self._held -= used
            if not hold.seats:
                del self._holds[org]
        ticket.state = "running"
        self._running += ticket.cost
        self._inflight[org] = self.running_of(org) + ticket.cost
        self._last_org = org

    def _unqueue(self, ticket: Ticket) -> None:
        line = self._waiting[ticket.org]
        line.remove(ticket)
        if not line:
            del self._waiting[ticket.org]
        self._queued -= ticket.cost
        ticket.state = "done"

    def _floor(self, besides: str | None = None) -> float:
        """What a newly backlogged org is lifted to."""
        waiting = [self.counter(o) for o in self._waiting if o != besides]
        if waiting:
            return min(waiting)
        return self._counters.get(self._last_org, self._last) if self._last_org else self._last

    def _lift(self, org: str) -> None:
        if self.limits.policy == "fair":
            self._counters[org] = max(self.counter(org), self._floor(besides=org))

    def _should_hold(self, ticket: Ticket) -> bool:
        """Hold the seat for its org if others wait for it, the org has nothing of its own
        waiting, and holding keeps it within its weighted share of the seats."""
        limits, org = self.limits, ticket.org
        if limits.policy == "fcfs" or limits.hold_s <= 0 or org in self._waiting:
            return False
        if not any(o != org for o in self._waiting):
            return False
        active = set(self._waiting) | set(self._inflight) | set(self._holds) | {org}
        total = sum(self._weights.get(o, 1.0) for o in active)
        share = limits.capacity * self._weights.get(org, 1.0) / total
        return self.running_of(org) + self.held_for(org) + ticket.cost <= share

    def _drop_hold(self, org: str) -> None:
        hold = self._holds.pop(org, None)
        if hold is not None:
            self._held -= hold.seats

    def _idle(self, org: str) -> bool:
        return org not in self._waiting and org not in self._inflight and org not in self._holds

    def _forget(self, org: str) -> None:
        """An idle org at or below the lift floor would be lifted to the floor on its return
        anyway: its state says nothing and goes. Orgs above the floor are kept (their counter
        is service they already had) until the floor passes them (`_sweep`)."""
        if self._idle(org) and self.counter(org) <= self._floor():
            self._drop(org)
        if len(self._counters) > 2 * self._swept_at + 64:
            self._sweep()

    def _sweep(self) -> None:
        floor = self._floor()
        for org in [o for o, c in self._counters.items() if c <= floor and self._idle(o)]:
            self._drop(org)
        self._swept_at = len(self._counters)

    def _drop(self, org: str) -> None:
        if org == self._last_org:
            self._last, self._last_org = self.counter(org), None
        self._counters.pop(org, None)
        self._weights.pop(org, None)
