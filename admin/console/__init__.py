"""The small server-rendered console: the org's keys, signed-in CLIs, usage and leases, and the
device verification page where a signed-in admin approves a CLI. It renders pages; the session
and the device flow behind them are sign-in's (`admin.signin`)."""
