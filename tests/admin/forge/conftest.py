"""Forge's tests use the session's Kubernetes control plane and Forge-enabled admin service
(`cluster` and `forge`, defined in tests/support/forge.py and registered by tests/conftest.py,
so the SDK's tests share them too)."""

from __future__ import annotations

from tests.support.forge import A100, FLEET, H100, ForgeService, forge_settings, tenant_api

__all__ = ["A100", "FLEET", "H100", "ForgeService", "forge_settings", "tenant_api"]
