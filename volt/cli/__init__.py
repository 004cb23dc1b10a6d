"""The `volt` command: sign in with the device flow, then Spark, Forge, Vault, files and
fine-tuning from a terminal; a command for every SDK method (tests/volt/test_cli_coverage.py
holds them to it). Human tables by default; `--json` for scripts.

Usage: `volt login`, `volt models`, `volt chat -m smollm2-135m-instruct "Hi"`,
`volt forge lease create --gpu-type h100-80gb --gpu-count 1 --metro fra1 --duration 3600 --wait`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Literal

from volt._client import Volt
from volt._exceptions import APIConnectionError, APIError, APIStatusError
from volt._version import __version__
from volt.cli import _billing, _embeddings, _files, _finetune, _infra, _ops, _spark, _tenancy
from volt.cli._login import LoginFailed, device_login
from volt.cli._output import Output
from volt.credentials import credentials_path, delete_credentials, load_credentials


def _common() -> argparse.ArgumentParser:
    # Accepted before or after the subcommand: `volt --json models` and `volt models --json`.
    # SUPPRESS keeps a subcommand's unset option from overwriting the top-level value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--base-url", default=argparse.SUPPRESS, help="default: $VOLT_BASE_URL")
    common.add_argument("--api-key", default=argparse.SUPPRESS, help="default: $VOLT_API_KEY")
    return common


def parser() -> argparse.ArgumentParser:
    common = _common()
    top = argparse.ArgumentParser(
        prog="volt", description="Volt from the command line.", parents=[_common()]
    )
    top.add_argument("--version", action="version", version=f"volt {__version__}")
    top.set_defaults(json=False, base_url=None, api_key=None)
    sub = top.add_subparsers(required=True, metavar="COMMAND")
    p = sub.add_parser("login", parents=[common], help="sign in (OAuth device flow)")
    p.add_argument("--scope", default="read write", help='default: "read write"')
    p.set_defaults(run=None, login=True)
    p = sub.add_parser("logout", parents=[common], help="forget the saved sign-in")
    p.set_defaults(run=None, logout=True)
    for module in (_spark, _embeddings, _tenancy, _billing, _infra, _files, _finetune, _ops):
        module.register(sub, common)
    return top


def logout(out: Output) -> int:
    """Revoke the saved sign-in on the server (its whole approval), then forget it. The file
    goes even when the server cannot be reached: signing out must always work locally."""
    saved = load_credentials()
    if saved is None:
        out.note("Not signed in.")
        return 0
    token = saved.refresh_token or saved.access_token
    hint: Literal["refresh_token", "access_token"] = (
        "refresh_token" if saved.refresh_token else "access_token"
    )
    try:
        with Volt(api_key="", base_url=saved.base_url, max_retries=1) as anonymous:
            anonymous.oauth.revoke(token, token_type_hint=hint)
    except APIError as e:
        out.note(f"warning: could not revoke the sign-in on {saved.base_url}: {e.message}")
    delete_credentials()
    out.note("Signed out.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script. Usage: `volt --help`."""
    args = parser().parse_args(argv)
    out = Output(json=args.json)
    try:
        if getattr(args, "logout", False):
            return logout(out)
        if getattr(args, "login", False):
            # An explicit empty key: the device flow must not use an API key from the env.
            with Volt(api_key="", base_url=args.base_url, credentials=None) as anonymous:
                device_login(anonymous, out, scope=args.scope)
            return 0
        with Volt(api_key=args.api_key, base_url=args.base_url) as client:
            return int(args.run(client, args, out))
    except LoginFailed as e:
        out.note(f"error: {e}")
        return 1
    except APIConnectionError as e:
        out.note(f"error: {e.message} ({e.request.url.scheme}://{e.request.url.netloc.decode()})")
        return 1
    except APIStatusError as e:
        detail = ", ".join(
            f"{k} {v}" for k, v in (("code", e.code), ("request id", e.request_id)) if v
        )
        out.note(f"error: {e.message}" + (f" ({detail})" if detail else ""))
        if e.status_code == 401:
            out.note(
                f"Sign in with `volt login` (saved to {credentials_path()}) or set VOLT_API_KEY."
            )
        return 1
    except APIError as e:
        out.note(f"error: {e.message}")
        return 1
    except TimeoutError as e:
        out.note(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
