"""Forge: GPU leases, each in its own Kubernetes namespace, with minted namespace kubeconfigs."""
