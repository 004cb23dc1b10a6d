"""`volt-finetune`: train queued fine-tuning jobs until stopped.

Usage: `volt-finetune` (runs until SIGTERM/SIGINT; a job in training goes back to the queue),
`volt-finetune --exit-when-idle` (drain the queue and exit, e.g. as a Kubernetes Job).
Database and artifact store come from the same `VOLT_*` settings as admin and Spark.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from finetune.config import FinetuneSettings
from finetune.worker import Worker
from voltcore import logs
from voltcore.config import Settings
from voltcore.lifecycle import open_database


async def _serve(settings: Settings, finetune: FinetuneSettings, exit_when_idle: bool) -> None:
    async with open_database(settings) as pool:
        worker = Worker(pool, settings, finetune)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run(exit_when_idle=exit_when_idle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="volt-finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--exit-when-idle", action="store_true", help="exit once no job is waiting")
    args = parser.parse_args(argv)
    settings = Settings(service_name="volt-finetune")
    logs.configure(settings.log_level)
    asyncio.run(_serve(settings, FinetuneSettings(), args.exit_when_idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
