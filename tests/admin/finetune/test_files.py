"""The Files API against the live admin service: upload, list, retrieve, delete, validation of
chat JSONL naming the first bad line, the size limit, and tenant isolation."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from admin.finetune.appkeys import FINETUNE_SETTINGS
from tests.conftest import MakeOrg, Org
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, example, jsonl, upload
from voltcore.config import Settings


async def test_upload_list_retrieve_delete(client: Client, org: Org, settings: Settings) -> None:
    r = await upload(client, org.key, FACT_DATA, filename="fact.jsonl")
    assert r.status == 200, r.body
    f = r.json()
    assert f["id"].startswith("file-")
    assert (f["object"], f["purpose"], f["status"]) == ("file", "fine-tune", "processed")
    assert f["bytes"] == len(FACT_DATA)
    assert f["filename"] == "fact.jsonl"
    stored = settings.artifacts / "files" / org.id / f"{f['id']}.jsonl"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(FACT_DATA).digest()

    assert (await client.get(f"/v1/files/{f['id']}", key=org.key)).json() == f
    second = (await upload(client, org.key, FACT_DATA)).json()
    page = (await client.get("/v1/files", key=org.key, params={"limit": 1})).json()
    assert [x["id"] for x in page["data"]] == [second["id"]] and page["has_more"]
    rest = await client.get(
        "/v1/files", key=org.key, params={"after": page["last_id"], "purpose": "fine-tune"}
    )
    assert [x["id"] for x in rest.json()["data"]] == [f["id"]]

    gone = await client.delete(f"/v1/files/{f['id']}", key=org.key)
    assert gone.json() == {"id": f["id"], "object": "file", "deleted": True}
    assert not stored.exists()
    (await client.get(f"/v1/files/{f['id']}", key=org.key)).expect_error(404, param="file_id")
    (await client.delete(f"/v1/files/{f['id']}", key=org.key)).expect_error(404)


async def test_bad_jsonl_names_the_first_bad_line(
    client: Client, org: Org, settings: Settings
) -> None:
    good = orjson.dumps(example("q", "a"))
    cases = [
        (good + b"\n{not json\n" + good, "line 2", "not valid JSON"),
        (good + b"\n" + good + b'\n{"prompt": "x"}', "line 3", "'prompt' is not supported"),
        (b'{"messages": [{"role": "user", "content": "only a question"}]}', "line 1", "assistant"),
        (b'{"messages": [{"role": "robot", "content": "x"}]}', "line 1", "messages[0].role"),
        (b'{"messages": [{"role": "user"}]}', "line 1", "messages[0].content is missing"),
        (b"[1, 2]", "line 1", "JSON object"),
        (b"\n\n", "line", "no examples"),
    ]
    for data, line, why in cases:
        r = await upload(client, org.key, data)
        err = r.expect_error(400, "invalid_file_format", "file")
        assert line in err["message"] and why in err["message"], (err["message"], data)
    # The training text itself is never echoed back.
    secret = b'{"messages": [{"role": "user", "content": "TOPSECRET"}], "x": 1}'
    assert b"TOPSECRET" not in (await upload(client, org.key, secret)).body
    # Nothing of the rejected uploads was kept.
    assert (await client.get("/v1/files", key=org.key)).json()["data"] == []
    assert not list((settings.artifacts / "files" / org.id).glob("*"))


async def test_bad_requests(client: Client, org: Org) -> None:
    (await upload(client, org.key, FACT_DATA, purpose="assistants")).expect_error(
        400, "invalid_value", "purpose"
    )
    (await upload(client, org.key, FACT_DATA, purpose=None)).expect_error(
        400, "missing_required_parameter", "purpose"
    )
    (await upload(client, org.key, FACT_DATA, extra={"colour": "red"})).expect_error(
        400, "unknown_parameter", "colour"
    )
    r = await client.post("/v1/files", key=org.key, json={"purpose": "fine-tune"})
    r.expect_error(400, "invalid_content_type")
    (await client.get("/v1/files", key=org.key, params={"purpose": "x"})).expect_error(
        400, param="purpose"
    )
    (await client.get("/v1/files", key=org.key, params={"after": "file-nope"})).expect_error(
        400, "invalid_cursor", "after"
    )


async def test_size_limit_is_413(
    client: Client, org: Org, admin_app: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 4096
    monkeypatch.setattr(admin_app[0][FINETUNE_SETTINGS], "max_file_bytes", limit)
    row = orjson.dumps(example("q" * 200, "a" * 200)) + b"\n"
    big = row * (limit // len(row) + 1)
    assert len(big) > limit
    (await upload(client, org.key, big)).expect_error(413, "payload_too_large", "file")
    assert (await client.get("/v1/files", key=org.key)).json()["data"] == []
    # Just under the limit is fine.
    ok = row * (limit // len(row))
    assert (await upload(client, org.key, ok)).status == 200


async def test_other_orgs_files_are_404(client: Client, make_org: MakeOrg) -> None:
    a, b = await make_org("A"), await make_org("B")
    f = (await upload(client, a.key, jsonl([example("q", "a")]))).json()
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/content")):
        r = await client.request(method, f"/v1/files/{f['id']}{suffix}", key=b.key)
        r.expect_error(404, "not_found", "file_id")
    assert (await client.get("/v1/files", key=b.key)).json()["data"] == []
    (await client.get("/v1/files", key=b.key, params={"after": f["id"]})).expect_error(400)
    assert (await client.get(f"/v1/files/{f['id']}", key=a.key)).status == 200
