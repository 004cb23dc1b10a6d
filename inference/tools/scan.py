"""An incremental reader of tool calls written as JSON: `[{"name": ..., "arguments": {...}}, ...]`
(or one such object), fed text as the model writes it.

It reports each call as soon as its name is known and then the raw text of its arguments,
character by character, so a stream can pass argument fragments on as OpenAI does, and the
reassembled stream equals the whole answer read at once (the same reader reads both). Arguments
written before the name are held until the name arrives. Pure: no vLLM, no I/O.
"""

from __future__ import annotations

import json
from typing import Literal

Event = tuple[Literal["start", "args", "end"], str]
ARGUMENT_KEYS = ("arguments", "parameters")  # xlam's key, and the one vLLM's schema uses
_WS = " \t\r\n"


class CallScanner:
    """Usage: `events = scanner.feed(text)` until `scanner.done` or `scanner.failed`; then
    `scanner.rest` is the text of the last feed that is not part of the calls."""

    def __init__(self) -> None:
        self.state = "start"
        self.single = False  # one object rather than a list
        self.done = self.failed = False
        self.rest = ""
        self._reset_call()

    def _reset_call(self) -> None:
        self.key: list[str] = []
        self.target: str | None = None  # what the value being read is: "name", "args" or None
        self.raw: list[str] = []  # the name's (or a string or scalar argument's) raw JSON
        self.kind = ""  # of the value being read: "container", "string" or "scalar"
        self.depth = 0
        self.in_string = self.escaped = False
        self.name: str | None = None
        self.pending: list[str] = []  # argument text read before the name
        self.has_args = False

    def feed(self, text: str) -> list[Event]:
        events: list[Event] = []
        self.rest = ""
        for i, ch in enumerate(text):
            self._step(ch, events)
            if self.failed:
                self.rest = text[i:]
                break
            if self.done:
                self.rest = text[i + 1 :]
                break
        return events

    def _fail(self) -> None:
        self.failed = True

    def _step(self, ch: str, events: list[Event]) -> None:
        state = self.state
        if state == "value":
            self._value(ch, events)
            return
        if state == "key":
            self._key(ch)
            return
        if ch in _WS:
            return
        if state == "start":
            if ch == "[":
                self.state = "item"
            elif ch == "{":
                self.single, self.state = True, "object"
            else:
                self._fail()
        elif state in ("item", "next_item"):
            if ch == "{":
                self.state = "object"
            elif ch == "]" or (ch == "," and state == "next_item"):
                self.state = "item"
                self.done = ch == "]"
            else:
                self._fail()
        elif state in ("object", "next_key"):
            if ch == '"':
                self.state, self.key = "key", []
            elif ch == "}" or (ch == "," and state == "next_key"):
                if ch == "}":
                    self._end_call(events)
                else:
                    self.state = "object"
            else:
                self._fail()
        elif state == "colon":
            if ch == ":":
                self.state = "value_start"
            else:
                self._fail()
        elif state == "value_start":
            self._start_value(ch, events)

    def _key(self, ch: str) -> None:
        if self.escaped:
            self.escaped = False
        elif ch == "\\":
            self.escaped = True
        elif ch == '"':
            key = _loads_string("".join(self.key))
            if key == "name" and self.name is None:
                self.target = "name"
            elif key in ARGUMENT_KEYS and not self.has_args:
                self.target = "args"
            else:
                self.target = None
            self.state = "colon"
            return
        self.key.append(ch)

    def _start_value(self, ch: str, events: list[Event]) -> None:
        self.state, self.raw, self.depth = "value", [], 0
        self.in_string = self.escaped = False
        if ch in "{[":
            self.kind, self.depth = "container", 1
        elif ch == '"':
            self.kind, self.in_string = "string", True
        else:
            self.kind = "scalar"
        self._take(ch, events)

    def _value(self, ch: str, events: list[Event]) -> None:
        if self.kind == "scalar" and ch in _WS + ",}]":
            self._end_value(events)
            self.state = "next_key"
            self._step(ch, events)  # the character belongs to the object, not the value
            return
        self._take(ch, events)
        if self.in_string:
            if self.escaped:
                self.escaped = False
            elif ch == "\\":
                self.escaped = True
            elif ch == '"':
                self.in_string = False
                if self.kind == "string":
                    self._end_value(events)
            return
        if self.kind != "container":
            return
        if ch == '"':
            self.in_string = True
        elif ch in "{[":
            self.depth += 1
        elif ch in "}]":
            self.depth -= 1
            if self.depth == 0:
                self._end_value(events)

    def _take(self, ch: str, events: list[Event]) -> None:
        if self.target == "args" and self.kind == "container":
            self._args(ch, events)
        elif self.target is not None:
            self.raw.append(ch)

    def _end_value(self, events: list[Event]) -> None:
        self.state = "next_key"
        target, raw = self.target, "".join(self.raw)
        self.target = None
        if target == "name":
            try:
                name = json.loads(raw)
            except ValueError:
                name = None
            if not isinstance(name, str) or not name:
                self._fail()
                return
            self.name = name
            events.append(("start", name))
            if self.pending:
                events.append(("args", "".join(self.pending)))
                self.pending = []
        elif target == "args":
            if self.kind == "string":  # arguments given as JSON text: the text is the arguments
                self._args(_loads_string(raw[1:-1]), events)
            elif self.kind == "scalar":
                self._args("{}" if raw == "null" else raw, events)
            self.has_args = True

    def _args(self, text: str, events: list[Event]) -> None:
        self.has_args = True
        if self.name is None:
            self.pending.append(text)
        else:
            events.append(("args", text))

    def _end_call(self, events: list[Event]) -> None:
        if self.name is not None:  # a call without a name is no call
            if not self.has_args:
                events.append(("args", "{}"))
            events.append(("end", ""))
        self._reset_call()
        if self.single:
            self.done = True
        else:
            self.state = "next_item"


def _loads_string(body: str) -> str:
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return body
    return value if isinstance(value, str) else body
