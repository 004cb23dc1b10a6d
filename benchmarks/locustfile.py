"""Load test for any Volt base URL: streaming chat (time to first token reported as its own
row), completions and embeddings.

Usage:
    VOLT_API_KEY=volt_sk_live_... .venv/bin/locust -f benchmarks/locustfile.py --headless \\
        -H http://127.0.0.1:8080 -u 8 -r 8 -t 60s
Environment: VOLT_CHAT_MODEL (default smollm2-135m-instruct), VOLT_EMBEDDING_MODEL
(default all-minilm-l6-v2), VOLT_MAX_TOKENS (default 64).
"""

from __future__ import annotations

import os
import random
import time

import orjson
from locust import HttpUser, between, task

from benchmarks.load import PROMPTS

CHAT_MODEL = os.environ.get("VOLT_CHAT_MODEL", "smollm2-135m-instruct")
EMBEDDING_MODEL = os.environ.get("VOLT_EMBEDDING_MODEL", "all-minilm-l6-v2")
MAX_TOKENS = int(os.environ.get("VOLT_MAX_TOKENS", "64"))


def _has_content(data: bytes) -> bool:
    """A chunk that carries generated text (the first chunk only announces the role)."""
    chunk = orjson.loads(data)
    return any(c.get("delta", {}).get("content") for c in chunk.get("choices", []))


class VoltUser(HttpUser):  # requests-based: it streams with iter_lines
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        key = os.environ.get("VOLT_API_KEY")
        if not key:
            raise RuntimeError("set VOLT_API_KEY (make run prints one)")
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    @task(4)
    def chat_stream(self) -> None:
        body = {
            "model": CHAT_MODEL,
            "max_tokens": MAX_TOKENS,
            "stream": True,
            "messages": [{"role": "user", "content": random.choice(PROMPTS)}],
        }
        started = time.perf_counter()
        first = None
        with self.client.post(
            "/v1/chat/completions",
            json=body,
            headers=self.headers,
            stream=True,
            catch_response=True,
            name="chat (stream) headers",
        ) as resp:
            for line in resp.iter_lines():
                if first is None and line.startswith(b"data: {") and _has_content(line[6:]):
                    first = time.perf_counter()
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
        done = time.perf_counter()
        # Locust times a streamed request to its headers; these rows time what users feel.
        for name, at in (("time to first token", first), ("whole stream", done)):
            if at is not None:
                self.environment.events.request.fire(
                    request_type="STREAM",
                    name=f"chat (stream) {name}",
                    response_time=(at - started) * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )

    @task(2)
    def completion(self) -> None:
        body = {"model": CHAT_MODEL, "prompt": random.choice(PROMPTS), "max_tokens": MAX_TOKENS}
        self.client.post("/v1/completions", json=body, headers=self.headers, name="completions")

    @task(2)
    def embeddings(self) -> None:
        body = {"model": EMBEDDING_MODEL, "input": random.sample(PROMPTS, 4)}
        self.client.post("/v1/embeddings", json=body, headers=self.headers, name="embeddings")
