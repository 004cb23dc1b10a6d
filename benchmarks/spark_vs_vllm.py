"""Spark against `vllm serve` on the same machine, model, engine flags, prompts and client,
with vLLM's offline `LLM.generate` as the ceiling. Spark runs as `make run` does (admin and
Spark on one URL, authentication and metering on). Writes the ratios to RESULTS.md.

Usage: `.venv/bin/python -m benchmarks.spark_vs_vllm [--requests 48] [--levels 1,4,16]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from benchmarks.load import Result, run
from benchmarks.results import write_section

MODEL = "smollm2-135m-instruct"
# Equal on both sides: the CPU defaults of `vllm serve` and `LLM` differ otherwise.
ENGINE_FLAGS: dict[str, Any] = {
    "max_model_len": 2048,
    "max_num_seqs": 128,
    "max_num_batched_tokens": 2048,
    "enable_prefix_caching": False,
}


# The same KV cache on every side (Spark sets it from VOLT_SPARK_KV_CACHE_GIB, default 1).
VLLM_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_http(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def spark(port: int, tmp: Path) -> Iterator[str]:
    models = tmp / "models.yaml"
    models.write_text(
        orjson.dumps(
            {
                "models": [
                    {
                        "id": MODEL,
                        "kind": "chat",
                        "path": "smollm2",
                        "tiers": ["standard"],
                        **ENGINE_FLAGS,
                    }
                ]
            }
        ).decode()
    )
    env = {
        **os.environ,
        "VOLT_DATA_DIR": str(tmp / "data"),
        "VOLT_PORT": str(port),
        "VOLT_MODELS_FILE": str(models),
        "VOLT_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "admin", "run"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        key = None
        while key is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("volt-admin run exited")
            if found := re.search(r"volt_sk_live_\w+", line):
                key = found[0]
        yield key
    finally:
        stop(proc)


@contextmanager
def vllm_serve(port: int, path: str) -> Iterator[None]:
    args = [
        sys.executable,
        "-m",
        "benchmarks.vllm_serve",
        "serve",
        path,
        "--port",
        str(port),
        "--served-model-name",
        MODEL,
        "--enforce-eager",
        "--dtype",
        "bfloat16",
        "--max-model-len",
        "2048",
        "--max-num-seqs",
        "128",
        "--max-num-batched-tokens",
        "2048",
        "--no-enable-prefix-caching",
    ]
    proc = subprocess.Popen(
        args,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=VLLM_ENV,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        yield
    finally:
        stop(proc)


def measure(
    servers: dict[str, tuple[str, str]], levels: list[int], requests: int, rounds: int
) -> dict[str, dict[int, Result]]:
    """Interleaved: each round measures every server at each level, alternating which goes
    first, so that drift on a shared 2-core machine hits both alike; the best round counts."""

    async def go() -> dict[str, dict[int, Result]]:
        for base, key in servers.values():
            await run(base, key, MODEL, concurrency=2, requests=4)  # warm-up, not measured
        best: dict[str, dict[int, Result]] = {name: {} for name in servers}
        for c in levels:
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    base, key = servers[name]
                    res = await run(base, key, MODEL, concurrency=c, requests=requests)
                    say(
                        f"  {name} c={c} round {r + 1}: {res.tokens_per_s:.1f} tok/s, "
                        f"{res.requests_per_s:.2f} req/s, TTFT p50 {res.ttft_p50:.0f} ms "
                        f"p99 {res.ttft(0.99):.0f} ms"
                    )
                    kept = best[name].get(c)
                    if kept is None or res.tokens_per_s > kept.tokens_per_s:
                        best[name][c] = res
        return best

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--levels", default="1,4,16,48")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    from voltcore.prepare import smollm2

    path = str(smollm2())
    with tempfile.TemporaryDirectory() as tmp:
        say("starting Spark (volt-admin run: auth, metering, audit on) and vllm serve")
        with spark(8311, Path(tmp)) as key, vllm_serve(8312, path):
            wait_http("http://127.0.0.1:8311/health/ready")
            results = measure(
                {
                    "Spark": ("http://127.0.0.1:8311", key),
                    "vllm serve": ("http://127.0.0.1:8312", "unused"),
                },
                levels,
                args.requests,
                args.rounds,
            )
    say("offline LLM.generate ceiling")
    out = subprocess.check_output(
        [
            sys.executable,
            "-m",
            "benchmarks.offline",
            path,
            str(args.requests),
            str(args.max_tokens),
        ],
        stderr=subprocess.DEVNULL,
        text=True,
        env=VLLM_ENV,
    )
    # vLLM logs to stdout too: the result is the one JSON line.
    offline = orjson.loads(next(line for line in out.splitlines() if line.startswith('{"tokens"')))
    ceiling = offline["tokens"] / offline["seconds"]
    say(f"  ceiling: {ceiling:.1f} tok/s")
    write_section(
        "spark_vs_vllm", report(results["Spark"], results["vllm serve"], ceiling, levels, args)
    )


def report(
    spark: dict[int, Result],
    vllm: dict[int, Result],
    ceiling: float,
    levels: list[int],
    args: argparse.Namespace,
) -> str:
    head = "| | " + " | ".join(f"c={c}" for c in levels) + " |\n|---|" + "---|" * len(levels)

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    rows = [
        row("Spark output tok/s", [f"{spark[c].tokens_per_s:.1f}" for c in levels]),
        row("`vllm serve` output tok/s", [f"{vllm[c].tokens_per_s:.1f}" for c in levels]),
        row(
            "**ratio Spark / vllm serve**",
            [f"**{spark[c].tokens_per_s / vllm[c].tokens_per_s:.2f}**" for c in levels],
        ),
        row("Spark req/s", [f"{spark[c].requests_per_s:.2f}" for c in levels]),
        row("`vllm serve` req/s", [f"{vllm[c].requests_per_s:.2f}" for c in levels]),
        row(
            "Spark TTFT p50 / p99 ms",
            [f"{spark[c].ttft_p50:.0f} / {spark[c].ttft(0.99):.0f}" for c in levels],
        ),
        row(
            "`vllm serve` TTFT p50 / p99 ms",
            [f"{vllm[c].ttft_p50:.0f} / {vllm[c].ttft(0.99):.0f}" for c in levels],
        ),
        row(
            "**ratio TTFT p50 Spark / vllm serve** (lower is better)",
            [f"**{spark[c].ttft_p50 / vllm[c].ttft_p50:.2f}**" for c in levels],
        ),
        row("Spark / offline ceiling", [f"{spark[c].tokens_per_s / ceiling:.0%}" for c in levels]),
    ]
    return f"""## Spark vs `vllm serve` (SmolLM2-135M-Instruct, CPU)

Streaming chat, {args.requests} requests of at most {args.max_tokens} tokens per concurrency level
(at c=48 all of them at once, as the offline ceiling runs them),
greedy, same prompts and client (`benchmarks/load.py`); both servers up at once, measured in
{args.rounds} interleaved rounds (alternating which goes first), best round of each kept.
Engine flags equal on both sides: eager, max_model_len 2048, max_num_seqs 128,
max_num_batched_tokens 2048, prefix caching off. Spark runs
as `make run` does: API-key auth, usage metering and audit on. Offline ceiling (`LLM.generate`,
all prompts at once): **{ceiling:.1f} tok/s**.

{head}
{chr(10).join(rows)}
"""


if __name__ == "__main__":
    main()
