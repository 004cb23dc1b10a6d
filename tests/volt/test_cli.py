"""The `volt` console script as a real subprocess against the live services."""

from __future__ import annotations

import re
import time
from pathlib import Path

from aiohttp import web

from tests.conftest import Org
from tests.support.spark import SMOL, TINY, Spark
from tests.volt.conftest import RunVolt
from volt.credentials import Credentials, save_credentials


async def test_models(run_volt: RunVolt, spark: Spark, org: Org) -> None:
    models = (await run_volt("models", "--json", base=spark.base, key=org.key)).json()
    assert {TINY, SMOL} <= {m["id"] for m in models}
    assert (await run_volt("--json", "models", base=spark.base, key=org.key)).json() == models
    table = await run_volt("models", base=spark.base, key=org.key)
    assert table.code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "KIND", "CONTEXT", "OWNED", "BY"]
    assert any(r.split()[:3] == [SMOL, "chat", "2048"] for r in rows)


async def test_chat(run_volt: RunVolt, spark: Spark, org: Org) -> None:
    streamed = await run_volt(
        "chat", "-m", TINY, "--max-tokens", "4", "hi", base=spark.base, key=org.key
    )
    assert streamed.code == 0, streamed.stderr
    assert streamed.stdout.strip() and "[spark-test-0 fra1 standard: ttft" in streamed.stderr

    answered = await run_volt(
        "chat",
        "-m",
        SMOL,
        "--temperature",
        "0",
        "--max-tokens",
        "24",
        "--json",
        base=spark.base,
        key=org.key,
        stdin="What is the capital of France?",
    )
    reply = answered.json()
    assert "Paris" in reply["choices"][0]["message"]["content"]
    assert reply["volt"]["pod"] == "spark-test-0"


async def test_usage(run_volt: RunVolt, spark: Spark, org: Org) -> None:
    chat = ("chat", "-m", TINY, "--max-tokens", "3", "--no-stream", "x")
    assert (await run_volt(*chat, base=spark.base, key=org.key)).code == 0
    deadline = time.monotonic() + 10
    while True:  # usage is written in batches, off the request path
        page = (
            await run_volt("usage", "--json", "--group-by", "model", base=spark.base, key=org.key)
        ).json()
        results = [r for b in page["data"] for r in b["results"]]
        if results or time.monotonic() > deadline:
            break
    assert [(r["model"], r["output_tokens"]) for r in results] == [(TINY, 3)]
    table = await run_volt("usage", "--group-by", "model", base=spark.base, key=org.key)
    assert TINY in table.stdout and "REQUESTS" in table.stdout


async def test_keys(run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org) -> None:
    base = admin_app[1]
    made = (
        await run_volt("keys", "create", "ci", "--scope", "read", "--json", base=base, key=org.key)
    ).json()
    assert made["secret"].startswith("volt_sk_live_") and made["scopes"] == ["read"]
    listed = (await run_volt("keys", "list", "--json", base=base, key=org.key)).json()
    assert [k["id"] for k in listed] == [made["id"], org.key_id]
    assert all("secret" not in k for k in listed)
    table = await run_volt("keys", "list", base=base, key=org.key)
    assert made["redacted_value"] in table.stdout and made["secret"] not in table.stdout
    rotated = await run_volt("keys", "rotate", made["id"], base=base, key=org.key)
    assert rotated.code == 0 and "not shown again" in rotated.stderr
    new_id = re.search(r"^ID\s+(key_\S+)$", rotated.stdout, flags=re.MULTILINE)
    secret = re.search(r"^secret\s+(volt_sk_live_\S+)$", rotated.stdout, flags=re.MULTILINE)
    assert new_id and secret, rotated.stdout
    statuses = {
        k["id"]: k["status"]
        for k in (await run_volt("keys", "list", "--json", base=base, key=org.key)).json()
    }
    assert statuses[made["id"]] == "revoked" and statuses[new_id[1]] == "active"
    made = {"id": new_id[1], "secret": secret[1]}
    revoked = await run_volt("keys", "revoke", made["id"], base=base, key=org.key)
    assert revoked.code == 0 and "revoked" in revoked.stdout
    refused = await run_volt("whoami", base=base, key=made["secret"])
    assert refused.code == 1 and "request id req_" in refused.stderr
    assert "volt login" in refused.stderr and "Traceback" not in refused.stderr


async def test_saved_credentials_and_logout(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org, volt_env: dict[str, str]
) -> None:
    # An API key is a valid bearer token too: enough to show the CLI signs in from the file.
    path = Path(volt_env["VOLT_CONFIG_DIR"]) / "credentials.json"
    save_credentials(Credentials(base_url=admin_app[1], access_token=org.key), path)
    assert path.stat().st_mode & 0o777 == 0o600
    who = await run_volt("whoami")
    assert who.code == 0, who.stderr
    assert org.id in who.stdout and admin_app[1] in who.stdout
    out = await run_volt("logout")
    assert out.code == 0 and "Signed out" in out.stderr and not path.exists()
    gone = await run_volt("whoami", base=admin_app[1])
    assert gone.code == 1 and "volt login" in gone.stderr


async def test_unreachable_service(run_volt: RunVolt) -> None:
    out = await run_volt("models", base="http://127.0.0.1:9", key="volt_sk_live_x")
    assert out.code == 1 and "Connection error" in out.stderr and "127.0.0.1:9" in out.stderr
