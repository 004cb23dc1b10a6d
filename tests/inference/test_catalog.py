"""`/v1/models` lists only what the caller's org tier allows; anything else is model_not_found."""

from __future__ import annotations

from tests.conftest import MakeOrg
from tests.inference.conftest import MINILM, SMOL, TINY
from tests.support.client import Client


async def test_catalog_follows_the_org_tier(api: Client, make_org: MakeOrg) -> None:
    standard, free = await make_org(tier="standard"), await make_org(tier="free")
    listed = (await api.get("/v1/models", key=standard.key)).json()
    assert {m["id"] for m in listed["data"]} == {TINY, SMOL, MINILM}
    assert listed["volt"]["tier"] == "standard"
    kinds = {m["id"]: m["kind"] for m in listed["data"]}
    assert kinds[MINILM] == "embedding" and kinds[SMOL] == "chat"

    free_listed = (await api.get("/v1/models", key=free.key)).json()
    assert [m["id"] for m in free_listed["data"]] == [TINY]
    assert free_listed["volt"]["tier"] == "free"

    one = (await api.get(f"/v1/models/{SMOL}", key=standard.key)).json()
    assert one["id"] == SMOL and one["max_model_len"] == 2048
    for path in (f"/v1/models/{SMOL}", "/v1/models/does-not-exist"):
        (await api.get(path, key=free.key)).expect_error(404, "model_not_found", "model")
    r = await api.post(
        "/v1/chat/completions",
        key=free.key,
        json={"model": SMOL, "messages": [{"role": "user", "content": "hi"}]},
    )
    r.expect_error(404, "model_not_found", "model")
    r = await api.post("/v1/embeddings", key=free.key, json={"model": MINILM, "input": "x"})
    r.expect_error(404, "model_not_found", "model")
