"""One choice's answer read as it is generated: text deltas in, OpenAI's content and tool-call
deltas out, and at the end the whole message. The non-streamed answer is read by the same
object in one `feed`, so a stream always reassembles to exactly the non-streamed calls.

Usage:
    reader = plan.stream()
    content, calls = reader.feed(delta_text)   # per engine step
    content, calls = reader.flush()            # once, when the output ends (what was held back)
    content, tool_calls = reader.finish()      # the message: content None when only calls
"""

from __future__ import annotations

import uuid
from typing import Any

from inference.tools.scan import CallScanner, Event

TAG, END_TAG = "<tool_call>", "</tool_call>"
Deltas = tuple[str, list[dict[str, Any]]]


def call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _overlap(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag`: they wait for more text."""
    for n in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ToolStream:
    """Base: collects content and calls, turns call events into OpenAI's stream deltas (first
    a call's index, id, type, name and empty arguments, then argument fragments alone).

    The first call streams as it is written. Later ones are passed on once complete: small
    models under a grammar that allows more calls tend to repeat the same call until the token
    limit, so a call identical to an earlier one ends the answer (`stopped`: the caller stops
    generating it), and a later call cut short by the limit is dropped rather than returned
    as broken JSON."""

    def __init__(self, parallel: bool) -> None:
        self.parallel = parallel
        self.content: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.stopped = False
        self._current: dict[str, Any] | None = None  # the call being read
        self._live = False  # whether the current call's deltas go out as they come
        self._muted = False  # a second call when parallel_tool_calls is false: dropped
        self._flushed = False

    @property
    def called(self) -> bool:
        return bool(self.calls)

    def feed(self, text: str) -> Deltas:
        raise NotImplementedError

    def _end(self) -> Deltas:
        return "", []

    def flush(self) -> Deltas:
        if self._flushed:
            return "", []
        self._flushed = True
        return self._end()

    def finish(self) -> tuple[str | None, list[dict[str, Any]]]:
        self.flush()
        content = "".join(self.content)
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": "".join(c["arguments"])},
            }
            for c in self.calls
        ]
        if calls and not content.strip():
            return None, calls
        return content, calls

    def _text(self, text: str) -> str:
        if text and not self.stopped:
            self.content.append(text)
            return text
        return ""

    def _events(self, events: list[Event], out: list[dict[str, Any]]) -> None:
        for kind, value in events:
            if self.stopped:
                return
            if kind == "start":
                self._muted = bool(self.calls) and not self.parallel
                self._current = {"id": call_id(), "name": value, "arguments": []}
                self._live = not self.calls
                if self._live and not self._muted:
                    self.calls.append(self._current)
                    out.append(_header(len(self.calls) - 1, self._current))
            elif self._muted or self._current is None:
                continue
            elif kind == "args" and value:
                self._current["arguments"].append(value)
                if self._live:
                    _fragment(out, len(self.calls) - 1, value)
            elif kind == "end":
                call, self._current = self._current, None
                if self._live:
                    continue
                if any(_same(call, c) for c in self.calls):
                    self.stopped = True
                    return
                self.calls.append(call)
                out.append(_header(len(self.calls) - 1, call))
                _fragment(out, len(self.calls) - 1, "".join(call["arguments"]))


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["name"] == b["name"] and "".join(a["arguments"]) == "".join(b["arguments"]))


def _header(index: int, call: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": index,
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": ""},
    }


def _fragment(out: list[dict[str, Any]], index: int, text: str) -> None:
    last = out[-1] if out else None
    if last and last["index"] == index and "id" not in last:
        last["function"]["arguments"] += text
    elif text:
        out.append({"index": index, "function": {"arguments": text}})


class NamedCall(ToolStream):
    """tool_choice names a function: the whole output is its arguments (the grammar sees to
    that), so every text delta is an argument fragment."""

    def __init__(self, name: str) -> None:
        super().__init__(parallel=False)
        self.name = name

    def feed(self, text: str) -> Deltas:
        out: list[dict[str, Any]] = []
        events: list[Event] = [] if self.calls else [("start", self.name)]
        self._events([*events, ("args", text)], out)
        return "", out

    def _end(self) -> Deltas:
        out: list[dict[str, Any]] = []
        if not self.calls:  # an empty answer is still the call that was asked for
            self._events([("start", self.name), ("args", "{}")], out)
        return "", out


class TaggedCalls(ToolStream):
    """Text with calls in it: content until `<tool_call>`, then a JSON list of calls up to
    `</tool_call>`, then content again (SmolLM2's and xlam's shape). A bare JSON list at the
    very start is read as calls too, as vLLM's xlam parser does. With `json_only` (tool_choice
    "required") the output is the list alone. Text that turns out not to be calls is content."""

    def __init__(self, parallel: bool, json_only: bool = False) -> None:
        super().__init__(parallel)
        self.buffer = ""
        self.state = "calls" if json_only else "text"
        self.scanner = CallScanner()
        self.block = ""  # the text of the calls being read, for when it proves not to be calls
        self.block_calls = 0
        self.at_start = not json_only

    def feed(self, text: str) -> Deltas:
        if self.stopped:
            return "", []
        self.buffer += text
        content: list[str] = []
        calls: list[dict[str, Any]] = []
        while self._advance(content, calls):
            pass
        return self._text("".join(content)), calls

    def _open_block(self, prefix: str) -> None:
        self.state, self.scanner, self.block, self.block_calls = "calls", CallScanner(), prefix, 0
        self.at_start = False

    def _advance(self, content: list[str], calls: list[dict[str, Any]]) -> bool:
        """One step over the buffer; False when it needs more text."""
        buf = self.buffer
        if self.state == "text":
            stripped = buf.lstrip()
            if self.at_start and not stripped:
                return False
            if self.at_start and stripped.startswith("["):
                self.buffer = stripped
                self._open_block(buf[: len(buf) - len(stripped)])
                return True
            self.at_start = False
            at = buf.find(TAG)
            if at >= 0:
                content.append(buf[:at])
                self.buffer = buf[at + len(TAG) :]
                self._open_block(TAG)
                return True
            keep = _overlap(buf, TAG)
            content.append(buf[: len(buf) - keep])
            self.buffer = buf[len(buf) - keep :]
            return False
        if self.state == "calls":
            if not buf:
                return False
            before = len(self.calls)
            self._events(self.scanner.feed(buf), calls)
            self.block_calls += len(self.calls) - before
            finished = self.scanner.done or self.scanner.failed
            self.block += buf[: len(buf) - len(self.scanner.rest)] if finished else buf
            self.buffer = self.scanner.rest if finished else ""
            if self.scanner.failed:
                if not self.block_calls:  # never calls after all: the text is content
                    content.append(self.block)
                self.state = "text"
            elif self.scanner.done:
                self.state = "after"
            return finished
        stripped = buf.lstrip()  # "after": the closing tag, if the model writes one
        if stripped.startswith(END_TAG):
            self.buffer, self.state = stripped[len(END_TAG) :], "text"
            return True
        if END_TAG.startswith(stripped):
            return False
        self.state = "text"
        return True

    def _end(self) -> Deltas:
        if self.state == "calls" and not self.block_calls:
            text = self.block + self.buffer  # cut off before any call was complete
        elif self.state == "text":
            text = self.buffer
        else:
            text = ""
        self.buffer = ""
        return self._text(text), []
