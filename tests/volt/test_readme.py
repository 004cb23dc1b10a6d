"""README's SDK examples run as written, in their own processes, against the live services
(the `wait` example against Forge on a real kube-apiserver); every CLI line it shows is a
command the CLI accepts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO, MakeOrg, Org
from tests.support.forge import ForgeService
from tests.support.spark import Spark
from tests.volt.conftest import sync
from volt.cli import parser

SECTION = "### The Python SDK and the `volt` CLI"


def blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def run(code: str, base: str, key: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLT_")}
    env |= {"VOLT_BASE_URL": base, "VOLT_API_KEY": key}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_sdk_examples_run(spark: Spark, org: Org) -> None:
    sync_example, async_example, _ = blocks("python")

    text = await sync(run, sync_example, spark.base, org.key)
    printed = text.splitlines()
    assert "Paris" in text
    # Model output may span lines: find what the example prints by its shape.
    assert re.search(r"^spark-test-0 \d+(\.\d+)?$", text, flags=re.MULTILINE), text
    assert any(line.startswith(org.key_id) and line.endswith(" active") for line in printed)
    assert printed[-1].startswith("model_not_found req_")

    printed = (await sync(run, async_example, spark.base, org.key)).splitlines()
    assert "smollm2-135m-instruct" in printed[0] and float(printed[1]) > 0
    assert any(line.startswith("POST /v1/chat/completions 200") for line in printed[2:])


async def test_wait_example_runs(forge: ForgeService, make_org: MakeOrg) -> None:
    *_, wait_example = blocks("python")
    org = await make_org()
    printed = (await sync(run, wait_example, forge.api.base, org.key)).splitlines()
    assert printed[-3] == "active" and printed[-1] == "terminated"
    assert printed[-2].startswith("lease-")  # the lease's namespace
    assert set(printed[:-2]) <= {"pending", "provisioning", "active"}


def test_every_cli_line_parses() -> None:
    [commands] = blocks("sh")
    lines = [line.split("  #")[0].strip() for line in commands.splitlines() if line.strip()]
    assert len(lines) >= 15
    cli = parser()
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "volt"
        try:
            args = cli.parse_args(argv[1:])
        except SystemExit:  # argparse's way of refusing
            pytest.fail(f"README shows a command the CLI refuses: {line}")
        assert hasattr(args, "run"), line
