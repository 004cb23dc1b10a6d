"""The validating admission webhook that the API server calls for Services and pods in lease
namespaces (admin/forge/admission.py holds the policy). It listens on its own TLS port because
the API server only calls webhooks over HTTPS, with the CA it was given in `caBundle`.

It needs no authentication: it only answers whether an object the caller already holds may be
written, and tells nothing about anyone else's."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from admin.forge.admission import refusal
from admin.forge.config import ForgeSettings
from admin.forge.plan import WEBHOOK_PATH
from voltcore.errors import InvalidRequest
from voltcore.http import errors_middleware, json_response

SETTINGS = web.AppKey("forge_webhook_settings", ForgeSettings)


@dataclass(frozen=True)
class WebhookTls:
    """The serving pair and the CA the API server verifies it with (its `caBundle`)."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # ssl loads a chain only from files: written to a private directory, read, removed.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            cert.write_bytes(self.cert_pem)
            key.touch(0o600)
            key.write_bytes(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx


def webhook_tls(settings: ForgeSettings) -> WebhookTls:
    """The operator's certificate when configured, else a fresh CA and a certificate for
    `webhook_host` (fine for one replica: the reconciler hands the API server this CA)."""
    files = (settings.webhook_cert_file, settings.webhook_key_file, settings.webhook_ca_file)
    if all(f is not None for f in files):
        cert, key, ca = (Path(f).read_bytes() for f in files if f is not None)
        return WebhookTls(cert, key, ca)
    return _lab_tls(settings.webhook_host)


def _lab_tls(host: str) -> WebhookTls:
    now = dt.datetime.now(dt.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None
    ) -> x509.CertificateBuilder:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("volt-forge-webhook-ca", ca_key, None).sign(ca_key, hashes.SHA256())
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    leaf = (
        build(host, key, ca.subject)
        .add_extension(x509.SubjectAlternativeName([san]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return WebhookTls(leaf.public_bytes(pem), key_pem, ca.public_bytes(pem))


async def review(request: web.Request) -> web.Response:
    """An AdmissionReview (admission.k8s.io/v1) in, the same with its `response` out."""
    try:
        body: Any = await request.json()
        req = body["request"]
        uid, kind, obj = str(req["uid"]), str(req["kind"]["kind"]), req.get("object") or {}
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest(
            "Expected an admission.k8s.io/v1 AdmissionReview.", param="request"
        ) from None
    settings = request.app[SETTINGS]
    reason = refusal(kind, obj, allow_external_services=settings.allow_external_services)
    response: dict[str, Any] = {"uid": uid, "allowed": reason is None}
    if reason is not None:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": reason}
    return json_response(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    )


@asynccontextmanager
async def serving(settings: ForgeSettings, tls: WebhookTls) -> AsyncIterator[None]:
    """Usage: `async with serving(settings, webhook_tls(settings)): ...`."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=4 * 1024**2)
    app[SETTINGS] = settings
    app.router.add_post(WEBHOOK_PATH, review)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, settings.webhook_host, settings.webhook_port, ssl_context=tls.context()
        )
        await site.start()
        yield
    finally:
        await runner.cleanup()
