"""Where fine-tuning's files and adapters live inside the artifact store (`Settings.artifacts`).

Paths in the database are relative to the store, so admin, the workers and Spark can each mount
it wherever they like.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path


def file_key(org_id: str, file_id: str) -> str:
    return f"files/{org_id}/{file_id}.jsonl"


def adapter_key(org_id: str, job_id: str) -> str:
    return f"adapters/{org_id}/{job_id}"


def staging(root: Path, key: str) -> Path:
    """A private temporary path next to `key`'s final place (same filesystem: rename is atomic)."""
    final = root / key
    final.parent.mkdir(parents=True, exist_ok=True)
    return final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")


def publish(root: Path, tmp: Path, key: str) -> Path:
    """Move a finished file or folder into place at once: readers never see half of it."""
    final = root / key
    remove(final)
    tmp.rename(final)
    return final


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
