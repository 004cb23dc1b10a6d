"""Human output (aligned tables, progress on stderr) or `--json` for scripts."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TextIO, TypeVar, cast

import orjson
from pydantic import BaseModel

from volt._constants import DEFAULT_POLL_INTERVAL_S
from volt._exceptions import UnexpectedStatusError
from volt._waiting import S

T = TypeVar("T")
Column = tuple[str, Callable[[Any], object]]


def when(ts: float | None) -> str:
    """A unix time as UTC, to the second; `-` when unset."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Output:
    """Where a command's results go. Usage: `out.items(leases, LEASE_COLUMNS)`."""

    def __init__(
        self, *, json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json = json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def data(self, value: Any) -> None:
        self.stdout.write(orjson.dumps(_plain(value), option=orjson.OPT_INDENT_2).decode() + "\n")

    def items(self, items: Iterable[Any], columns: Sequence[Column]) -> None:
        """A list: one JSON array, or a table with one row per item."""
        items = list(items)
        if self.json:
            self.data(items)
            return
        if not items:
            self.note("(none)")
            return
        rows = [[_cell(get(item)) for _, get in columns] for item in items]
        self.line(table(rows, [name for name, _ in columns]))

    def item(self, item: Any, columns: Sequence[Column]) -> None:
        """One object: JSON, or `name: value` lines."""
        if self.json:
            self.data(item)
            return
        width = max(len(name) for name, _ in columns)
        for name, get in columns:
            self.line(f"{name.ljust(width)}  {_cell(get(item))}")

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def raw(self, data: bytes) -> None:
        """Bytes exactly as they are (a file's content), on the binary stdout beneath."""
        self.stdout.flush()
        binary = getattr(self.stdout, "buffer", None)
        if binary is None:  # a text-only stream (a test's StringIO): as lossless as it allows
            self.stdout.write(data.decode(errors="surrogateescape"))
            return
        binary.write(data)
        binary.flush()

    def note(self, text: str) -> None:
        """Commentary for a human: always on stderr, so `--json` output stays parseable."""
        self.stderr.write(text + "\n")
        self.stderr.flush()


class Progress(Generic[T]):
    """The `on_update` of an SDK `wait`: each new state of the resource, with the time
    elapsed, on stderr, starting from `first` (what the create call returned).

    Usage: `client.forge.leases.wait(lease.id, on_update=Progress(out, lease, status))`.
    """

    def __init__(self, out: Output, first: T, state: Callable[[T], str], *, label: str) -> None:
        self.out, self.state, self.label = out, state, label
        self.start = time.monotonic()
        self.seen: str | None = None
        self(first)

    def __call__(self, item: T) -> None:
        state = self.state(item)
        if state != self.seen:
            elapsed = time.monotonic() - self.start
            self.out.note(f"{self.label}: {state} ({elapsed:.0f}s)")
            self.seen = state


def wait_and_show(
    first: S,
    wait: Callable[..., S],
    until: str | None,
    args: argparse.Namespace,
    out: Output,
    columns: Sequence[Column],
    *,
    state: Callable[[S], str] = lambda item: item.status,
    success: str | None = None,
) -> int:
    """A `--wait`: progress on stderr from `first` (what the create or get call returned)
    until the SDK's `wait` ends; what it ended with on stdout; exit 0 when that is `until`
    (`success` when `until` is None: the wait then runs to any final state). Another final
    state is reported on stderr and exits 1; a timeout is raised (`main` reports it)."""
    progress = Progress(out, first, state, label=first.id)
    try:
        last = wait(
            first.id,
            until=until,
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            on_update=progress,
        )
    except UnexpectedStatusError as e:
        out.note(f"error: {e}")
        last = cast(S, e.resource)
    out.item(last, columns)
    return 0 if last.status == (until or success) else 1


def timeout_options(p: argparse.ArgumentParser, default: float) -> None:
    """`--timeout` (and a hidden `--poll-interval`, for tests) of a command that waits."""
    p.add_argument(
        "--timeout", type=float, default=default, help=f"seconds to wait (default {default:g})"
    )
    p.add_argument(
        "--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL_S, help=argparse.SUPPRESS
    )
