"""Ordered migrations recorded in schema_migrations; an edited migration is refused."""

from __future__ import annotations

import pytest

from voltcore.db import Pool, load_migrations, migrate


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_migrate_is_idempotent_and_recorded(fresh_db: tuple[str, Pool]) -> None:
    _, db = fresh_db  # already migrated once by the fixture
    assert await migrate(db) == []
    rows = await db.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in load_migrations()
    ]


async def test_a_changed_applied_migration_is_refused(fresh_db: tuple[str, Pool]) -> None:
    _, db = fresh_db
    await db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(db)
