"""`volt forge ...` (GPU leases) and `volt vault ...` (dedicated racks)."""

from __future__ import annotations

import argparse
import os
import typing
from pathlib import Path
from typing import Any

from volt._client import Volt
from volt._constants import DEFAULT_WAIT_TIMEOUT_S
from volt.cli._output import Column, Output, timeout_options, wait_and_show, when
from volt.types.forge import Lease, LeaseStatus
from volt.types.vault import Rack, RackStatus

Subparsers = Any

AVAILABILITY_COLUMNS: list[Column] = [
    ("METRO", lambda a: a.metro),
    ("GPU TYPE", lambda a: a.gpu_type),
    ("TOTAL", lambda a: a.total_gpus),
    ("FREE", lambda a: a.available_gpus),
    ("LARGEST LEASE", lambda a: a.largest_lease_gpus),
    ("PRICE/GPU-HOUR", lambda a: f"{a.price_per_gpu_hour:.2f} {a.currency.upper()}"),
]
LEASE_COLUMNS: list[Column] = [
    ("ID", lambda x: x.id),
    ("STATUS", lambda x: x.status),
    ("GPUS", lambda x: f"{x.gpu_count}x {x.gpu_type}"),
    ("METRO", lambda x: x.metro),
    ("NAMESPACE", lambda x: x.namespace),
    ("CREATED", lambda x: when(x.created_at)),
    ("EXPIRES", lambda x: when(x.expires_at)),
    ("LAST ERROR", lambda x: x.last_error.code if x.last_error else None),
]
RACK_COLUMNS: list[Column] = [
    ("ID", lambda r: r.id),
    ("STATUS", lambda r: r.status),
    ("METRO", lambda r: r.metro),
    ("TYPE", lambda r: r.rack_type),
    ("COUNTRY", lambda r: r.country),
    ("NODES", lambda r: len(r.nodes)),
    ("ENDPOINT", lambda r: r.endpoint),
    ("CREATED", lambda r: when(r.created_at)),
    ("LAST ERROR", lambda r: r.last_error.code if r.last_error else None),
]


def _write(text: str, target: str | None, out: Output, what: str) -> None:
    if target is None:
        out.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = Path(target)
    # Credentials inside: readable by the owner only, from the moment the file exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    out.note(f"{what} written to {path}")


def _wait_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--wait", action="store_true", help=f"wait until the {what} is ready")
    timeout_options(p, DEFAULT_WAIT_TIMEOUT_S)


def availability(client: Volt, args: argparse.Namespace, out: Output) -> int:
    rows = client.forge.availability(metro=args.metro, gpu_type=args.gpu_type, count=args.count)
    out.items(rows.data, AVAILABILITY_COLUMNS)
    return 0


def lease_create(client: Volt, args: argparse.Namespace, out: Output) -> int:
    lease = client.forge.leases.create(
        gpu_type=args.gpu_type,
        gpu_count=args.gpu_count,
        metro=args.metro,
        duration_seconds=args.duration,
        idempotency_key=args.idempotency_key,
    )
    if not args.wait:
        out.item(lease, LEASE_COLUMNS)
        return 0
    return wait_and_show(lease, client.forge.leases.wait, "active", args, out, LEASE_COLUMNS)


def lease_wait(client: Volt, args: argparse.Namespace, out: Output) -> int:
    lease = client.forge.leases.retrieve(args.lease_id)
    return wait_and_show(lease, client.forge.leases.wait, args.until, args, out, LEASE_COLUMNS)


def lease_list(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.forge.leases.list(status=args.status, limit=100), LEASE_COLUMNS)
    return 0


def lease_get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.forge.leases.retrieve(args.lease_id), LEASE_COLUMNS)
    return 0


def lease_terminate(client: Volt, args: argparse.Namespace, out: Output) -> int:
    lease: Lease = client.forge.leases.terminate(args.lease_id)
    out.item(lease, LEASE_COLUMNS)
    return 0


