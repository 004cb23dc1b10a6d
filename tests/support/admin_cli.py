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
