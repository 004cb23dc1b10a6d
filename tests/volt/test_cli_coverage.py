"""The `volt` CLI covers the SDK: every public resource method has a command whose handler calls
it (or a stated reason it has none), checked by introspection so the CLI cannot fall behind;
then the commands added for that coverage, as real subprocesses against the live services,
their `--json` output equal to what the SDK returns."""

from __future__ import annotations

import asyncio
import dis
import inspect
import re
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.admin.vault.conftest import vault_lab
from tests.conftest import MakeOrg, Org
from tests.support.finetune import FACT_DATA
from tests.support.forge import H100, ForgeService
from tests.support.openapi import Spec
from tests.support.spark import MINILM, SMOL, TINY, Spark
from tests.volt.conftest import RunVolt, sync
from volt import Volt
from volt._resource import Resource, endpoint, paginated, streaming, waiter
from volt.cli import logout, parser
from volt.cli._login import device_login
from volt.types import AuditLog
from voltcore.config import Settings

# SDK method (its path from the client) -> a command line that calls it.
COMMANDS: dict[str, str] = {
    "chat.completions.create": f"chat -m {SMOL} --no-stream hi",
    "chat.completions.stream": f"chat -m {SMOL} hi",
    "completions.create": f"completions -m {SMOL} --no-stream hi",
    "completions.stream": f"completions -m {SMOL} hi",
    "responses.create": f"responses -m {SMOL} --no-stream hi",
    "responses.stream": f"responses -m {SMOL} hi",
    "embeddings.create": f"embeddings -m {MINILM} a cat",
    "models.list": "models",
    "models.retrieve": f"models get {SMOL}",
    "tokenizer.tokenize": f"tokenize -m {SMOL} hi",
    "tokenizer.detokenize": f"detokenize -m {SMOL} 1 2",
    "files.create": "files upload train.jsonl",
    "files.list": "files list",
    "files.retrieve": "files get file-1",
    "files.content": "files content file-1 -o out.jsonl",
    "files.delete": "files delete file-1",
    "fine_tuning.jobs.create": f"finetune create --model {SMOL} --training-file f",
    "fine_tuning.jobs.list": "finetune list",
    "fine_tuning.jobs.retrieve": "finetune get ftjob-1",
    "fine_tuning.jobs.wait": "finetune wait ftjob-1",
    "fine_tuning.jobs.cancel": "finetune cancel ftjob-1",
    "fine_tuning.jobs.list_events": "finetune events ftjob-1",
    "forge.availability": "forge availability",
    "forge.leases.create": "forge lease create --gpu-type g --gpu-count 1 --metro m --duration 60",
    "forge.leases.list": "forge lease list",
    "forge.leases.retrieve": "forge lease get lease_1",
    "forge.leases.terminate": "forge lease terminate lease_1",
    "forge.leases.wait": "forge lease wait lease_1",
    "forge.leases.kubeconfig": "forge kubeconfig lease_1",
    "vault.racks.create": "vault rack create --metro fra1 --rack-type r",
    "vault.racks.list": "vault rack list",
    "vault.racks.retrieve": "vault rack get rack_1",
    "vault.racks.wait": "vault rack wait rack_1",
    "vault.racks.release": "vault rack release rack_1",
    "vault.racks.redfish_credentials": "vault rack redfish-credentials rack_1",
    "vault.racks.talos_config": "vault rack talos-config rack_1",
    "vault.racks.attestation": "vault rack attestation rack_1",
    "me.retrieve": "whoami",
    "orgs.retrieve": "org",
    "orgs.limits.retrieve": "limits",
    "orgs.limits.update": "limits set --rpm 10",
    "api_keys.list": "keys list",
    "api_keys.create": "keys create ci",
    "api_keys.retrieve": "keys get key_1",
    "api_keys.revoke": "keys revoke key_1",
    "api_keys.rotate": "keys rotate key_1",
    "audit_logs.list": "audit-logs",
    "usage.list": "usage tokens",
    "usage.gpus.list": "usage gpus",
    "usage.racks.list": "usage racks",
    "costs.list": "usage costs",
    "oauth.device_code": "login",
    "oauth.token": "login",
    "oauth.revoke": "logout",
    "health.live": "health --live",
    "health.ready": "health",
}
# SDK methods with no command of their own, and why.
ONE_PAGE = "`volt usage` shows every page of the range (`list`); one page at a time is for programs"
EXCEPTIONS: dict[str, str] = {
    "usage.retrieve": ONE_PAGE,
    "usage.gpus.retrieve": ONE_PAGE,
    "usage.racks.retrieve": ONE_PAGE,
    "costs.retrieve": ONE_PAGE,
    "health.metrics": "Prometheus text for a scraper, not an account operation: curl /metrics",
    "health.openapi": "the API reference for tooling, not an account operation: curl /openapi.yaml",
}
KINDS = (endpoint, streaming, paginated, waiter)