def kubeconfig(client: Volt, args: argparse.Namespace, out: Output) -> int:
    minted = client.forge.leases.kubeconfig(args.lease_id)
    if out.json:
        out.data(minted)
    else:
        _write(minted.kubeconfig, args.output, out, f"kubeconfig for {minted.namespace}")
        out.note(f"The token expires at {when(minted.expires_at)} UTC.")
    return 0


def rack_create(client: Volt, args: argparse.Namespace, out: Output) -> int:
    rack = client.vault.racks.create(
        metro=args.metro,
        rack_type=args.rack_type,
        sovereignty=args.sovereignty,
        idempotency_key=args.idempotency_key,
    )
    if not args.wait:
        out.item(rack, RACK_COLUMNS)
        return 0
    return _wait_rack(client, rack, "ready", args, out)


def _wait_rack(
    client: Volt, rack: Rack, until: RackStatus, args: argparse.Namespace, out: Output
) -> int:
    # `failed` is not the end for a rack: the reconciler retries it, and the wait goes on.
    wait = client.vault.racks.wait
    return wait_and_show(rack, wait, until, args, out, RACK_COLUMNS, state=_rack_state)


def rack_wait(client: Volt, args: argparse.Namespace, out: Output) -> int:
    return _wait_rack(client, client.vault.racks.retrieve(args.rack_id), args.until, args, out)


def _rack_state(rack: Rack) -> str:
    if rack.status == "failed" and rack.last_error is not None:
        return f"failed ({rack.last_error.code}: {rack.last_error.message}), retrying"
    return rack.status


def rack_list(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.vault.racks.list(status=args.status, limit=100), RACK_COLUMNS)
    return 0


def rack_get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    rack: Rack = client.vault.racks.retrieve(args.rack_id)
    if out.json:
        out.data(rack)
        return 0
    out.item(rack, RACK_COLUMNS)
    out.line()
    out.items(
        rack.nodes,
        [
            ("NODE", lambda n: n.id),
            ("STATUS", lambda n: n.status),
            ("POWER", lambda n: n.power_state),
            ("BOOT", lambda n: n.boot_device),
        ],
    )
    return 0


def rack_release(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.vault.racks.release(args.rack_id), RACK_COLUMNS)
    return 0


def talos_config(client: Volt, args: argparse.Namespace, out: Output) -> int:
    text = client.vault.racks.talos_config(args.rack_id, role=args.role)
    _write(text, args.output, out, f"Talos {args.role} config")
    return 0


def attestation(client: Volt, args: argparse.Namespace, out: Output) -> int:
    report = client.vault.racks.attestation(args.rack_id, nonce=args.nonce)
    if out.json:
        out.data(report)
    else:
        out.line(f"{report.rack_id}: {report.verdict.upper()} (nonce {report.nonce})")
        for node in report.nodes:
            failed = [f"{name}: {c.reason}" for name, c in node.checks.items() if not c.ok]
            detail = "; ".join(failed) or node.error or "all checks pass"
            out.line(f"  {node.node_id}  {node.verdict}  {detail}")
    return 0 if report.verdict == "pass" else 1


