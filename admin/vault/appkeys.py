"""Vault's place in the admin app: its settings and, when an inventory is configured, the
`Vault` its routes use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from cryptography import x509

from admin.subsystems import Slot
from admin.vault.config import VaultSettings
from admin.vault.sealing import Sealer


@dataclass(frozen=True)
class Vault:
    settings: VaultSettings
    sealer: Sealer
    # The HTTP session that talks to node attestation agents.
    agents: aiohttp.ClientSession
    # Reconcile now rather than at the next tick (a rack was created or released, or an
    # account is due for deletion).
    wake: Callable[[], None]
    # The operator's EK CAs (settings.ek_ca_bundle, read once at start).
    ek_cas: tuple[x509.Certificate, ...] = ()


VAULT: web.AppKey[Slot[Vault]] = web.AppKey("vault", Slot)
VAULT_SETTINGS = web.AppKey("vault_settings", VaultSettings)
