"""A rack node's BMC over Redfish, through sushy (OpenStack Ironic's Redfish library). Calls
block, so the reconciler runs them in a thread. Every action is idempotent, so that a retried
or resumed reconcile pass never power-cycles a node that already did what was asked.

sushy has no AccountService API, so accounts go through its connector as the Redfish spec
defines them: `POST /redfish/v1/AccountService/Accounts` and `DELETE` of the account."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
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
        self._conn.set_http_basic_auth(username, password)
        self._url, self._verify = url.rstrip("/"), verify
        self._auth = (username, password)
        self._sushy: sushy.Sushy | None = None

    @property
    def _root(self) -> sushy.Sushy:
        """Opened on first use (it reads the service root): account calls need only the
        connector, which halves the requests a release sweep makes of each BMC."""
        if self._sushy is None:
            self._sushy = sushy.Sushy(
                self._url,
                verify=self._verify,
                connector=self._conn,
                # Stateless: a session per reconcile pass would pile up on the BMC.
                auth=sushy.auth.BasicAuth(*self._auth),
            )
        return self._sushy

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

    def _account_uris(self) -> dict[str, str]:
        """User name -> account URI of every account on the BMC (empty slots left out: some
        BMCs list a fixed number of slots, unused ones without a name)."""
        accounts: dict[str, str] = {}
        for member in self._conn.get(ACCOUNTS).json().get("Members", []):
            uri = member["@odata.id"]
            try:
                name = self._conn.get(uri).json().get("UserName")
            except sushy_errors.ResourceNotFoundError:
                continue  # deleted meanwhile
            if name:
                accounts[name] = uri
        return accounts

    def account_names(self) -> set[str]:
        try:
            return set(self._account_uris())
        except sushy_errors.SushyError as err:
            raise _translate(err) from None

    def sweep_accounts(self, keep: Collection[str]) -> list[str]:
        """Delete every account not in `keep`, whoever made it (the rows Volt recorded are
        not the whole truth: a tenant with a BMC login may have added one), then read the list
        back; returns the names deleted. Raises BmcError if any other account is left."""
        try:
            deleted = []
            for name, uri in self._account_uris().items():
                if name not in keep:
                    # Gone meanwhile is what we wanted.
                    with contextlib.suppress(sushy_errors.ResourceNotFoundError):
                        self._conn.delete(uri)
                    deleted.append(name)
            left = set(self._account_uris()) - set(keep)
        except sushy_errors.SushyError as err:
            raise _translate(err) from None
        if left:
            raise BmcError("bmc_account_kept", f"The BMC kept {len(left)} account(s) after delete.")
        return deleted

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
