"""What can be checked before the first byte is a 400 before it, streamed or not; error bodies
name the pod that refused them. (A failure after a stream began, the engine dying, is in
test_engine_failure.py: it needs an engine of its own to kill.)"""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.conftest import Org
from tests.inference.conftest import TINY, Spark
from tests.support.client import Client

# xgrammar cannot compile this pattern; vLLM would find out only inside the engine.
BAD_SCHEMA = {"type": "object", "properties": {"a": {"type": "string", "pattern": "(unclosed"}}}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_schema_the_grammar_compiler_rejects_is_a_400_before_the_first_byte(
    spark: Spark, org: Org, stream: bool
) -> None:
    body = {
        "model": TINY,
        "max_tokens": 4,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "bad", "schema": BAD_SCHEMA},
        },
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{spark.base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {org.key}"},
        ) as resp,
    ):
        assert resp.status == 400
        assert resp.content_type == "application/json"  # not an event stream that fails later
        reply = orjson.loads(await resp.read())
    assert reply["error"]["param"] == "response_format", reply
    assert reply["error"]["code"] == "invalid_value"
    assert reply["volt"] == {"pod": "spark-test-0", "metro": "fra1", "tier": "standard"}


async def test_errors_before_authentication_still_name_the_pod(api: Client) -> None:
    r = await api.post("/v1/chat/completions", key="sk-volt-nonsense", json={})
    r.expect_error(401)
    assert r.json()["volt"] == {"pod": "spark-test-0", "metro": "fra1", "tier": None}
