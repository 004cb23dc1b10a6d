"""Vault: dedicated bare-metal racks. A tenant reserves a whole physical rack from the
operator's inventory (`routes`, `store`); the reconciler drives its nodes' BMCs over Redfish
(`redfish`, `bmcs`) through the rack state machine (`states`); each reservation gets its own
Talos cluster identity (`talos`, sealed at rest by `sealing`), time-limited BMC accounts, and
measured-boot attestation of its nodes (`attest` challenges the agents of `agent`, and
`attestation` verifies their quotes)."""