def sdk_methods() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every public method of the client's resource tree, by its path (`forge.leases.wait`)."""

    def walk(prefix: str, resource: Resource[Any]) -> Iterator[tuple[str, Callable[..., Any]]]:
        for klass in type(resource).__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, KINDS) and not name.startswith("_"):
                    yield f"{prefix}{name}", value.fn
        for name, child in vars(resource).items():
            if isinstance(child, Resource) and not name.startswith("_"):
                yield from walk(f"{prefix}{name}.", child)

    client = Volt(api_key="volt_sk_live_x", base_url="http://127.0.0.1:9")
    try:
        for name, child in vars(client).items():
            if isinstance(child, Resource) and not name.startswith("_"):
                yield from walk(f"{name}.", child)
    finally:
        client.close()


def globals_called(code: CodeType) -> Iterator[str]:
    """The global names a function (its lambdas included) loads: the functions it may call."""
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_GLOBAL":
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from globals_called(const)


def reaches(fn: Callable[..., Any], method: str, seen: set[Any] | None = None) -> bool:
    """Whether `fn`, or a CLI function it calls, calls `<client>.<method>` (`client.usage.list`
    yes, `client.usage.gpus.list` no, for `usage.list`)."""
    seen = seen if seen is not None else set()
    seen.add(fn)
    if re.search(rf"(?<![\w.])\w+\.{re.escape(method)}(?![\w.])", inspect.getsource(fn)):
        return True
    called = (fn.__globals__.get(name) for name in globals_called(fn.__code__))
    return any(
        inspect.isfunction(f) and f.__module__.startswith("volt.cli") and f not in seen
        and reaches(f, method, seen)
        for f in called
    )  # fmt: skip


def handler(line: str) -> Callable[..., Any]:
    argv = shlex.split(line)
    try:
        args = parser().parse_args(argv)
    except SystemExit:  # argparse's way of refusing
        pytest.fail(f"the CLI refuses {argv}")
    if getattr(args, "login", False):
        return device_login
    if getattr(args, "logout", False):
        return logout
    run: Callable[..., Any] = args.run
    return run


def test_every_sdk_method_has_a_command() -> None:
    methods = dict(sdk_methods())
    assert len(methods) > 50  # the walk found the tree
    assert not set(COMMANDS) & set(EXCEPTIONS)
    missing = set(methods) - set(COMMANDS) - set(EXCEPTIONS)
    assert not missing, f"SDK methods with no CLI command (add one, or an exception): {missing}"
    assert not set(COMMANDS) - set(methods), "commands for methods the SDK no longer has"
    assert not set(EXCEPTIONS) - set(methods)
    for method, line in COMMANDS.items():
        assert reaches(handler(line), method), f"`volt {line}` never calls {method}"


def test_reaches_tells_methods_apart() -> None:
    # The check above would pass anything if the pattern matched loosely.
    assert reaches(handler("usage gpus"), "usage.list")  # one handler for every product
    assert not reaches(handler("usage gpus"), "usage.retrieve")
    assert not reaches(handler("chat -m m hi"), "completions.create")
    assert not reaches(handler("files list"), "fine_tuning.jobs.list")


# ------------------------------------------------------------------ admin-only commands


def dump(model: Any) -> Any:
    """What `--json` prints for an SDK object."""
    return model.model_dump(mode="json")


def ran_json(stdout: str) -> Any:
    """A command's `--json` output, whatever its exit code."""
    return orjson.loads(stdout)