def redfish_credentials(client: Volt, args: argparse.Namespace, out: Output) -> int:
    creds = client.vault.racks.redfish_credentials(args.rack_id, ttl_seconds=args.ttl)
    out.item(
        creds,
        [
            ("username", lambda c: c.username),
            ("password", lambda c: c.password),
            ("role", lambda c: c.role),
            ("expires", lambda c: when(c.expires_at)),
            ("BMCs", lambda c: [n.redfish_url for n in c.nodes]),
        ],
    )
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    forge = sub.add_parser("forge", help="GPU leases").add_subparsers(required=True)
    p = forge.add_parser("availability", parents=[common], help="free GPUs and prices")
    p.add_argument("--metro")
    p.add_argument("--gpu-type")
    p.add_argument("--count", type=int, help="only where a lease of this many GPUs fits")
    p.set_defaults(run=availability)
    p = forge.add_parser("kubeconfig", parents=[common], help="mint a lease's kubeconfig")
    p.add_argument("lease_id")
    p.add_argument("-o", "--output", help="write it to this file (0600) instead of stdout")
    p.set_defaults(run=kubeconfig)
    lease = forge.add_parser("lease", help="create, list, show, wait, terminate").add_subparsers(
        required=True
    )
    p = lease.add_parser("create", parents=[common], help="lease GPUs")
    p.add_argument("--gpu-type", required=True)
    p.add_argument("--gpu-count", type=int, required=True)
    p.add_argument("--metro", required=True)
    p.add_argument("--duration", type=int, required=True, metavar="SECONDS")
    p.add_argument("--idempotency-key")
    _wait_args(p, "lease")
    p.set_defaults(run=lease_create)
    p = lease.add_parser("list", parents=[common], help="your leases, newest first")
    p.add_argument("--status")
    p.set_defaults(run=lease_list)
    p = lease.add_parser("get", parents=[common], help="one lease")
    p.add_argument("lease_id")
    p.set_defaults(run=lease_get)
    p = lease.add_parser("terminate", parents=[common], help="end a lease")
    p.add_argument("lease_id")
    p.set_defaults(run=lease_terminate)
    p = lease.add_parser("wait", parents=[common], help="wait until a lease is active")
    p.add_argument("lease_id")
    p.add_argument("--until", choices=typing.get_args(LeaseStatus), default="active")
    timeout_options(p, DEFAULT_WAIT_TIMEOUT_S)
    p.set_defaults(run=lease_wait)

    vault = sub.add_parser("vault", help="dedicated racks").add_subparsers(required=True)
    rack = vault.add_parser("rack", help="reserve, list, wait, configure, attest").add_subparsers(
        required=True
    )
    p = rack.add_parser("create", parents=[common], help="reserve a whole rack")
    p.add_argument("--metro", required=True)
    p.add_argument("--rack-type", required=True)
    p.add_argument("--sovereignty", metavar="COUNTRY")
    p.add_argument("--idempotency-key")
    _wait_args(p, "rack")
    p.set_defaults(run=rack_create)
    p = rack.add_parser("list", parents=[common], help="your racks, newest first")
    p.add_argument("--status")
    p.set_defaults(run=rack_list)
    p = rack.add_parser("get", parents=[common], help="one rack and its nodes")
    p.add_argument("rack_id")
    p.set_defaults(run=rack_get)
    p = rack.add_parser("release", parents=[common], help="give a rack back")
    p.add_argument("rack_id")
    p.set_defaults(run=rack_release)
    p = rack.add_parser("wait", parents=[common], help="wait until a rack is ready")
    p.add_argument("rack_id")
    p.add_argument("--until", choices=typing.get_args(RackStatus), default="ready")
    timeout_options(p, DEFAULT_WAIT_TIMEOUT_S)
    p.set_defaults(run=rack_wait)
    p = rack.add_parser("talos-config", parents=[common], help="a Talos machine config")
    p.add_argument("rack_id")
    p.add_argument(
        "--role", choices=["controlplane", "worker", "talosconfig"], default="controlplane"
    )
    p.add_argument("-o", "--output", help="write it to this file (0600) instead of stdout")
    p.set_defaults(run=talos_config)
    p = rack.add_parser("attestation", parents=[common], help="verify measured boot")
    p.add_argument("rack_id")
    p.add_argument("--nonce", help="hex nonce to bind into the quotes")
    p.set_defaults(run=attestation)
    p = rack.add_parser("redfish-credentials", parents=[common], help="time-limited BMC access")
    p.add_argument("rack_id")
    p.add_argument("--ttl", type=int, metavar="SECONDS")
    p.set_defaults(run=redfish_credentials)
