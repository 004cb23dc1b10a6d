"""OpenAI's newer fine-tuning shapes through the official `openai` SDK against the live admin
service: jobs created with `method=` (and the 400s for what Volt does not train or cannot tell
apart), and `client.files.content(id)` returning the uploaded bytes exactly, only to their org."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest
import pytest_asyncio

from finetune import plan
from tests.conftest import MakeOrg, Org
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, example, upload
from voltcore.db import Pool

SMOL = "smollm2-135m-instruct"


@pytest_asyncio.fixture
async def sdk(client: Client, org: Org) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{client.base}/v1", api_key=org.key, max_retries=0
    ) as sdk:
        yield sdk


async def _file(sdk: openai.AsyncOpenAI) -> str:
    return (await sdk.files.create(file=("train.jsonl", FACT_DATA), purpose="fine-tune")).id


def _supervised(**hyperparameters: Any) -> Any:
    return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}


async def test_job_created_with_method(sdk: openai.AsyncOpenAI, pool: Pool) -> None:
    file_id = await _file(sdk)
    job = await sdk.fine_tuning.jobs.create(
        model=SMOL,
        training_file=file_id,
        method=_supervised(n_epochs=2, batch_size=4, learning_rate_multiplier=0.5),
    )
    assert job.status == "validating_files"
    expected = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}
    # The job reports both forms with the same values, as OpenAI does.
    assert job.method is not None and job.method.type == "supervised"
    assert job.method.supervised is not None
    assert job.method.supervised.hyperparameters is not None
    assert job.method.supervised.hyperparameters.model_dump(exclude_none=True) == expected
    assert job.hyperparameters.model_dump(exclude_none=True) == expected
    again = await sdk.fine_tuning.jobs.retrieve(job.id)
    assert again.method == job.method and again.hyperparameters == job.hyperparameters
    # What the worker plans from is the same as for top-level `hyperparameters`.
    stored = await pool.fetchval("SELECT hyperparameters FROM ft_jobs WHERE id = $1", job.id)
    assert stored == expected
    assert plan.resolve(stored, 8) == plan.Resolved(2, 4, 0.5)

    # `method` without hyperparameters: the defaults, or the top-level ones (no conflict).
    bare = await sdk.fine_tuning.jobs.create(
        model=SMOL,
        training_file=file_id,
        method={"type": "supervised"},
        hyperparameters={"n_epochs": 3},
    )
    assert bare.method is not None and bare.method.supervised is not None
    assert bare.method.supervised.hyperparameters is not None
    assert bare.method.supervised.hyperparameters.n_epochs == 3
    # A job created the older way reports `method` too.
    old = await sdk.fine_tuning.jobs.create(
        model=SMOL, training_file=file_id, hyperparameters={"batch_size": 2}
    )
    assert old.method is not None and old.method.supervised is not None
    assert old.method.supervised.hyperparameters is not None
    assert old.method.supervised.hyperparameters.batch_size == 2
    assert old.method.supervised.hyperparameters.n_epochs == "auto"


async def _rejected(sdk: openai.AsyncOpenAI, **body: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.fine_tuning.jobs.create(model=SMOL, **body)
    err = caught.value
    assert err.status_code == 400 and err.type == "invalid_request_error"
    assert isinstance(err.body, dict) and set(err.body) == {"message", "type", "param", "code"}
    return err


async def test_method_errors_name_the_parameter(sdk: openai.AsyncOpenAI) -> None:
    file_id = await _file(sdk)
    both = await _rejected(
        sdk,
        training_file=file_id,
        hyperparameters={"n_epochs": 2},
        method=_supervised(n_epochs=3),
    )
    assert (both.param, both.code) == ("hyperparameters", "conflicting_parameters")
    assert "method.supervised.hyperparameters" in both.message

    for kind in ("dpo", "reinforcement"):
        unsupported = await _rejected(
            sdk,
            training_file=file_id,
            method={"type": kind, kind: {"hyperparameters": {"n_epochs": 1}}},
        )
        assert (unsupported.param, unsupported.code) == ("method.type", "unsupported_value")
        assert f"'{kind}' is not supported" in unsupported.message
        assert "supervised" in unsupported.message

    cases: list[tuple[Any, str, str]] = [
        (_supervised(n_epochs=0), "method.supervised.hyperparameters.n_epochs", "invalid_value"),
        (
            _supervised(learning_rate_multiplier="fast"),
            "method.supervised.hyperparameters.learning_rate_multiplier",
            "invalid_value",
        ),
        (_supervised(beta=0.1), "method.supervised.hyperparameters.beta", "unknown_parameter"),
        ({"supervised": {}}, "method.type", "missing_required_parameter"),
        ({"type": "supervised", "dpo": {}}, "method.dpo", "invalid_value"),
        ({"type": "supervised", "sft": {}}, "method.sft", "unknown_parameter"),
    ]
    for method, param, code in cases:
        err = await _rejected(sdk, training_file=file_id, method=method)
        assert (err.param, err.code) == (param, code), (method, err.body)
        assert param in err.message, err.message
    # Nothing was created by any of them.
    assert [j async for j in sdk.fine_tuning.jobs.list()] == []


async def test_file_content_round_trip(sdk: openai.AsyncOpenAI, client: Client, org: Org) -> None:
    # Several 64 KiB chunks, non-ASCII text, CRLF line ends and no final newline: byte-exact.
    rows = [
        example(f"Frage {i}: wie heißt Volts Maskottchen?", "Ferro, ein Quokka 🦘")
        for i in range(2000)
    ]
    data = b"\r\n".join(orjson.dumps(r) for r in rows)
    assert len(data) > 3 * 65536
    uploaded = await sdk.files.create(file=("maskottchen.jsonl", data), purpose="fine-tune")
    content = await sdk.files.content(uploaded.id)
    assert content.content == data
    assert content.response.headers["content-type"] == "application/jsonl"

    # Through the spec-checking client too, with the headers the spec documents.
    r = await client.get(f"/v1/files/{uploaded.id}/content", key=org.key)
    assert r.status == 200 and r.body == data
    assert int(r.headers["content-length"]) == len(data)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="maskottchen.jsonl"'), disposition
    head = await client.request(
        "HEAD", f"/v1/files/{uploaded.id}/content", key=org.key, check_spec=False
    )
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(data)

    await sdk.files.delete(uploaded.id)
    with pytest.raises(openai.NotFoundError) as gone:
        await sdk.files.content(uploaded.id)
    assert (gone.value.param, gone.value.code) == ("file_id", "not_found")


async def test_file_content_is_404_for_another_org(client: Client, make_org: MakeOrg) -> None:
    owner, stranger = await make_org("Owner"), await make_org("Stranger")
    file_id = (await upload(client, owner.key, FACT_DATA)).json()["id"]
    async with openai.AsyncOpenAI(
        base_url=f"{client.base}/v1", api_key=stranger.key, max_retries=0
    ) as other:
        with pytest.raises(openai.NotFoundError) as theirs:
            await other.files.content(file_id)
        with pytest.raises(openai.NotFoundError) as missing:
            await other.files.content("file-doesnotexist")
    # Worded like a file that does not exist: nothing tells the stranger it does.
    assert isinstance(missing.value.body, dict)
    assert theirs.value.body == {
        k: v.replace("file-doesnotexist", file_id) if isinstance(v, str) else v
        for k, v in missing.value.body.items()
    }
    assert (theirs.value.param, theirs.value.code) == ("file_id", "not_found")
    r = await client.get(f"/v1/files/{file_id}/content", key=stranger.key)
    r.expect_error(404, "not_found", "file_id")
    # The owner still gets it.
    assert (await client.get(f"/v1/files/{file_id}/content", key=owner.key)).body == FACT_DATA
