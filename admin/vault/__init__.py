"""Vault: dedicated bare-metal racks (issue 5). So far: Talos machine configs from a per-rack
secrets bundle."""
