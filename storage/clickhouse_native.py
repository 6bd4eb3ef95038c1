"""ClickHouse server over the native protocol (clickhouse-driver): production storage."""

from __future__ import annotations

import datetime
import re
import urllib.parse
import uuid
from collections.abc import Sequence

from clickhouse_driver import Client

from .backend import DEFAULT_DATABASE, Storage, StorageError
from .cluster import validate_cluster

_PLACEHOLDER = re.compile(r"\{(\w+):([^{}]+)\}")
_BARE_TYPE = re.compile(r"U?Int\d+|String")


class ClickHouseNativeStorage(Storage):
    """``clickhouse://user:password@host:port/database`` (``clickhouses://`` for TLS).

    ``?cluster=NAME``: the server is one shard of the cluster NAME of its
    ``remote_servers``; ``migrate()`` creates Distributed tables over ``_local``
    ones (storage/cluster.py) and inserts wait until every shard has its rows
    (``insert_distributed_sync``). Further query-string options (``connect_timeout``,
    ``compression``, ...) go to clickhouse-driver unchanged.
    """

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        password = parts.password or ""
        super().__init__(url, parts.path.lstrip("/") or DEFAULT_DATABASE,
                         secrets=(password, urllib.parse.unquote(password)))
        parts, self.cluster, self.replicated = _without_cluster(parts)
        self._insert_settings = {"insert_distributed_sync": 1} if self.cluster else {}
        # Connect to the server's default database: ours does not exist until
        # migrate() creates it, and all our SQL names it explicitly.
        self._client = Client.from_url(parts._replace(path="").geturl())

    def _execute(self, sql: str) -> None:
        self._client.execute(sql)

    def _select(self, sql: str, params: dict) -> list[dict]:
        rows, columns = self._client.execute(client_side_placeholders(sql), params, with_column_types=True)
        names = [name for name, _type in columns]
        return [dict(zip(names, map(_plain, row))) for row in rows]

    def _insert_columns(self, table: str, names: Sequence[str], columns: list[list],
                        dedup_token: str | None = None, database: str | None = None) -> None:
        # Columnar: the driver packs each column at once instead of walking the rows.
        settings = dict(self._insert_settings)
        if dedup_token is not None:
            settings["insert_deduplication_token"] = dedup_token
        self._client.execute(f"INSERT INTO {database or self.database}.{table} ({', '.join(names)}) VALUES",
                             columns, columnar=True, settings=settings or None)

    def _close(self) -> None:
        self._client.disconnect()


def _without_cluster(parts: urllib.parse.SplitResult) -> tuple[urllib.parse.SplitResult, str | None, bool]:
    """The url without its ``cluster`` and ``replicated`` options (which clickhouse-driver
    would send as unknown settings), the validated cluster name or None, and replicated."""
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    ours = {"cluster", "replicated"}
    clusters = [value for key, value in query if key == "cluster"]
    replicated = [value for key, value in query if key == "replicated"]
    if not clusters and not replicated:
        return parts, None, False
    if len(clusters) != 1 or len(replicated) > 1 or replicated and replicated[0] not in ("0", "1"):
        raise StorageError("the storage url needs exactly one cluster=NAME and at most one replicated=0|1")
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key not in ours])
    return parts._replace(query=rest), validate_cluster(clusters[0]), replicated == ["1"]


def client_side_placeholders(sql: str) -> str:
    """Rewrite ``{name:Type}`` placeholders for clickhouse-driver's own quoting.

    ClickHouse 18.16 predates server-side query parameters, so the driver
    substitutes ``%(name)s`` with a literal it escapes itself. Integers and
    strings stay bare literals (LIMIT accepts nothing else on 18.16); other
    types are cast, so ``{ids:Array(UUID)}`` or ``{since:DateTime('UTC')}``
    have the declared type as they would on a newer server. A literal ``%`` in
    the SQL is doubled for the driver's %-formatting.
    """

    def replace(match: re.Match) -> str:
        name, type_name = match.group(1), match.group(2).strip()
        if _BARE_TYPE.fullmatch(type_name):
            return f"%({name})s"
        return f"CAST(%({name})s AS {type_name})"

    return _PLACEHOLDER.sub(replace, sql.replace("%", "%%"))


def _plain(value: object) -> object:
    """A driver value as the JSON-like value chDB returns for the same column."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
