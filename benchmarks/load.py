"""A streaming chat load generator for OpenAI-compatible servers: fixed prompts, fixed
concurrency, time to first token per request and output tokens per second overall.
The same client measures every server, so ratios compare servers, not clients."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import aiohttp
import orjson

PROMPTS = [
    "Explain how a rainbow forms.",
    "Write a short story about a lighthouse keeper.",
    "What are the benefits of regular exercise?",
    "Describe the water cycle.",
    "Give three tips for learning a new language.",
    "Why is the sky blue?",
    "Summarise the plot of a detective novel you invent.",
    "How do bees make honey?",
    "What makes a good cup of coffee?",
    "Describe a walk through an autumn forest.",
    "Explain photosynthesis to a child.",
    "List some ways to save energy at home.",
]


@dataclass(frozen=True)
class Result:
    concurrency: int
    requests: int
    seconds: float
    output_tokens: int
    ttft_ms: list[float]

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    def ttft(self, q: float) -> float:
        ordered = sorted(self.ttft_ms)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]

    @property
    def ttft_p50(self) -> float:
        return statistics.median(self.ttft_ms)


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    model: str,
    prompt: str,
    max_tokens: int,
) -> tuple[float, int]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    ttft = None
    tokens = 0
    async with session.post(url, json=body, headers=headers) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            chunk = orjson.loads(line[6:])
            if ttft is None and any(c["delta"].get("content") for c in chunk["choices"]):
                ttft = (time.perf_counter() - started) * 1000
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return ttft or 0.0, tokens


async def run(
    base: str, key: str, model: str, *, concurrency: int, requests: int, max_tokens: int = 64
) -> Result:
    url = f"{base}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(PROMPTS[i % len(PROMPTS)])
    ttfts: list[float] = []
    total = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal total
        while not queue.empty():
            prompt = queue.get_nowait()
            ttft, tokens = await _one(session, url, headers, model, prompt, max_tokens)
            ttfts.append(ttft)
            total += tokens

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(concurrency, requests, seconds, total, ttfts)
