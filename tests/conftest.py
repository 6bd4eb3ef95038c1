"""Fixtures shared by the whole suite. Servers are started once per run."""

import uuid

import pytest

from socialwatch.storage import open_storage
from support.clickhouse_server import clickhouse_server  # noqa: F401  (fixture)


@pytest.fixture
def store(clickhouse_server):  # noqa: F811 (the fixture above)
    """A migrated database of its own on the run's ClickHouse server."""
    store = open_storage(clickhouse_server.url_for(f"t_{uuid.uuid4().hex[:8]}"))
    store.migrate()
    yield store
    store.close()
