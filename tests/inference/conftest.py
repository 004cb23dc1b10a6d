"""Spark's tests share the session's one Spark (`spark` and `api`, defined in
tests/support/spark.py and registered by tests/conftest.py, so the SDK's tests share it too)."""

from __future__ import annotations

from tests.support.spark import MINILM, SMOL, TINY, Spark

__all__ = ["MINILM", "SMOL", "TINY", "Spark"]
