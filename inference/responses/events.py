"""The Responses API's event stream: `event: <type>` and `data: {...}` per event, each with
its `sequence_number`, and no `[DONE]` (the terminal event is `response.completed`,
`response.incomplete` or, after a failure, `error` then `response.failed`).

`OutputStream` turns text and chat-shaped tool-call deltas into output items and their
events, in the order OpenAI sends them, and keeps the items for the final response."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from inference.responses.convert import function_call_item, new_id, text_part


class EventWriter:
    """Usage: `writer = EventWriter(response); await writer.send("response.created",
    response={...})`."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.sequence = 0

    async def send(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        await self.response.write(
            b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        )


class OutputStream:
    """The output items of one streamed response, built from deltas."""

    def __init__(self, writer: EventWriter, max_tool_calls: int | None = None) -> None:
        self.writer = writer
        self.items: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None
        self._message_index = 0
        self._pending = ""
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> open item
        self._ignored: set[int] = set()
        self._max_tool_calls = max_tool_calls

    @property
    def _index(self) -> int:
        return len(self.items) - 1

    async def text(self, delta: str) -> None:
        if not delta:
            return
        if self._message is None and not (self._pending + delta).strip():
            # Whitespace before anything else waits: beside function calls it is no message
            # (as the plain response reads it), alone it is one.
            self._pending += delta
            return
        delta, self._pending = self._pending + delta, ""
        message = self._message or await self._open_message()
        self._text.append(delta)
        await self.writer.send(
            "response.output_text.delta",
            item_id=message["id"],
            output_index=self._message_index,
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    async def _open_message(self) -> dict[str, Any]:
        message = {
            "type": "message",
            "id": new_id("msg"),
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._message = message
        self.items.append(message)
        self._message_index = self._index
        await self.writer.send("response.output_item.added", output_index=self._index, item=message)
        await self.writer.send(
            "response.content_part.added",
            item_id=message["id"],
            output_index=self._index,
            content_index=0,
            part=text_part(""),
        )
        return message

    async def _close_message(self, status: str) -> None:
        message, self._message = self._message, None
        if message is None:
            return
        text, self._text = "".join(self._text), []
        where = {"item_id": message["id"], "output_index": self._message_index, "content_index": 0}
        await self.writer.send("response.output_text.done", **where, text=text, logprobs=[])
        message["content"] = [text_part(text)]
        await self.writer.send("response.content_part.done", **where, part=message["content"][0])
        message["status"] = status
        await self.writer.send(
            "response.output_item.done", output_index=self._message_index, item=message
        )

    async def tool_call(self, delta: dict[str, Any]) -> None:
        """One chat-shaped tool-call delta: `{index, id, type, function: {name, arguments}}`,
        id and name first, then argument fragments."""
        index = delta["index"]
        if index in self._ignored:
            return
        function = delta.get("function") or {}
        item = self._calls.get(index)
        if item is None:
            if self._max_tool_calls is not None and len(self._calls) >= self._max_tool_calls:
                self._ignored.add(index)
                return
            item = function_call_item(
                {"id": delta.get("id"), "function": {"name": function.get("name", "")}},
                status="in_progress",
            )
            item["arguments"] = ""
            self.items.append(item)
            item["_index"] = self._index
            self._calls[index] = item
            await self.writer.send(
                "response.output_item.added", output_index=self._index, item=_public(item)
            )
        fragment = function.get("arguments")
        if fragment:
            item["arguments"] += fragment
            await self.writer.send(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=item["_index"],
                delta=fragment,
            )

    def snapshot(self) -> list[dict[str, Any]]:
        """The items so far, as a failed response reports them: what was streamed of each,
        the unfinished ones `incomplete`."""
        out = []
        for item in self.items:
            item = _public(item)
            if item["status"] == "in_progress":
                item["status"] = "incomplete"
            if self._message is not None and item["id"] == self._message["id"]:
                item["content"] = [text_part("".join(self._text))]
            out.append(item)
        return out

    async def finish(self, status: str) -> list[dict[str, Any]]:
        """Close every open item; the output of the final response. An empty answer is still
        a message, as in the plain response. A message stays open beside function calls, so
        that all of the answer's text is one message, as in the plain response."""
        if not self.items:
            await self._open_message()
            pending, self._pending = self._pending, ""
            await self.text(pending)
        await self._close_message(status)
        for item in self._calls.values():
            output_index = item.pop("_index")
            item["status"] = "completed"
            await self.writer.send(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=output_index,
                arguments=item["arguments"],
                name=item["name"],
            )
            await self.writer.send(
                "response.output_item.done", output_index=output_index, item=item
            )
        self._calls.clear()
        return self.items


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}
