import uuid

import pytest

from socialwatch.storage import open_storage
from support.review_site import start_review_site


@pytest.fixture
def site(clickhouse_server, tmp_path):
    """A review application over its own fresh database on the ClickHouse server."""
    yield from _site_over(clickhouse_server.url_for(f"review_{uuid.uuid4().hex[:12]}"), tmp_path)


@pytest.fixture(params=["clickhouse", "chdb"])
def any_site(request, tmp_path):
    """A review application on the ClickHouse server, then on the embedded store (same SQL)."""
    if request.param == "clickhouse":
        url = request.getfixturevalue("clickhouse_server").url_for(f"review_{uuid.uuid4().hex[:12]}")
    else:
        url = f"chdb:{tmp_path / 'chdb'}"
    yield from _site_over(url, tmp_path)


def _site_over(url: str, tmp_path):
    store = open_storage(url)
    running = start_review_site(store, tmp_path)
    try:
        yield running
    finally:
        running.stop()
        store.close()