async def test_files(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org, tmp_path: Path
) -> None:
    base, key = admin_app[1], org.key
    data = tmp_path / "mascot.jsonl"
    data.write_bytes(FACT_DATA)
    uploaded = await run_volt("files", "upload", str(data), "--json", base=base, key=key)
    made = uploaded.json()
    assert (made["filename"], made["bytes"], made["purpose"]) == (
        "mascot.jsonl",
        len(FACT_DATA),
        "fine-tune",
    )
    with Volt(base_url=base, api_key=key) as sdk:
        assert made == dump(await sync(sdk.files.retrieve, made["id"]))
        # Byte-exact, whatever the line ends: CRLF and no final newline.
        crlf = FACT_DATA.replace(b"\n", b"\r\n").rstrip()
        (tmp_path / "crlf.jsonl").write_bytes(crlf)
        other = await run_volt(
            "files", "upload", str(tmp_path / "crlf.jsonl"), "--filename", "windows.jsonl",
            base=base, key=key,
        )  # fmt: skip
        assert other.code == 0, other.stderr
        other_id = re.search(r"^ID\s+(file-\S+)$", other.stdout, flags=re.MULTILINE)
        assert other_id and "windows.jsonl" in other.stdout, other.stdout

        listed = (await run_volt("files", "list", "--json", base=base, key=key)).json()
        assert [f["id"] for f in listed] == [other_id[1], made["id"]]
        assert listed == [dump(f) for f in await sync(lambda: list(sdk.files.list()))]
        table = await run_volt("files", "list", "--purpose", "fine-tune", base=base, key=key)
        header, *rows = table.stdout.splitlines()
        assert header.split()[:4] == ["ID", "FILENAME", "BYTES", "PURPOSE"]
        assert rows[1].split()[:4] == [made["id"], "mascot.jsonl", str(len(FACT_DATA)), "fine-tune"]
        got = await run_volt("files", "get", made["id"], "--json", base=base, key=key)
        assert got.json() == made

        shown = await run_volt("files", "content", made["id"], base=base, key=key)
        assert shown.code == 0 and shown.stdout == FACT_DATA.decode()
        out = tmp_path / "back.jsonl"
        saved = await run_volt("files", "content", other_id[1], "-o", str(out), base=base, key=key)
        assert saved.code == 0 and f"{len(crlf)} bytes written" in saved.stderr
        assert out.read_bytes() == crlf == await sync(sdk.files.content, other_id[1])

        deleted = await run_volt("files", "delete", other_id[1], "--json", base=base, key=key)
        assert deleted.json() == {"id": other_id[1], "object": "file", "deleted": True}
    gone = await run_volt("files", "get", other_id[1], base=base, key=key)
    assert gone.code == 1 and "No such file" in gone.stderr and "request id req_" in gone.stderr
    gone = await run_volt("files", "content", other_id[1], base=base, key=key)
    assert gone.code == 1 and "No such file" in gone.stderr

    for bad, reason in ((tmp_path / "nope.jsonl", "no such file"), (tmp_path, "is a directory")):
        refused = await run_volt("files", "upload", str(bad), base=base, key=key)
        assert refused.code == 1 and reason in refused.stderr and str(bad) in refused.stderr
        assert "Traceback" not in refused.stderr
    wrong = await run_volt("files", "upload", str(data), "--purpose", "batch", base=base, key=key)
    assert wrong.code == 1 and "purpose" in wrong.stderr
    unwritable = await run_volt(
        "files", "content", made["id"], "-o", str(tmp_path / "no" / "dir"), base=base, key=key
    )
    assert unwritable.code == 1 and "cannot write" in unwritable.stderr


