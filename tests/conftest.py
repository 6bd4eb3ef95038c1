"""Fixtures shared by the whole suite. Servers are started once per run."""

from support.clickhouse_server import clickhouse_server  # noqa: F401  (fixture)
