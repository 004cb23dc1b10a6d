"""The fine-tuning jobs API against the live admin service (no worker runs here, so jobs stay
in `validating_files` until cancelled): creation, both path spellings, lists, events, cancel,
bad input naming the parameter, idempotency, and tenant isolation."""

from __future__ import annotations

from typing import Any

from tests.conftest import MakeOrg, Org
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, upload

SMOL = "smollm2-135m-instruct"
PATHS = ("/v1/fine-tuning/jobs", "/v1/fine_tuning/jobs")


async def _file(client: Client, org: Org) -> str:
    return str((await upload(client, org.key, FACT_DATA)).json()["id"])


async def _create(client: Client, org: Org, path: str = PATHS[0], **body: Any) -> Any:
    r = await client.post(path, key=org.key, json={"model": SMOL, **body})
    assert r.status == 202, r.body
    return r.json()


async def test_create_retrieve_list_events_cancel(client: Client, org: Org) -> None:
    file_id = await _file(client, org)
    job = await _create(
        client,
        org,
        training_file=file_id,
        suffix="mascot",
        hyperparameters={"n_epochs": 2, "batch_size": "auto"},
        lora={"rank": 4, "target_modules": ["q_proj", "v_proj"]},
    )
    assert job["id"].startswith("ftjob-") and job["object"] == "fine_tuning.job"
    assert job["status"] == "validating_files" and job["organization_id"] == org.id
    assert job["fine_tuned_model"] is None and job["error"] is None
    assert job["hyperparameters"] == {
        "n_epochs": 2,
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
    }
    assert job["lora"] == {
        "rank": 4,
        "alpha": 16.0,
        "dropout": 0.05,
        "target_modules": ["q_proj", "v_proj"],
    }
    # OpenAI's newer form reports the same values.
    assert job["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": job["hyperparameters"]},
    }
    assert isinstance(job["seed"], int)  # chosen when not given, so a rerun can reproduce
    other = await _create(client, org, PATHS[1], training_file=file_id, seed=7)
    assert other["seed"] == 7

    for path in PATHS:  # OpenAI's spelling serves the same jobs
        assert (await client.get(f"{path}/{job['id']}", key=org.key)).json() == job
        page = (await client.get(path, key=org.key, params={"limit": 1})).json()
        assert [j["id"] for j in page["data"]] == [other["id"]] and page["has_more"]
        rest = await client.get(path, key=org.key, params={"after": page["last_id"]})
        assert [j["id"] for j in rest.json()["data"]] == [job["id"]]
        events = (await client.get(f"{path}/{job['id']}/events", key=org.key)).json()
        assert [e["message"] for e in events["data"]] == [f"Validating training file: {file_id}"]

    # A file an open job uses cannot be deleted.
    r = await client.delete(f"/v1/files/{file_id}", key=org.key)
    r.expect_error(409, "file_in_use", "file_id")

    for j, path in ((job, PATHS[0]), (other, PATHS[1])):
        cancelled = await client.post(f"{path}/{j['id']}/cancel", key=org.key)
        assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["finished_at"] is not None
    again = await client.post(f"{PATHS[0]}/{job['id']}/cancel", key=org.key)
    again.expect_error(409, "job_not_cancellable", "job_id")
    events = (await client.get(f"{PATHS[0]}/{job['id']}/events", key=org.key)).json()
    assert events["data"][0]["message"] == "Job cancelled by request."
    first = await client.get(f"{PATHS[0]}/{job['id']}/events", key=org.key, params={"limit": 1})
    assert first.json()["has_more"]
    second = await client.get(
        f"{PATHS[0]}/{job['id']}/events",
        key=org.key,
        params={"limit": 1, "after": first.json()["last_id"]},
    )
    assert second.json()["data"][0]["message"].startswith("Validating")
    # Once no open job uses it, the file can go.
    assert (await client.delete(f"/v1/files/{file_id}", key=org.key)).status == 200


