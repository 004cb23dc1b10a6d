"""Structured JSON logs, one object per line. Callers pass fields through `extra=`; request and
response bodies are never among them."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # timestamps in UTC

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON. Usage: `configure(settings.log_level)`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log repeats ours in another format.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # pgserver narrates every initdb/pg_ctl call at INFO.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
