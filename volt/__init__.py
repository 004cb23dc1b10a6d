"""The Volt Python SDK and `volt` CLI (issue #7 builds them)."""
