"""Running `volt-admin` as an operator would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson


def audit_verify(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """`volt-admin audit verify`: its exit code and the JSON report it prints last."""
    out = subprocess.run(
        [sys.executable, "-m", "admin", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip(), out.stderr
    return out.returncode, orjson.loads(out.stdout.strip().splitlines()[-1])


def volt_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`volt-admin ARGS...` as it ran: exit code, stdout, stderr."""
    return subprocess.run(
        [sys.executable, "-m", "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def limits(env: dict[str, str], org_id: str, *options: str) -> dict[str, Any]:
    """`volt-admin limits ORG_ID [--rpm N|default] [--tpm N|default] --json`: the org's limits
    it prints (it must succeed)."""
    out = volt_admin(env, "limits", org_id, *options, "--json")
    assert out.returncode == 0, out.stderr
    return orjson.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
