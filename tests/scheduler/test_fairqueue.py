"""The fair queue's invariants under any interleaving of arrivals, charges, releases, cancels and
ticks: seats are never over-committed, a free seat never idles while a waiting request could take
it (holds aside), an org's requests start in the order they came, timeouts and bounds refuse
exactly what they should, idle orgs bank no credit, and two backlogged orgs' service stays within
VTC's bound of each other."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.fairqueue import FairQueue, Outcome, QueueLimits, Ticket

ORGS = ("a", "b", "c")


def limits(**overrides: object) -> QueueLimits:
    base: dict[str, object] = {
        "capacity": 8,
        "max_queued": 64,
        "max_queued_per_org": 32,
        "timeout_s": 10.0,
        "reserved": 1,
    }
    return QueueLimits(**{**base, **overrides})  # type: ignore[arg-type]


def settled(q: FairQueue) -> bool:
    """No waiting request could start now: work conservation, given the policy's caps."""
    for org, hold in q._holds.items():
        line = q._waiting.get(org)
        if line and q._fits(line[0], q.free + hold.seats):
            return False
    eligible = [
        org
        for org, line in q._waiting.items()
        if q.running_of(org) + line[0].cost <= q.limits.per_org
    ]
    if not eligible:
        return True
    head = q._waiting[min(eligible, key=q._order)][0]
    return head.cost > q.free


def check(q: FairQueue, running: list[Ticket]) -> None:
    assert q.running == sum(t.cost for t in running)
    assert 0 <= q.running + q.held <= q.limits.capacity
    for org in ORGS:
        assert q.running_of(org) == sum(t.cost for t in running if t.org == org)
        assert q.running_of(org) <= q.limits.per_org
        assert q.queued_of(org) <= q.limits.max_queued_per_org
    assert q.queued == sum(t.cost for t in q.waiting()) <= q.limits.max_queued
    assert settled(q)


def test_dispatches_at_once_while_seats_are_free_then_queues() -> None:
    q = FairQueue(limits(capacity=4, reserved=0))
    first, second = Ticket("a", 3), Ticket("b", 1)
    assert q.arrive(first, 0)[0] is Outcome.DISPATCHED
    assert q.arrive(second, 0)[0] is Outcome.DISPATCHED
    waiting = Ticket("b", 2)
    assert q.arrive(waiting, 0) == (Outcome.QUEUED, [])
    assert q.release(second, 1) == []  # one seat free, the head needs two: it waits
    assert q.release(first, 2) == [waiting]
    assert waiting.state == "running"


def test_too_large_over_bounds_and_timeouts() -> None:
    q = FairQueue(limits(capacity=4, reserved=1, max_queued=3, max_queued_per_org=2))
    assert q.arrive(Ticket("a", 4), 0)[0] is Outcome.TOO_LARGE  # over one org's 3 seats
    assert q.arrive(Ticket("a", 3), 0)[0] is Outcome.DISPATCHED
    assert q.arrive(Ticket("b", 1), 0)[0] is Outcome.DISPATCHED
    assert q.arrive(Ticket("a", 2), 0)[0] is Outcome.QUEUED
    assert q.arrive(Ticket("a", 1), 0)[0] is Outcome.ORG_QUEUE_FULL
    assert q.arrive(Ticket("b", 2), 0)[0] is Outcome.ENGINE_QUEUE_FULL
    late = Ticket("b", 1)
    assert q.arrive(late, 5)[0] is Outcome.QUEUED
    assert q.next_event() == 10.0
    expired, woken = q.tick(10.0)
    assert [t.cost for t in expired] == [2] and woken == [] and q.queued == 1
    expired, _ = q.tick(15.0)
    assert expired == [late] and q.queued == 0 and q.next_event() is None


def test_an_org_keeps_seats_free_for_others_so_a_newcomer_starts_at_once() -> None:
    q = FairQueue(limits(capacity=8, reserved=2))
    flood = [Ticket("a") for _ in range(10)]
    outcomes = [q.arrive(t, 0)[0] for t in flood]
    assert outcomes.count(Outcome.DISPATCHED) == 6  # capacity - reserved
    assert q.arrive(Ticket("b"), 0)[0] is Outcome.DISPATCHED


def test_cancel_leaves_the_line_and_frees_its_place() -> None:
    q = FairQueue(limits(capacity=2, reserved=0))
    holder = Ticket("a", 2)
    q.arrive(holder, 0)
    big, small = Ticket("b", 2), Ticket("c", 1)
    q.arrive(big, 0)
    q.arrive(small, 0)
    assert q.release(holder, 1) == [big]  # b's counter ties c's: arrival order
    left = Ticket("a", 1)
    q.arrive(left, 1)
    assert q.cancel(left, 2) == [] and left.state == "done"
    assert q.queued_of("a") == 0
    assert q.cancel(big, 3) == [small]  # a cancelled running ticket releases its seats