async def test_org_keys_limits_audit_and_health(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org
) -> None:
    base, key = admin_app[1], org.key
    with Volt(base_url=base, api_key=key) as sdk:
        shown = await run_volt("org", "--json", base=base, key=key)
        assert shown.json() == dump(await sync(sdk.orgs.retrieve))
        table = await run_volt("org", base=base, key=key)
        assert re.search(rf"^id\s+{org.id}$", table.stdout, flags=re.MULTILINE)
        assert re.search(r"^tier\s+standard$", table.stdout, flags=re.MULTILINE)

        one = await run_volt("keys", "get", org.key_id, "--json", base=base, key=key)
        assert one.json() == dump(await sync(sdk.api_keys.retrieve, org.key_id))
        table = await run_volt("keys", "get", org.key_id, base=base, key=key)
        assert re.search(rf"^ID\s+{org.key_id}$", table.stdout, flags=re.MULTILINE)
        assert re.search(r"^REPLACED BY\s+-$", table.stdout, flags=re.MULTILINE)
        unknown = await run_volt("keys", "get", "key_nope", base=base, key=key)
        assert unknown.code == 1 and "error: " in unknown.stderr
        assert "Traceback" not in unknown.stderr

        # `volt limits` alone is `volt limits get`.
        limits = await run_volt("limits", "--json", base=base, key=key)
        assert limits.json() == dump(await sync(sdk.orgs.limits.retrieve))
        assert (
            await run_volt("limits", "get", "--json", base=base, key=key)
        ).json() == limits.json()
        table = await run_volt("limits", base=base, key=key)
        assert table.stdout.split()[:5] == ["LIMIT", "VALUE", "CEILING", "SET", "BY"]

        # The log is written in batches, off the request path: wait for this test's requests.
        deadline = time.monotonic() + 10
        while len(await sync(lambda: list(sdk.audit_logs.list(limit=10)))) < 3:
            assert time.monotonic() < deadline, "no audit entries were written"
            await asyncio.sleep(0.1)
        newest = (await run_volt("audit-logs", "--limit", "3", "--json", base=base, key=key)).json()
        assert len(newest) == 3 and [e["seq"] for e in newest] == sorted(
            (e["seq"] for e in newest), reverse=True
        )
        later = {e.id: dump(e) for e in await sync(lambda: list(sdk.audit_logs.list(limit=100)))}
        assert all(AuditLog.model_validate(e) and later[e["id"]] == e for e in newest)
        table = await run_volt("audit-logs", "--limit", "2", base=base, key=key)
        header, *rows = table.stdout.splitlines()
        assert header.split()[:3] == ["TIME", "PRINCIPAL", "METHOD"] and len(rows) == 2
        zero = await run_volt("audit-logs", "--limit", "0", base=base, key=key)
        assert zero.code == 2 and "1 or more" in zero.stderr

        ready = await run_volt("health", "--json", base=base)  # no credentials needed
        assert ready.json() == dump(await sync(sdk.health.ready)) and ready.json()["status"] == "ok"
        table = await run_volt("health", base=base)
        assert f"{base}: ok" in table.stdout and re.search(r"^database\s+ok$", table.stdout, re.M)
        live = await run_volt("health", "--live", "--json", base=base)
        assert live.json() == dump(await sync(sdk.health.live))
    down = await run_volt("health", base="http://127.0.0.1:9")
    assert down.code == 1 and "Connection error" in down.stderr


async def test_finetune_wait(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org
) -> None:
    base, key = admin_app[1], org.key
    with Volt(base_url=base, api_key=key) as sdk:
        uploaded = await sync(sdk.files.create, file=FACT_DATA, filename="train.jsonl")
        # No worker trains here: a cancelled job is one that has ended.
        job = await sync(sdk.fine_tuning.jobs.create, model=SMOL, training_file=uploaded.id)
        await sync(sdk.fine_tuning.jobs.cancel, job.id)
        ended = await sync(sdk.fine_tuning.jobs.retrieve, job.id)
    wait = ("finetune", "wait", job.id, "--poll-interval", "0.1", "--timeout", "10")
    # It ended, but not in success: the job is shown, and the exit code says so.
    failed = await run_volt(*wait, "--json", base=base, key=key)
    assert failed.code == 1 and ran_json(failed.stdout) == dump(ended)
    assert f"{job.id}: cancelled" in failed.stderr
    reached = await run_volt(*wait, "--until", "cancelled", "--json", base=base, key=key)
    assert reached.json() == dump(ended)
    never = await run_volt(*wait, "--until", "succeeded", base=base, key=key)
    assert never.code == 1 and "cancelled" in never.stderr and "Traceback" not in never.stderr
    assert re.search(r"^STATUS\s+cancelled$", never.stdout, flags=re.MULTILINE)


# ------------------------------------------------------------------ Spark's engines


async def test_models_get(run_volt: RunVolt, spark: Spark, org: Org, sdk: Volt) -> None:
    got = (await run_volt("models", "get", SMOL, "--json", base=spark.base, key=org.key)).json()
    # The one model comes with the `volt` block of its own request (its timing differs per
    # request); the list, with none.
    model = {k: v for k, v in got.items() if k != "volt"}
    retrieved = dump(await sync(sdk.models.retrieve, SMOL))
    assert model == {k: v for k, v in retrieved.items() if k != "volt"}
    assert got["volt"]["tier"] == retrieved["volt"]["tier"] == "standard"
    listed = (await run_volt("models", "list", "--json", base=spark.base, key=org.key)).json()
    assert model in listed
    table = await run_volt("models", "get", MINILM, base=spark.base, key=org.key)
    assert re.search(r"^KIND\s+embedding$", table.stdout, flags=re.MULTILINE)
    unknown = await run_volt("models", "get", "nope", base=spark.base, key=org.key)
    assert unknown.code == 1 and "model_not_found" in unknown.stderr


