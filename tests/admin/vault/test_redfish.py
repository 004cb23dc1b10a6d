"""The Redfish driver against sushy-tools' emulator with basic auth: a node is set to network
boot and powered on (verified), a retry changes nothing, and refused or absent BMCs give
stable error codes; once the BMC is back a retry converges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from admin.vault.power import PowerRequests
from admin.vault.redfish import Bmc, BmcError, NodeObservation
from lab.redfish import RedfishEmulator

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RedfishEmulator]:
    with RedfishEmulator(tmp_path, nodes=2) as emu:
        yield emu


def wait_on(bmc: Bmc, system: str, timeout: float = 30) -> NodeObservation:
    deadline = time.monotonic() + timeout
    while True:
        seen = bmc.observe(system)
        if seen.power_state == "On":
            return seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.25)


def test_nodes_boot_from_the_network_and_power_on(emulator: RedfishEmulator) -> None:
    bmc = Bmc(emulator.url, emulator.username, emulator.password)
    assert sorted(bmc.systems()) == sorted(emulator.systems)
    for system in emulator.systems:
        before = bmc.observe(system)
        assert before.power_state == "Off" and not before.booted_for_provisioning
        bmc.ensure_provisioning_boot(system)
    for system in emulator.systems:
        on = wait_on(bmc, system)
        assert on.booted_for_provisioning and on.boot_target == "Pxe"
    # A retried pass changes nothing on nodes that are already where they should be.
    again = bmc.ensure_provisioning_boot(emulator.systems[0])
    assert again.booted_for_provisioning


def test_refused_and_unreachable_bmcs_have_stable_codes(emulator: RedfishEmulator) -> None:
    with pytest.raises(BmcError) as refused:
        Bmc(emulator.url, emulator.username, "wrong").observe(emulator.systems[0])
    assert refused.value.code == "bmc_auth_failed"
    bmc = Bmc(emulator.url, emulator.username, emulator.password)
    emulator.stop()
    with pytest.raises(BmcError) as down:
        bmc.ensure_provisioning_boot(emulator.systems[0])
    assert down.value.code == "bmc_unreachable"
    emulator.start()  # the BMC comes back: the same call converges
    bmc.ensure_provisioning_boot(emulator.systems[0])
    assert wait_on(bmc, emulator.systems[0]).booted_for_provisioning


def test_a_node_asked_on_every_pass_is_asked_once_and_powers_on(
    emulator: RedfishEmulator,
) -> None:
    # The emulator, like a slow BMC, restarts its 1-11 s power-on clock on every request: a
    # reconciler that asked again on each pass would keep a node off for minutes.
    bmc = Bmc(emulator.url, emulator.username, emulator.password)
    system, asks = emulator.systems[0], []

    def call(ask: bool) -> NodeObservation:
        asks.append(ask)
        return bmc.ensure_provisioning_boot(system, ask=ask)

    power = PowerRequests(wait_s=30)
    deadline = time.monotonic() + 20
    while not power.drive(system, "On", call).booted_for_provisioning:
        assert time.monotonic() < deadline, asks
        time.sleep(0.1)
    assert asks.count(True) == 1, asks
