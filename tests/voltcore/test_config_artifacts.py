"""The embedded default keeps the artifact store (tenants' uploads and adapters) apart from the
embedded database's directory, and refuses a configuration that would nest one in the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from voltcore.config import Settings


def test_embedded_default_keeps_artifacts_apart_from_the_database(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert not s.artifacts.is_relative_to(s.pgdata)
    assert not s.pgdata.is_relative_to(s.artifacts)


@pytest.mark.parametrize("inside", ["pg", "pg/artifacts", "."])
def test_nested_artifact_dir_is_refused(tmp_path: Path, inside: str) -> None:
    with pytest.raises(ValidationError, match="artifact_dir"):
        Settings(data_dir=tmp_path, artifact_dir=tmp_path / inside)


def test_an_outside_database_leaves_the_layout_free(tmp_path: Path) -> None:
    # No embedded database: nothing of it lives under data_dir.
    s = Settings(data_dir=tmp_path, artifact_dir=tmp_path, database_url="postgresql://db/volt")
    assert s.artifacts == tmp_path