async def test_bad_input_is_a_400_naming_the_parameter(client: Client, make_org: MakeOrg) -> None:
    org, stranger = await make_org("A"), await make_org("B")
    file_id, strangers_file = await _file(client, org), await _file(client, stranger)
    ok = {"model": SMOL, "training_file": file_id}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"model": "gpt-99"}, "model", "model_not_found"),
        ({"model": "all-minilm-l6-v2"}, "model", "model_not_found"),
        ({"model": f"ft:{SMOL}:{org.id}::ftjob-x"}, "model", "model_not_found"),
        ({"training_file": strangers_file}, "training_file", "invalid_file"),
        ({"training_file": "file-doesnotexist"}, "training_file", "invalid_file"),
        ({"validation_file": strangers_file}, "validation_file", "invalid_file"),
        ({"hyperparameters": {"n_epoch": 3}}, "hyperparameters.n_epoch", "unknown_parameter"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs", "invalid_value"),
        ({"hyperparameters": {"n_epochs": "many"}}, "hyperparameters.n_epochs", None),
        ({"hyperparameters": {"batch_size": 1.5}}, "hyperparameters.batch_size", None),
        (
            {"hyperparameters": {"learning_rate_multiplier": -1}},
            "hyperparameters.learning_rate_multiplier",
            None,
        ),
        ({"lora": {"rank": 32}}, "lora.rank", "invalid_value"),
        ({"lora": {"target_modules": ["q_proj", "lm_head"]}}, "lora.target_modules[1]", None),
        ({"lora": {"target_modules": []}}, "lora.target_modules", None),
        ({"lora": {"dropout": 2}}, "lora.dropout", None),
        ({"suffix": "a:b"}, "suffix", None),
        ({"seed": -1}, "seed", None),
        ({"method": {"type": "dpo"}}, "method.type", "unsupported_value"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}},
            "method.supervised.hyperparameters.n_epochs",
            "invalid_value",
        ),
        (
            {
                "hyperparameters": {},
                "method": {"type": "supervised", "supervised": {"hyperparameters": {}}},
            },
            "hyperparameters",
            "conflicting_parameters",
        ),
        ({"training_file": None}, "training_file", None),
    ]
    for change, param, code in cases:
        r = await client.post(PATHS[1], key=org.key, json={**ok, **change})
        err = r.expect_error(400, code, param)
        assert param.split(".")[0].split("[")[0] in err["message"], err
    missing = await client.post(PATHS[0], key=org.key, json={"model": SMOL})
    missing.expect_error(400, "missing_required_parameter", "training_file")
    # Nothing was created by any of them.
    assert (await client.get(PATHS[0], key=org.key)).json()["data"] == []


async def test_idempotency_key_replays_the_job(client: Client, org: Org) -> None:
    file_id = await _file(client, org)
    body = {"model": SMOL, "training_file": file_id, "seed": 1}
    headers = {"Idempotency-Key": "job-1"}
    first = await client.post(PATHS[0], key=org.key, json=body, headers=headers)
    again = await client.post(PATHS[0], key=org.key, json=body, headers=headers)
    assert first.status == again.status == 202
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(PATHS[0], key=org.key)).json()["data"]) == 1


async def test_other_orgs_jobs_are_404(client: Client, make_org: MakeOrg) -> None:
    a, b = await make_org("A"), await make_org("B")
    job = await _create(client, a, training_file=await _file(client, a))
    for path in PATHS:
        for method, suffix in (("GET", ""), ("POST", "/cancel"), ("GET", "/events")):
            r = await client.request(method, f"{path}/{job['id']}{suffix}", key=b.key)
            r.expect_error(404, "not_found", "job_id")
        assert (await client.get(path, key=b.key)).json()["data"] == []
        (await client.get(path, key=b.key, params={"after": job["id"]})).expect_error(400)
    # A is untouched.
    assert (await client.get(f"{PATHS[0]}/{job['id']}", key=a.key)).json()["status"] == (
        "validating_files"
    )
