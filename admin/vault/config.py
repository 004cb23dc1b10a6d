"""Vault's settings: the inventory file, the key that seals secrets at rest, prices, reconciler
pace."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class VaultSettings(BaseSettings):
    """Usage: `VaultSettings()` reads `VOLT_VAULT_*`; without an inventory Vault answers 503."""

    model_config = SettingsConfigDict(env_prefix="VOLT_VAULT_", extra="ignore")

    # The operator's racks, nodes and BMC admin credentials (YAML, see admin/vault/inventory.py).
    inventory: Path | None = None
    # Fernet keys (urlsafe base64, 32 bytes), newest first: the first seals, any of them opens,
    # so a key is rotated by prepending a new one. BMC passwords and Talos bundles need it.
    secret_keys: list[SecretStr] = Field(default_factory=list)
    # USD per rack-hour by rack type, locked in on the rack when it is reserved; a rack of a
    # type without a price is metered (`GET /v1/usage/racks`) but not charged.
    prices: dict[str, float] = Field(default_factory=lambda: {"gpu-8x-h100": 19.9})
    currency: str = "usd"
    reconcile_interval_s: float = 1.0
    # A failed rack is retried after retry_base_s, doubling per attempt up to retry_max_s.
    retry_base_s: float = 5.0
    retry_max_s: float = 300.0
    # How long a BMC is given to land a power change before it is asked again (real BMCs take
    # seconds to a minute; the emulator up to 11 s).
    power_wait_s: float = 30.0
    # Minted BMC accounts: the Redfish role (least privilege that can still power-cycle and
    # set boot devices) and the longest lifetime this deployment allows (at most a day).
    bmc_role: str = "Operator"
    max_credential_ttl_s: int = Field(86_400, ge=60, le=86_400)
    # The CAs that issue TPM endorsement-key certificates (PEM bundle: the TPM vendors' CAs,
    # each a trust anchor). An attestation key is enrolled on first use only once credential
    # activation proves it lives in a TPM certified by one of them; without a bundle only
    # keys the inventory pins are trusted.
    ek_ca_bundle: Path | None = None
    # Timeout for one call to a node's attestation agent.
    agent_timeout_s: float = 10.0