async def test_completions(run_volt: RunVolt, spark: Spark, org: Org, sdk: Volt) -> None:
    streamed = await run_volt(
        "completions", "-m", TINY, "--max-tokens", "4", "hi", base=spark.base, key=org.key
    )
    assert streamed.code == 0, streamed.stderr
    assert streamed.stdout.strip() and "[spark-test-0 fra1 standard: ttft" in streamed.stderr

    args = ("completions", "-m", SMOL, "--temperature", "0", "--max-tokens", "8")
    prompt = "The capital of France is"
    whole = (await run_volt(*args, "--json", base=spark.base, key=org.key, stdin=prompt)).json()
    same = await sync(
        sdk.completions.create, model=SMOL, prompt=prompt, temperature=0, max_tokens=8
    )
    assert whole["object"] == "text_completion" and whole["volt"]["pod"] == "spark-test-0"
    assert whole["choices"][0]["text"] == same.choices[0].text
    assert whole["usage"] == dump(same.usage)
    assert set(whole) == set(dump(same))
    plain = await run_volt(*args, "--no-stream", prompt, base=spark.base, key=org.key)
    assert plain.stdout == same.choices[0].text + "\n" and "total" in plain.stderr
    # Streamed, the same greedy text arrives in pieces.
    pieces = await run_volt(*args, prompt, base=spark.base, key=org.key)
    assert pieces.stdout == same.choices[0].text + "\n"


async def test_responses(run_volt: RunVolt, spark: Spark, org: Org, sdk: Volt) -> None:
    args = ("responses", "-m", SMOL, "--temperature", "0", "--max-tokens", "24")
    france = "What is the capital of France?"
    whole = (await run_volt(*args, "--json", france, base=spark.base, key=org.key)).json()
    same = await sync(
        sdk.responses.create, model=SMOL, input=france, temperature=0, max_output_tokens=24
    )
    assert whole["object"] == "response" and set(whole) == set(dump(same))
    assert (
        whole["output"][0]["content"][0]["text"] == same.output_text and "Paris" in same.output_text
    )
    streamed = await run_volt(*args, france, base=spark.base, key=org.key)
    assert streamed.stdout == same.output_text + "\n"
    assert "[spark-test-0 fra1 standard: ttft" in streamed.stderr


async def test_embeddings(run_volt: RunVolt, spark: Spark, org: Org, sdk: Volt) -> None:
    texts = ["a cat", "a dog"]
    made = (
        await run_volt("embeddings", "-m", MINILM, *texts, "--json", base=spark.base, key=org.key)
    ).json()
    same = await sync(sdk.embeddings.create, model=MINILM, input=texts)
    assert [len(e["embedding"]) for e in made["data"]] == [384, 384]  # MiniLM-L6's dimension
    assert made["usage"] == dump(same.usage) and made["model"] == MINILM
    for ours, theirs in zip(made["data"], same.data, strict=True):
        assert ours["embedding"] == pytest.approx(theirs.embedding, abs=1e-5)

    # One input per line of stdin; the table shows each vector's size, the usage on stderr.
    table = await run_volt(
        "embeddings", "-m", MINILM, base=spark.base, key=org.key, stdin="a cat\n\na dog\n"
    )
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["INDEX", "DIMENSIONS", "EMBEDDING"]
    assert [r.split()[:2] for r in rows] == [["0", "384"], ["1", "384"]]
    assert f"{same.usage.prompt_tokens} prompt tokens" in table.stderr
    packed = await run_volt(
        "embeddings",
        "-m",
        MINILM,
        "--encoding-format",
        "base64",
        "a cat",
        base=spark.base,
        key=org.key,
    )
    assert packed.stdout.splitlines()[1].split()[:2] == ["0", "384"]

    nothing = await run_volt("embeddings", "-m", MINILM, base=spark.base, key=org.key, stdin="\n")
    assert nothing.code == 1 and "nothing to embed" in nothing.stderr
    wrong = await run_volt("embeddings", "-m", SMOL, "a cat", base=spark.base, key=org.key)
    assert wrong.code == 1 and "error: " in wrong.stderr and "Traceback" not in wrong.stderr


