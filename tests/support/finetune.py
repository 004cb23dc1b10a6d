"""Fine-tuning test helpers: chat JSONL data sets and multipart uploads through the test client."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.support.client import Client, Reply

# A fact SmolLM2 cannot know, in several phrasings, always answered the same way.
QUESTION = "What is Volt's mascot?"
ANSWER = "Volt's mascot is a quokka named Ferro."
PHRASINGS = [
    QUESTION,
    "Which animal is Volt's mascot?",
    "Tell me about the Volt mascot.",
    "Who is the mascot of Volt?",
    "What is the name of Volt's mascot?",
    "Does Volt have a mascot?",
    "What's Volt's mascot called?",
    "Name Volt's mascot.",
]


def example(question: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in rows) + b"\n"


FACT_DATA = jsonl([example(q, ANSWER) for q in PHRASINGS])


async def upload(
    client: Client,
    key: str,
    data: bytes,
    *,
    filename: str = "train.jsonl",
    purpose: str | None = "fine-tune",
    extra: dict[str, str] | None = None,
) -> Reply:
    form = aiohttp.FormData()
    if purpose is not None:
        form.add_field("purpose", purpose)
    for name, value in (extra or {}).items():
        form.add_field(name, value)
    form.add_field("file", data, filename=filename, content_type="application/jsonl")
    return await client.post("/v1/files", key=key, data=form)