def test_equal_counters_go_to_the_higher_tier_so_enterprise_jumps_the_free_line() -> None:
    q = FairQueue(limits(capacity=2, reserved=0))
    running = [Ticket("free-0", priority=2), Ticket("free-0", priority=2)]
    for t in running:
        q.arrive(t, 0)
    free = [Ticket(f"free-{i % 3}", priority=2) for i in range(6)]
    for t in free:
        assert q.arrive(t, 1)[0] is Outcome.QUEUED
    enterprise = Ticket("ent", weight=4, priority=0)
    assert q.arrive(enterprise, 2)[0] is Outcome.QUEUED
    assert q.release(running[0], 3) == [enterprise]


def test_idle_time_is_not_banked() -> None:
    """An org idle while another was served is lifted to the served org's counter when it
    returns: it competes from there, it does not take the engine until it catches up."""
    q = FairQueue(limits(capacity=1, reserved=0))
    for _ in range(5):
        t = Ticket("busy")
        q.arrive(t, 0)
        q.charge(t, prompt_tokens=10, output_tokens=45)
        q.release(t, 0)
    holder = Ticket("busy")
    q.arrive(holder, 1)
    q.charge(holder, output_tokens=1)
    back, busy = Ticket("idle"), Ticket("busy")
    q.arrive(busy, 1)
    q.arrive(back, 1)
    # Lifted to the waiting org's counter, not left at 0 (which would win the next 5 turns).
    assert q.counter("idle") == q.counter("busy") == 5 * (10 + 2 * 45) + 2


def test_a_weight_two_org_is_charged_half() -> None:
    q = FairQueue(limits())
    heavy, light = Ticket("a", weight=2), Ticket("b", weight=1)
    q.arrive(heavy, 0)
    q.arrive(light, 0)
    for t in (heavy, light):
        q.charge(t, prompt_tokens=10, output_tokens=10)
    assert q.counter("a") * 2 == q.counter("b") == 30


def test_a_seat_freed_below_the_fair_share_is_held_briefly() -> None:
    q = FairQueue(limits(capacity=4, reserved=0, hold_s=0.03))
    light = Ticket("light")
    q.arrive(light, 0)
    flood = [Ticket("heavy") for _ in range(8)]
    for t in flood:
        q.arrive(t, 0)
    assert q.queued_of("heavy") == 5
    assert q.release(light, 1.0) == []  # held: light has 0 of its 2 fair seats
    assert q.held_for("light") == 1 and q.next_event() == pytest.approx(1.03)
    again = Ticket("light")
    assert q.arrive(again, 1.01)[0] is Outcome.DISPATCHED and q.held == 0
    # Had it not come back, the hold lapses and the flood gets the seat.
    q.release(again, 2.0)
    assert q.held == 1
    expired, woken = q.tick(2.03)
    assert expired == [] and len(woken) == 1 and woken[0].org == "heavy"
    # The heavy org is over its share: its freed seats go straight on, never held.
    assert q.release(flood[0], 3.0) and q.held == 0


def test_fcfs_is_one_line_in_arrival_order() -> None:
    q = FairQueue(limits(capacity=1, policy="fcfs", reserved=0, hold_s=1))
    first = Ticket("a")
    q.arrive(first, 0)
    line = [Ticket(o) for o in "aabba"]
    for t in line:
        q.arrive(t, 0)
    order, current = [], first
    for i in range(5):
        [current] = q.release(current, i)
        order.append(current)
    assert order == line


def test_idle_orgs_are_forgotten() -> None:
    q = FairQueue(limits(capacity=4, reserved=0))
    for i in range(1000):
        t = Ticket(f"org-{i}")
        q.arrive(t, i)
        q.charge(t, prompt_tokens=1)
        q.release(t, i)
    # Each left at or below the floor (the last served counter) or was swept once passed.
    assert q.known_orgs <= 70


@dataclass
class Op:
    kind: str
    org: str = "a"
    cost: int = 1
    tokens: int = 0
    dt: float = 0.0
    pick: int = 0