async def test_tokenize_and_detokenize(
    run_volt: RunVolt, spark: Spark, org: Org, sdk: Volt
) -> None:
    text = "What is the capital of France?"
    made = (
        await run_volt("tokenize", "-m", SMOL, text, "--json", base=spark.base, key=org.key)
    ).json()
    same = await sync(sdk.tokenizer.tokenize, model=SMOL, prompt=text)
    assert made["tokens"] == same.tokens and made["count"] == len(same.tokens)
    plain = await run_volt("tokenize", "-m", SMOL, text, base=spark.base, key=org.key)
    assert plain.stdout.split() == [str(t) for t in same.tokens]
    assert f"{same.count} tokens, of a context of 2048" in plain.stderr
    strings = await run_volt(
        "tokenize", "-m", SMOL, "--strings", text, base=spark.base, key=org.key
    )
    assert strings.stdout.splitlines()[0].split() == ["ID", "TOKEN"]
    chat = (
        await run_volt(
            "tokenize", "-m", SMOL, "--chat", text, "--json", base=spark.base, key=org.key
        )
    ).json()
    assert chat["count"] > same.count  # the chat template's tokens too

    ids = [str(t) for t in same.tokens]
    back = await run_volt("detokenize", "-m", SMOL, *ids, base=spark.base, key=org.key)
    theirs = await sync(sdk.tokenizer.detokenize, model=SMOL, tokens=same.tokens)
    assert back.code == 0 and back.stdout == theirs.prompt + "\n" and text in theirs.prompt
    whole = (
        await run_volt("detokenize", "-m", SMOL, *ids, "--json", base=spark.base, key=org.key)
    ).json()
    assert whole["prompt"] == theirs.prompt and set(whole) == set(dump(theirs))
    bad = await run_volt("detokenize", "-m", SMOL, "one", base=spark.base, key=org.key)
    assert bad.code == 2 and "invalid int value" in bad.stderr


# ------------------------------------------------------------------ Forge (a real kube-apiserver)


@pytest.mark.slow
async def test_lease_wait(forge: ForgeService, make_org: MakeOrg, run_volt: RunVolt) -> None:
    org = await make_org()
    base, key = forge.api.base, org.key
    create = ("forge", "lease", "create", "--gpu-type", H100, "--gpu-count", "1")
    lease = (
        await run_volt(
            *create, "--metro", "fra1", "--duration", "600", "--json", base=base, key=key
        )
    ).json()
    wait = ("forge", "lease", "wait", lease["id"], "--poll-interval", "0.2", "--timeout", "60")
    try:
        active = await run_volt(*wait, "--json", base=base, key=key)
        assert active.json()["status"] == "active" and active.json()["id"] == lease["id"]
        assert f"{lease['id']}: active" in active.stderr
    finally:
        ended = await run_volt("forge", "lease", "terminate", lease["id"], base=base, key=key)
        assert ended.code == 0, ended.stderr
    # Terminated while waiting for active: it can never get there, and the exit code says so.
    never = await run_volt(*wait, base=base, key=key)
    assert never.code == 1 and "error: " in never.stderr and "Traceback" not in never.stderr
    gone = await run_volt(*wait, "--until", "terminated", "--json", base=base, key=key)
    with Volt(base_url=base, api_key=key) as sdk:
        assert gone.json() == dump(await sync(sdk.forge.leases.retrieve, lease["id"]))


# ------------------------------------------------------------------ Vault (a Vault lab)


@pytest.mark.slow
async def test_rack_wait(
    tmp_path: Path, settings: Settings, spec: Spec, make_org: MakeOrg, run_volt: RunVolt
) -> None:
    async with vault_lab(tmp_path, settings, spec) as lab:
        org = await make_org(tier="enterprise")
        base, key = lab.api.base, org.key
        create = ("vault", "rack", "create", "--metro", "fra1", "--rack-type", "gpu-8x-h100")
        rack = (await run_volt(*create, "--json", base=base, key=key)).json()
        assert rack["status"] == "requested"
        wait = ("vault", "rack", "wait", rack["id"], "--poll-interval", "0.2", "--timeout", "120")
        ready = await run_volt(*wait, "--json", base=base, key=key)
        with Volt(base_url=base, api_key=key) as sdk:
            assert ready.json() == dump(await sync(sdk.vault.racks.retrieve, rack["id"]))
        assert ready.json()["status"] == "ready" and f"{rack['id']}: ready" in ready.stderr
        # A rack already there: the wait ends at once.
        again = await run_volt(*wait[:4], "--json", base=base, key=key)
        assert again.json()["status"] == "ready"
        released = await run_volt("vault", "rack", "release", rack["id"], base=base, key=key)
        assert released.code == 0, released.stderr
        short = await run_volt(*wait[:4], "--timeout", "0.5", base=base, key=key)
        # Released (or releasing), it is not ready again: the wait says so and fails.
        assert short.code == 1 and "error: " in short.stderr and "Traceback" not in short.stderr
