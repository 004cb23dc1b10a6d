"""What `volt-admin run` (admin/embedded/) prints: where Volt is, the demo org's key, and
working examples for every product (curl, the SDK and the CLI). Every indented command line runs
as printed once the `export` line has run: tests/test_run.py runs them all, in order, from one
directory."""

from __future__ import annotations

import shlex

import orjson

from admin.bootstrap import Bootstrapped


def _json(body: object) -> str:
    return shlex.quote(orjson.dumps(body).decode())


def header(base: str, b: Bootstrapped) -> str:
    return (
        f"\nVolt is up at {base}\n"
        f"  org:     {b.org_id}  ({b.spiffe_id})\n"
        f"  API key: {b.api_key}  (shown once)\n\n"
        "The examples below assume this shell environment (the CLI and the SDK read it too):\n"
        f"    export VOLT_BASE_URL={base} VOLT_API_KEY={b.api_key}\n"
    )


def tenancy(org_id: str) -> str:
    return (
        "\nTenancy: keys, usage, limits\n"
        f"    curl -s $VOLT_BASE_URL/v1/orgs/{org_id}/api-keys "
        '-H "Authorization: Bearer $VOLT_API_KEY"\n'
        "    volt keys list\n"
        "    volt limits\n"
    )


def spark(model: str) -> str:
    chat = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 32,
    }
    sdk = (
        "import volt; r = volt.Volt().chat.completions.create("
        f"model={model!r}, messages=[{{'role': 'user', 'content': 'Say hello'}}], max_tokens=16); "
        "print(r.choices[0].message.content)"
    )
    return (
        "\nSpark: OpenAI-compatible inference\n"
        "    curl -s $VOLT_BASE_URL/v1/chat/completions "
        '-H "Authorization: Bearer $VOLT_API_KEY" '
        f"-H 'Content-Type: application/json' -d {_json(chat)}\n"
        f'    volt chat -m {model} "What is the capital of France?"\n'
        f"    python -c {shlex.quote(sdk)}\n"
    )


def signin(base: str, user: str, email: str) -> str:
    return (
        "\nSign-in: a local OIDC provider stands in for Okta, Entra ID or Google Workspace\n"
        f"  open {base}/console and sign in as the user {user!r} ({email}, admin of this org);\n"
        "  `volt login` prints a code to approve there, at Approve a device.\n"
    )


def vault(metro: str, rack_type: str) -> str:
    return (
        "\nVault: dedicated racks (a local lab: sushy-tools' Redfish emulator, software TPMs)\n"
        f"    volt vault rack create --metro {metro} --rack-type {rack_type} --wait --json "
        "> rack.json\n"
        "    volt vault rack get $(jq -r .id rack.json)\n"
        "    volt vault rack redfish-credentials $(jq -r .id rack.json) --json > bmc.json\n"
        "    curl -sf -u $(jq -r '.username + \":\" + .password' bmc.json) "
        "$(jq -r '.nodes[0].redfish_url' bmc.json)/redfish/v1/Systems\n"
        "    volt vault rack talos-config $(jq -r .id rack.json) --role controlplane "
        "-o controlplane.yaml\n"
        "    volt vault rack attestation $(jq -r .id rack.json)\n"
    )


def footer(data_dir: str) -> str:
    # The banner's last line: whoever reads it (a person, tests/test_run.py) knows it is whole.
    return f"\nCtrl-C stops Volt; its data stays in {data_dir} for the next run.\n"


FORGE_STARTING = (
    "\nForge: GPU leases (a local lab: a Kubernetes control plane with simulated GPU nodes)\n"
    "  starting; its examples follow once it is ready (GET /health/ready shows how far).\n"
)


def forge(metro: str, gpu_type: str) -> str:
    return (
        "\nForge is ready (a local lab: simulated GPU nodes, no GPUs attached)\n"
        "    volt forge availability\n"
        f"    volt forge lease create --gpu-type {gpu_type} --gpu-count 1 --metro {metro} "
        "--duration 3600 --wait --json > lease.json\n"
        "    volt forge kubeconfig $(jq -r .id lease.json) -o lease.kubeconfig\n"
        "    kubectl --kubeconfig lease.kubeconfig get pods\n"
    )
