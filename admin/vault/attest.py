"""The control plane's side of attestation (Keylime's verifier): challenge each node's agent
with a fresh nonce, enrol its attestation key on first contact unless the inventory pinned
one (only once credential activation proves it lives in a TPM whose EK certificate chains to
the operator's CA, see enrolment.py), and verify the quote with `attestation.verify`. Agents
that cannot be reached, answer nonsense or fail enrolment fail their node, never the
request."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import asyncpg
import orjson
from cryptography import x509

from admin.vault import enrolment, store
from admin.vault.attestation import Event, Quote, replay, verify
from admin.vault.store import PhysicalNode, PhysicalRack


class AgentError(Exception):
    pass


class AgentUnreachable(AgentError):
    pass


def parse_quote_json(data: Any) -> Quote:
    try:
        signature = base64.b64decode(data["signature"], validate=True)
        if len(signature) != 64:
            raise AgentError("signature: 64 bytes (ECDSA P-256 r||s) expected")
        return Quote(
            base64.b64decode(data["message"], validate=True),
            signature[:32],
            signature[32:],
            [
                Event(int(e["pcr"]), str(e["digest"]), str(e["description"]))
                for e in data["event_log"]
            ],
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise AgentError(f"the agent's quote is malformed: {err}") from None


async def _agent_call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> bytes:
    try:
        async with session.request(method, url, **kwargs) as response:
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        raise AgentUnreachable(
            f"the attestation agent cannot be reached ({type(err).__name__})"
        ) from None
    if response.status != 200:
        raise AgentError(f"the attestation agent answered HTTP {response.status}")
    return body


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AgentError("the agent's answer is not JSON") from None


def _b64_field(data: Any, field: str) -> bytes:
    try:
        return base64.b64decode(data[field], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise AgentError(f"the agent's '{field}' is missing or not base64") from None


async def enrol(
    session: aiohttp.ClientSession, base: str, cas: Sequence[x509.Certificate]
) -> bytes:
    """The agent's AK (PEM), once its TPM has activated a credential made for it to the EK
    its certificate names; AgentError saying why otherwise."""
    identity = _json(await _agent_call(session, "GET", f"{base}/v1/attestation-key"))
    try:
        ek = enrolment.verify_ek_certificate(
            _b64_field(identity, "ek_certificate"), cas, dt.datetime.now(dt.UTC)
        )
        ak = enrolment.parse_attestation_key(_b64_field(identity, "ak_public"))
        challenge = enrolment.make_challenge(ek, ak)
    except enrolment.EnrolmentRefused as err:
        raise AgentError(f"attestation key not enrolled: {err}") from None
    refused = AgentError(
        "attestation key not enrolled: the agent could not activate a credential for it with"
        " the TPM of its EK certificate (the key is not in that TPM)"
    )
    try:
        answer = await _agent_call(
            session,
            "POST",
            f"{base}/v1/activate-credential",
            json={
                "credential_blob": base64.b64encode(challenge.credential_blob).decode(),
                "encrypted_secret": base64.b64encode(challenge.encrypted_secret).decode(),
            },
        )
        secret = _b64_field(_json(answer), "secret")
    except AgentUnreachable:
        raise
    except AgentError:  # an error status or a malformed answer: no secret came back
        raise refused from None
    if not challenge.answered_by(secret):
        raise refused
    return ak.pem


async def attest_node(
    session: aiohttp.ClientSession,
    pool: asyncpg.Pool,
    node: PhysicalNode,
    nonce: bytes,
    reference: Mapping[int, set[str]],
    cas: Sequence[x509.Certificate] = (),
) -> dict[str, Any]:
    report: dict[str, Any] = {"node_id": node.id, "name": node.name, "verdict": "fail"}
    try:
        if node.agent_url is None:
            raise AgentError("the node has no attestation agent in the inventory")
        base = node.agent_url.rstrip("/")
        ak = node.ak_public_pem
        if ak is None:
            ak = (await enrol(session, base, cas)).decode()
            await store.enrol_ak(pool, node.id, ak)
            report["attestation_key_enrolled"] = True
        body = await _agent_call(session, "POST", f"{base}/v1/quote", json={"nonce": nonce.hex()})
        data = _json(body)
        quote = parse_quote_json(data)
    except AgentError as err:
        return {
            **report,
            "quote": None,
            "pcrs": {},
            "event_log": [],
            "checks": {},
            "error": str(err),
        }
    result = verify(quote, ak_public_pem=ak.encode(), nonce=nonce, reference=reference)
    return {
        **report,
        "verdict": "pass" if result.ok else "fail",
        "quote": {"message": data["message"], "signature": data["signature"]},
        "pcrs": {"sha256": {str(i): v.hex() for i, v in replay(quote.events).items()}},
        "event_log": data["event_log"],
        "checks": result.checks,
        "error": None,
    }


async def attest_rack(
    session: aiohttp.ClientSession,
    pool: asyncpg.Pool,
    physical: PhysicalRack,
    nonce: bytes,
    cas: Sequence[x509.Certificate] = (),
) -> list[dict[str, Any]]:
    nodes = await store.inventory_nodes(pool, physical.name)
    reference = physical.reference_values
    return list(
        await asyncio.gather(*(attest_node(session, pool, n, nonce, reference, cas) for n in nodes))
    )
