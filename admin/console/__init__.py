"""The small server-rendered console: the org's keys, usage and leases, and the device
verification page where a signed-in admin approves a CLI."""
