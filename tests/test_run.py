"""The README's run command end to end: `volt-admin run` on a fresh data directory brings up
embedded Postgres, the admin API and Spark on one URL, with local labs for Forge, Vault and
sign-in, and prints examples that work: every printed command (curl, the SDK, the CLI, kubectl)
runs here as printed, in order, for every product. The local OIDC provider signs the printed
user in to the console. A graceful stop flushes the audit buffer; a restart on the same
directory keeps every key and audit entry."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest

from lab.ports import free_port
from tests.support.admin_cli import audit_verify
from tests.support.idp import cookie_jar, sign_in

pytestmark = pytest.mark.slow

VENV_BIN = str(Path(sys.executable).parent)


@contextmanager
def volt_admin(command: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("a") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "admin", command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def curl(*args: str) -> dict[str, object]:
    out = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return orjson.loads(out.stdout)  # type: ignore[no-any-return]


def wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if curl(f"{base}/health/ready")["status"] == "ok":
                return
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    raise TimeoutError(base)


def read_until(proc: subprocess.Popen[str], done: str, timeout: float) -> str:
    """stdout up to the first line containing `done` (or that the lab failed)."""
    assert proc.stdout is not None
    text, deadline = "", time.monotonic() + timeout
    while done not in text:
        line = proc.stdout.readline()
        assert line, f"volt-admin run exited early:\n{text}"
        assert "lab: failed" not in line, text + line
        assert time.monotonic() < deadline, text
        text += line
    return text


def commands(text: str) -> list[str]:
    """The printed commands: lines indented by four spaces."""
    return [line[4:] for line in text.splitlines() if line.startswith("    ")]


def run_all(cmds: list[str], export: str, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Each command as printed, through bash, after the printed export; its stdout by command."""
    out = {}
    for cmd in cmds:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f"{export}\n{cmd}"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
        out[cmd] = done.stdout
    return out


async def console_as(base: str, user: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in(http, base, user)
        async with http.get(f"{base}/console") as page:
            assert page.status == 200
            return await page.text()


def test_run_prints_working_examples_for_every_product_and_restart_keeps_data(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "volt.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "VOLT_DATA_DIR": str(tmp_path / "data"),
        "VOLT_PORT": str(port),
        # Long enough that only the graceful-shutdown flush can store the audit entries.
        "VOLT_FLUSH_INTERVAL_S": "3600",
        "VOLT_MODELS_FILE": str(Path(__file__).parent / "inference" / "models-tiny.yaml"),
        # The CLI's saved sign-in, if any, is not ours. (HOME stays: ~/.cache/volt holds the
        # built Kubernetes and the converted models, which a fresh HOME would rebuild.)
        "VOLT_CONFIG_DIR": str(tmp_path / "config"),
    }
    for name in ("VOLT_DATABASE_URL", "VOLT_BASE_URL", "VOLT_API_KEY"):
        env.pop(name, None)
    started = time.monotonic()
    with volt_admin("run", env, log_path) as proc:
        banner = read_until(proc, "Ctrl-C stops Volt", timeout=600)
        up_s = time.monotonic() - started
        # The run command starts a fine-tuning worker too (sharing the embedded database).
        deadline = time.monotonic() + 60
        while '"worker started"' not in log_path.read_text():
            assert time.monotonic() < deadline, "no fine-tuning worker started"
            time.sleep(0.2)
        export = next(c for c in commands(banner) if c.startswith("export "))
        key = re.search(r"VOLT_API_KEY=(\S+)", export)[1]  # type: ignore[index]
        header = f"Authorization: Bearer {key}"
        me = curl(f"{base}/v1/me", "-H", header)

        # Forge's lab may still be starting: it says so, and everything else already works.
        forge = curl(f"{base}/health/ready")
        if "forge" in forge.get("starting", {}):  # type: ignore[operator]
            refused = subprocess.run(
                ["curl", "-s", "-i", f"{base}/v1/forge/availability", "-H", header],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert "forge_starting" in refused and "retry-after" in refused.lower(), refused

        # Forge's block is in the banner: its examples (a warm lab, ready first) or "starting".
        printed = [c for c in commands(banner) if not c.startswith("export ")]
        assert "Forge is ready" in banner or "Forge: GPU leases" in banner, banner
        outputs = run_all(printed, export, work, env)
        chat = orjson.loads(next(v for k, v in outputs.items() if "chat/completions" in k))
        assert chat["object"] == "chat.completion" and chat["volt"]["tier"] == "standard"
        listed = orjson.loads(next(v for k, v in outputs.items() if "api-keys" in k))
        assert listed["object"] == "list" and len(listed["data"]) == 1
        attested = next(v for k, v in outputs.items() if "attestation" in k)
        assert "pass" in attested.lower(), attested
        assert (work / "controlplane.yaml").read_text().startswith("version: v1alpha1")

        # The printed user signs in to the console through the local provider.
        user = re.search(r"sign in as the user '(\w+)'", banner)[1]  # type: ignore[index]
        page = asyncio.run(console_as(base, user))
        assert "Demo" in page

        # Forge's examples print once its lab is ready (before the banner, on a warm machine).
        forge_text = (
            ""
            if "kubectl --kubeconfig" in banner
            else read_until(proc, "kubectl --kubeconfig", timeout=900)
        )
        forge_s = time.monotonic() - started
        outputs = run_all(commands(forge_text), export, work, env)
        lease = orjson.loads((work / "lease.json").read_text())
        assert lease["status"] == "active"
        assert any(c["type"] == "Simulated" for c in lease["conditions"]), lease
        print(f"\nvolt-admin run: examples after {up_s:.0f} s, Forge's lab after {forge_s:.0f} s")
        assert stop(proc) == 0

    with volt_admin("serve", env, log_path) as proc:
        wait_ready(base)
        again = curl(f"{base}/v1/me", "-H", header)
        assert again == me
        logs = curl(f"{base}/v1/orgs/{me['org_id']}/audit-logs?limit=100", "-H", header)
        routes = [(e["method"], e["route"]) for e in logs["data"]]  # type: ignore[index,union-attr]
        assert ("GET", "/v1/orgs/{org_id}/api-keys") in routes
        assert ("POST", "/v1/forge/leases") in routes
        assert ("POST", "/v1/vault/racks") in routes
        assert stop(proc) == 0

    code, report = audit_verify(env)
    assert code == 0 and report["ok"] is True, report

    # Our logs are JSON lines with the request's route and status, and never a credential.
    # (vLLM's engine processes and native libraries print plain text of their own.)
    lines = [orjson.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
    access = [e for e in lines if e["logger"] == "volt.access"]
    assert {"request_id", "method", "route", "status", "duration_ms"} <= set(access[0])
    assert key not in log_path.read_text()
    assert "capital of France" not in log_path.read_text()  # prompts never reach the logs
