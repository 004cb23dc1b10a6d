"""Pure: the roles a console user holds, and the scopes each role's session acts with."""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "member"]

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write"}),
    "member": frozenset({"read"}),
}