ops = st.lists(
    st.one_of(
        st.builds(
            Op,
            kind=st.just("arrive"),
            org=st.sampled_from(ORGS),
            cost=st.integers(1, 5),
            dt=st.floats(0, 3),
        ),
        st.builds(Op, kind=st.just("charge"), pick=st.integers(0, 50), tokens=st.integers(0, 200)),
        st.builds(Op, kind=st.just("release"), pick=st.integers(0, 50), dt=st.floats(0, 3)),
        st.builds(Op, kind=st.just("cancel"), pick=st.integers(0, 50)),
        st.builds(Op, kind=st.just("tick"), dt=st.floats(0, 5)),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(
    ops,
    st.integers(1, 10),
    st.integers(0, 3),
    st.sampled_from([0.0, 0.5]),
    st.sampled_from(["fair", "fcfs"]),
)
def test_invariants_hold_under_any_interleaving(
    script: list[Op], capacity: int, reserved: int, hold: float, policy: str
) -> None:
    q = FairQueue(
        limits(
            capacity=capacity,
            reserved=min(reserved, capacity - 1),
            hold_s=hold,
            max_queued=12,
            max_queued_per_org=6,
            timeout_s=4,
            policy=policy,
        )
    )
    now = 0.0
    running: list[Ticket] = []
    started: list[Ticket] = []
    arrived: list[Ticket] = []
    for op in script:
        now += op.dt
        woken: list[Ticket] = []
        if op.kind == "arrive":
            t = Ticket(op.org, op.cost, weight={"a": 1, "b": 2, "c": 4}[op.org])
            outcome, woken = q.arrive(t, now)
            arrived.append(t)
            if outcome is Outcome.DISPATCHED:
                woken = [t, *woken]
            elif outcome is Outcome.TOO_LARGE:
                assert t.cost > q.limits.per_org
            elif outcome is not Outcome.QUEUED:
                assert t.state == "done"
        elif op.kind == "charge" and running:
            t = running[op.pick % len(running)]
            before = q.counter(t.org)
            q.charge(t, output_tokens=op.tokens)
            assert q.counter(t.org) >= before
        elif op.kind == "release" and running:
            t = running.pop(op.pick % len(running))
            woken = q.release(t, now)
        elif op.kind == "cancel" and arrived:
            t = arrived[op.pick % len(arrived)]
            if t in running:
                running.remove(t)
            woken = q.cancel(t, now)
        elif op.kind == "tick":
            expired, woken = q.tick(now)
            for t in expired:
                assert t.deadline <= now and t.state == "done"
        assert all(t.state == "running" for t in woken)
        running += woken
        started += woken
        check(q, running)
        assert all(t.deadline > now for t in q.waiting()) or op.kind != "tick"
    # First in, first started within each org.
    for org in ORGS:
        seqs = [t.seq for t in started if t.org == org]
        assert seqs == sorted(seqs)


@dataclass
class Backlogged:
    """Two orgs that always have requests waiting, served in lock-step decode steps: each
    running request makes one token a step until its own length."""

    q: FairQueue
    lengths: dict[str, list[int]]
    prompt: int = 20
    served: dict[str, float] = field(default_factory=dict)
    running: dict[Ticket, int] = field(default_factory=dict)

    def refill(self, now: float) -> None:
        for org, lengths in self.lengths.items():
            while self.q.queued_of(org) < 4:
                t = Ticket(org)
                outcome, woken = self.q.arrive(t, now)
                self._start([t] if outcome is Outcome.DISPATCHED else woken, lengths)

    def _start(self, tickets: list[Ticket], lengths: list[int] | None = None) -> None:
        for t in tickets:
            self.running[t] = (lengths or self.lengths[t.org]).pop()
            self.q.charge(t, prompt_tokens=self.prompt)
            self.served[t.org] = self.served.get(t.org, 0) + self.prompt

    def step(self, now: float) -> None:
        for t in list(self.running):
            self.q.charge(t, output_tokens=1)
            self.served[t.org] += 2
            self.running[t] -= 1
            if not self.running[t]:
                del self.running[t]
                self._start(self.q.release(t, now))
        self.refill(now)


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(2, 8), st.integers(1, 60))
def test_two_backlogged_orgs_stay_within_vtcs_bound(
    rng: random.Random, capacity: int, longest: int
) -> None:
    """VTC's bound (Sheng et al. 2024, section 4): over an interval in which both are
    backlogged, two orgs' weighted service differs by at most 2U, U the most work that can be
    in the engine when a seat is given: here a full batch, capacity x (w_p x prompt + w_q x
    the longest output). Checked over every prefix of the run."""
    heavy, light = ([rng.randint(1, longest) for _ in range(300)] for _ in range(2))
    q = FairQueue(limits(capacity=capacity, reserved=0, max_queued=64, max_queued_per_org=32))
    sim = Backlogged(q, {"heavy": heavy, "light": light})
    sim.served = {"heavy": 0, "light": 0}
    bound = 2 * capacity * (1 * sim.prompt + 2 * longest)
    sim.refill(0)
    for step in itertools.count(1):
        if min(len(heavy), len(light)) < 10:
            break
        sim.step(step)
        assert abs(sim.served["heavy"] - sim.served["light"]) <= bound
