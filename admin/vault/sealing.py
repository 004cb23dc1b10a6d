"""Secrets at rest (BMC admin passwords, Talos secrets bundles), sealed with Fernet
(authenticated AES) under keys from configuration. Several keys allow rotation: the first
seals, any opens, and `reseal` moves a value to the first."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealError(Exception):
    pass


class Sealer:
    """Usage: `s = Sealer([key])`; `token = s.seal(b"secret")`; `s.open(token) == b"secret"`."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SealError("Vault needs at least one secret key (VOLT_VAULT_SECRET_KEYS).")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as err:
            raise SealError(f"A Vault secret key is not a Fernet key: {err}") from None

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise SealError("Sealed data does not open with any configured key.") from None

    def seal_json(self, value: object) -> bytes:
        return self.seal(orjson.dumps(value))

    def open_json(self, token: bytes) -> object:
        return orjson.loads(self.open(token))

    def reseal(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


def new_key() -> str:
    return Fernet.generate_key().decode()
