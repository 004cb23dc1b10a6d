"""`volt-spark serve`: the inference data plane alone (scale-out; the embedded default runs it
inside `volt-admin run` on the same base URL).

Usage: `volt-spark serve`, `volt-spark prepare` (convert and cache the packaged models).
"""

from __future__ import annotations

import argparse
import sys

from voltcore import logs
from voltcore.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="volt-spark", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the OpenAI-compatible API")
    sub.add_parser("prepare", help="convert and cache the packaged models, with progress")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        from voltcore.prepare import main as prepare

        prepare()
        return 0
    from inference.app import create_app
    from inference.config import SparkSettings
    from voltcore.service import run

    settings = Settings(service_name="volt-spark")
    logs.configure(settings.log_level)
    run(create_app(settings, SparkSettings()), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
