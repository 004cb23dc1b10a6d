"""The fine-tuning data format, OpenAI's chat JSONL: one `{"messages": [...]}` object per line.

Pure (no I/O frameworks), shared by the upload check in admin and the trainer. Errors name the
line and the field, never the text itself: training data is customer content and is not
echoed into logs or error messages.

Usage: `v = LineValidator(); v.feed(chunk) ...; v.close()` raises `DatasetError` at the first
bad line and leaves `v.examples` counted; `parse_examples(data)` gives the messages for training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

ROLES = ("system", "developer", "user", "assistant")
_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})


class DatasetError(ValueError):
    """The first bad line (1-based) and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    # OpenAI's `weight` on assistant turns: 0 keeps the turn as context without training on it.
    trained: bool


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        parts = []
        for j, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ValueError(f"{where}[{j}] must be a text part ({{'type': 'text', ...}})")
            if set(part) != {"type", "text"} or not isinstance(part["text"], str):
                raise ValueError(f"{where}[{j}] must have exactly 'type' and a string 'text'")
            parts.append(part["text"])
        return "".join(parts)
    raise ValueError(f"{where} must be a string or a non-empty list of text parts")


def _message(i: int, raw: Any) -> Message:
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    extra = sorted(set(raw) - _MESSAGE_KEYS)
    if extra:
        raise ValueError(f"{where}.{extra[0]} is not supported")
    role = raw.get("role")
    if role not in ROLES:
        raise ValueError(f"{where}.role must be one of {', '.join(ROLES)}")
    if "content" not in raw:
        raise ValueError(f"{where}.content is missing")
    content = _content(raw["content"], f"{where}.content")
    if "name" in raw and not isinstance(raw["name"], str):
        raise ValueError(f"{where}.name must be a string")
    weight = raw.get("weight", 1)
    if "weight" in raw and (role != "assistant" or weight not in (0, 1) or weight is True):
        raise ValueError(f"{where}.weight must be 0 or 1, and only on assistant messages")
    if role == "assistant" and not content:
        raise ValueError(f"{where}.content must not be empty for an assistant message")
    return Message(role, content, trained=role == "assistant" and weight == 1)


def parse_line(line: bytes) -> list[Message]:
    """One example's messages; ValueError says what is wrong, without quoting the data."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError('must be a JSON object like {"messages": [...]}')
    extra = sorted(set(obj) - {"messages"})
    if extra:
        raise ValueError(f"'{extra[0]}' is not supported; each line holds only 'messages'")
    raw = obj.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ValueError("'messages' must be a non-empty list")
    messages = [_message(i, m) for i, m in enumerate(raw)]
    if not any(m.trained for m in messages):
        raise ValueError("needs at least one assistant message to train on")
    return messages


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for n, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield n, line


def parse_examples(data: bytes) -> list[tuple[int, list[Message]]]:
    """Every example with its line number; DatasetError at the first bad line."""
    out = []
    for n, line in _lines(data):
        try:
            out.append((n, parse_line(line)))
        except ValueError as err:
            raise DatasetError(n, str(err)) from None
    if not out:
        raise DatasetError(1, "the file holds no examples")
    return out


class LineValidator:
    """Checks a file as it streams in, chunk by chunk, so a bad upload stops at its first bad
    line and nothing is buffered beyond one line."""

    def __init__(self) -> None:
        # The unfinished line's pieces: joined once it ends, so a long line costs linear time.
        self._pending: list[bytes] = []
        self._line = 0
        self.examples = 0

    def _check(self, line: bytes) -> None:
        self._line += 1
        if not line.strip():
            return
        try:
            parse_line(line)
        except ValueError as err:
            raise DatasetError(self._line, str(err)) from None
        self.examples += 1

    def feed(self, chunk: bytes) -> None:
        if b"\n" not in chunk:
            self._pending.append(chunk)
            return
        first, *complete, rest = chunk.split(b"\n")
        self._check(b"".join([*self._pending, first]))
        for line in complete:
            self._check(line)
        self._pending = [rest]

    def close(self) -> None:
        self._check(b"".join(self._pending))
        self._pending = []
        if self.examples == 0:
            raise DatasetError(max(self._line, 1), "the file holds no examples")
