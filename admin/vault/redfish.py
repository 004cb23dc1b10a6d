"""A rack node's BMC over Redfish, through sushy (OpenStack Ironic's Redfish library). Calls
block, so the reconciler runs them in a thread. Every action is idempotent, so that a retried
or resumed reconcile pass never power-cycles a node that already did what was asked.

sushy has no AccountService API, so accounts go through its connector as the Redfish spec
defines them: `POST /redfish/v1/AccountService/Accounts` and `DELETE` of the account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sushy
import sushy.auth
from sushy import exceptions as sushy_errors
from sushy.connector import Connector

ACCOUNTS = "/redfish/v1/AccountService/Accounts"


class BmcError(Exception):
    """A BMC failure with a stable code for the rack's `last_error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NodeObservation:
    system_id: str
    power_state: str | None
    boot_target: str | None
    boot_enabled: str | None

    @property
    def booted_for_provisioning(self) -> bool:
        return self.power_state == sushy.PowerState.ON.value and self.boot_target == "Pxe"


def _value(enum_or_none: object) -> str | None:
    return None if enum_or_none is None else str(getattr(enum_or_none, "value", enum_or_none))


def _observation(system_id: str, system: Any) -> NodeObservation:
    return NodeObservation(
        system_id,
        _value(system.power_state),
        _value(system.boot.target),
        _value(system.boot.enabled),
    )


class Bmc:
    """Usage: `bmc = Bmc(url, user, password)`; `bmc.ensure_provisioning_boot(system_id)`."""

    def __init__(self, url: str, username: str, password: str, *, verify: bool = True) -> None:
        # A short connect timeout: a BMC that is down should fail a pass, not stall it.
        self._conn = Connector(
            url.rstrip("/"), verify=verify, connect_timeout=5, default_request_timeout=30
        )
        try:
            self._root = sushy.Sushy(
                url.rstrip("/"),
                verify=verify,
                connector=self._conn,
                # Stateless: a session per reconcile pass would pile up on the BMC.
                auth=sushy.auth.BasicAuth(username, password),
            )
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def close(self) -> None:
        self._conn.close()

    def systems(self) -> list[str]:
        try:
            return [s.identity for s in self._root.get_system_collection().get_members()]
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def _system(self, system_id: str) -> Any:
        return self._root.get_system(f"/redfish/v1/Systems/{system_id}")

    def observe(self, system_id: str) -> NodeObservation:
        try:
            system = self._system(system_id)
            return _observation(system_id, system)
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def ensure_provisioning_boot(self, system_id: str, *, ask: bool = True) -> NodeObservation:
        """Network boot (PXE, once) into the installer, then power on. A node already on with
        PXE set is left alone; one that is on without it is not touched either, since power
        cycling a running node is a decision for an operator, not for a retry. With `ask`
        False a node that is off is only observed (a power-on asked for earlier is landing)."""
        try:
            system = self._system(system_id)
            if system.power_state != sushy.PowerState.ON and ask:
                if system.boot.target != sushy.BootSource.PXE:
                    system.set_system_boot_options(
                        sushy.BootSource.PXE, enabled=sushy.BootSourceOverrideEnabled.ONCE
                    )
                system.reset_system(sushy.ResetType.ON)
                system.refresh()
            return _observation(system_id, system)
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def power_off(self, system_id: str, *, ask: bool = True) -> NodeObservation:
        """Hard power off (the tenant's OS is not ours to shut down gracefully on release);
        `ask` as for `ensure_provisioning_boot`."""
        try:
            system = self._system(system_id)
            if system.power_state != sushy.PowerState.OFF and ask:
                system.reset_system(sushy.ResetType.FORCE_OFF)
                system.refresh()
            return _observation(system_id, system)
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def create_account(self, username: str, password: str, role: str) -> None:
        try:
            self._conn.post(
                ACCOUNTS,
                data={"UserName": username, "Password": password, "RoleId": role, "Enabled": True},
            )
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def delete_accounts(self, username: str) -> int:
        """Delete every account with this user name; idempotent (none left is success)."""
        deleted = 0
        try:
            members = self._conn.get(ACCOUNTS).json().get("Members", [])
            for member in members:
                uri = member["@odata.id"]
                try:
                    if self._conn.get(uri).json().get("UserName") == username:
                        self._conn.delete(uri)
                        deleted += 1
                except sushy_errors.ResourceNotFoundError:
                    continue  # deleted meanwhile
        except sushy_errors.SushyError as err:
            raise _translate(err) from None
        return deleted


def _translate(err: sushy_errors.SushyError) -> BmcError:
    if isinstance(err, sushy_errors.AccessError):
        return BmcError("bmc_auth_failed", "The BMC refused the credentials.")
    if isinstance(err, sushy_errors.ConnectionError):
        return BmcError("bmc_unreachable", "The BMC cannot be reached.")
    return BmcError("bmc_error", str(err).splitlines()[0][:300])
