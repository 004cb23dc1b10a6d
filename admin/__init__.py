"""volt-admin: the control plane (orgs, keys, usage, audit; later Forge, Vault, fine-tuning)."""
