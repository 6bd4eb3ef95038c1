"""Fixtures of the storage tests."""

from __future__ import annotations

import uuid

import pytest
from socialwatch.storage import open_storage


@pytest.fixture(params=["clickhouse", "chdb"])
def fresh_store(request, tmp_path):
    """A storage not yet migrated, on both back ends: a new database of the session's
    ClickHouse server, or a new chDB directory."""
    if request.param == "clickhouse":
        url = request.getfixturevalue("clickhouse_server").url_for(f"fresh_{uuid.uuid4().hex[:10]}")
    else:
        url = f"chdb:{tmp_path / 'chdb'}"
    store = open_storage(url)
    yield store
    store.close()
