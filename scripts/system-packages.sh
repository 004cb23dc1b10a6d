#!/usr/bin/env bash
# Debian packages the project needs beyond Python wheels: libtss2-dev to build tpm2-pytss (the
# attestation agent's TPM bindings), swtpm, the software TPM the tests attest against, and
# Chromium, the headless browser the console tests drive (through playwright), and jq, which
# the examples `volt-admin run` prints use.
# Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(libtss2-dev swtpm swtpm-tools chromium jq)
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true)
missing=()
for p in "${PKGS[@]}"; do
    grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> installing Debian packages: ${missing[*]}" >&2
SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
"${SUDO[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
