"""The SDK and CLI against the session's live services: `sdk` and `asdk` talk to the shared
Spark (admin + engines on one URL) with a fresh org's key; `run_volt` runs the real `volt`
console script in a subprocess.

The services run on the test's event loop, so a blocking call (the sync client, a
subprocess) must run in a thread: `await sync(sdk.models.list)`."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import orjson
import pytest
import pytest_asyncio

from tests.conftest import Org
from tests.support.spark import Spark
from volt import AsyncVolt, Volt

P = ParamSpec("P")
R = TypeVar("R")
VOLT = Path(sys.executable).with_name("volt")


def sync(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
    """Run a blocking call in a thread so the services on this loop can answer it."""
    return asyncio.to_thread(functools.partial(fn, *args, **kwargs))


@pytest_asyncio.fixture
async def sdk(spark: Spark, org: Org) -> AsyncIterator[Volt]:
    client = Volt(base_url=spark.base, api_key=org.key)
    yield client
    client.close()


@pytest_asyncio.fixture
async def asdk(spark: Spark, org: Org) -> AsyncIterator[AsyncVolt]:
    async with AsyncVolt(base_url=spark.base, api_key=org.key) as client:
        yield client


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return orjson.loads(self.stdout)


RunVolt = Callable[..., Awaitable[Ran]]


@pytest.fixture
def volt_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no key, a config dir of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLT_")}
    env["VOLT_CONFIG_DIR"] = str(tmp_path / "config")
    return env


@pytest.fixture
def run_volt(volt_env: dict[str, str]) -> RunVolt:
    """`await run_volt("models", "--json", base=..., key=...)`: the console script's exit
    code and output."""

    async def run(
        *args: str, base: str | None = None, key: str | None = None, stdin: str = ""
    ) -> Ran:
        env = dict(volt_env)
        if base is not None:
            env["VOLT_BASE_URL"] = base
        if key is not None:
            env["VOLT_API_KEY"] = key
        out = await sync(
            subprocess.run,
            [str(VOLT), *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return Ran(out.returncode, out.stdout, out.stderr)

    return run
