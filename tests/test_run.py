"""The README's run command end to end: `volt-admin run` on a fresh data directory brings up
embedded Postgres, the admin API and Spark on one URL and prints requests that work; a graceful
stop flushes the audit buffer; a restart on the same directory keeps every key and audit entry."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from tests.support.admin_cli import audit_verify
from tests.support.ports import free_port

pytestmark = pytest.mark.slow


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
    return proc.wait(timeout=30)


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


def test_run_prints_a_working_request_and_restart_keeps_data(tmp_path: Path) -> None:
    log_path = tmp_path / "volt.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VOLT_DATA_DIR": str(tmp_path / "data"),
        "VOLT_PORT": str(port),
        # Long enough that only the graceful-shutdown flush can store the audit entries.
        "VOLT_FLUSH_INTERVAL_S": "3600",
        "VOLT_MODELS_FILE": str(Path(__file__).parent / "inference" / "models-tiny.yaml"),
    }
    env.pop("VOLT_DATABASE_URL", None)
    with volt_admin("run", env, log_path) as proc:
        assert proc.stdout is not None
        banner = ""
        while "-d '" not in banner:
            line = proc.stdout.readline()
            assert line, f"volt-admin run exited early: {banner}"
            banner += line
        # The run command starts a fine-tuning worker too (sharing the embedded database).
        deadline = time.monotonic() + 60
        while '"worker started"' not in log_path.read_text():
            assert time.monotonic() < deadline, "no fine-tuning worker started"
            time.sleep(0.2)
        # Run the printed examples as printed, through a shell.
        examples = re.findall(r"^  (curl .+?)(?=\n  curl|\n*\Z)", banner, re.M | re.S)
        assert len(examples) == 2, banner
        listed = orjson.loads(subprocess.check_output(["bash", "-c", examples[0]], timeout=30))
        assert listed["object"] == "list" and len(listed["data"]) == 1
        chat = orjson.loads(subprocess.check_output(["bash", "-c", examples[1]], timeout=60))
        assert chat["object"] == "chat.completion" and chat["volt"]["tier"] == "standard"
        header = re.search(r'-H "(Authorization: Bearer \S+)"', banner)[1]  # type: ignore[index]
        key = header.removeprefix("Authorization: Bearer ")
        me = curl(f"{base}/v1/me", "-H", header)
        assert stop(proc) == 0

    with volt_admin("serve", env, log_path) as proc:
        wait_ready(base)
        again = curl(f"{base}/v1/me", "-H", f"Authorization: Bearer {key}")
        assert again == me
        logs = curl(f"{base}/v1/orgs/{me['org_id']}/audit-logs", "-H", header)
        routes = [(e["method"], e["route"]) for e in logs["data"]]  # type: ignore[index,union-attr]
        assert ("GET", "/v1/orgs/{org_id}/api-keys") in routes
        assert ("GET", "/v1/me") in routes
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
