"""README's SDK examples run as written, in their own processes, against the live services;
every CLI line it shows is a command the CLI accepts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO, Org
from tests.support.spark import Spark
from tests.volt.conftest import sync
from volt.cli import parser

SECTION = "### The Python SDK and the `volt` CLI"


def blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


async def test_sdk_examples_run(spark: Spark, org: Org) -> None:
    sync_example, async_example = blocks("python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLT_")}
    env |= {"VOLT_BASE_URL": spark.base, "VOLT_API_KEY": org.key}

    def run(code: str) -> str:
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

    text = await sync(run, sync_example)
    printed = text.splitlines()
    assert "Paris" in text
    # Model output may span lines: find what the example prints by its shape.
    assert re.search(r"^spark-test-0 \d+(\.\d+)?$", text, flags=re.MULTILINE), text
    assert any(line.startswith(org.key_id) and line.endswith(" active") for line in printed)
    assert printed[-1].startswith("model_not_found req_")

    printed = (await sync(run, async_example)).splitlines()
    assert "smollm2-135m-instruct" in printed[0] and float(printed[1]) > 0
    assert any(line.startswith("POST /v1/chat/completions 200") for line in printed[2:])


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
