"""Embedded ClickHouse (chDB) in a local directory: storage without a server.

chDB runs one embedded engine per process, bound to the first session's
directory: sessions on the same directory coexist, but a session on another
directory fails until every earlier session is closed. So a process uses one
chDB directory at a time; separate databases (``?database=``) share it. A
directory open in one process cannot be opened by another at the same time.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import urllib.parse
import uuid
from collections.abc import Sequence

from chdb import session

from .backend import DEFAULT_DATABASE, Storage, StorageError

_HEX = re.compile(r"[0-9a-f]{64}")
_FLOAT_TYPE = re.compile(r"(?:(?:Array|Nullable)\()*Float(?:32|64)\)*")
_ESCAPES = str.maketrans({
    "\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0", "\b": "\\b", "\f": "\\f",
})


class ChdbStorage(Storage):
    """``chdb:PATH`` or ``chdb://PATH`` (``chdb:///abs/path``, ``chdb:rel/path``), ``?database=name``."""

    def __init__(self, url: str):
        path, database = parse_chdb_url(url)
        super().__init__(url, database)
        try:
            self._session = session.Session(path)
        except RuntimeError as exc:
            raise StorageError(f"cannot open chDB directory {path}: {exc} (a process can use one chDB "
                               "directory at a time, and a directory in use by another process cannot be opened)") from exc

    def _execute(self, sql: str) -> None:
        self._session.query(sql)

    def _select(self, sql: str, params: dict) -> list[dict]:
        encoded = {name: _param_text(value) for name, value in params.items()}
        data = self._session.query(sql, "JSON", params=encoded).bytes()
        if not data:  # statements without a result
            return []
        result = json.loads(data)
        floats = [column["name"] for column in result["meta"] if _is_float(column["type"])]
        rows = result["data"]
        for row in rows:
            for name in floats:
                row[name] = _as_float(row[name])
        return rows

    def _insert_columns(self, table: str, names: Sequence[str], columns: list[list],
                        dedup_token: str | None = None, database: str | None = None) -> None:
        # The data travels as one JSONCompactColumns document next to the statement, never
        # inside it: one json.dumps of a few lists is far cheaper than a dict per row.
        payload = json.dumps([_json_column(column) for column in columns], ensure_ascii=False)
        statement = f"INSERT INTO {database or self.database}.{table} ({', '.join(names)})"
        if dedup_token is not None:  # our own hex digest (backend.dedup_token), safe to inline
            statement += f" SETTINGS insert_deduplication_token = '{_HEX.fullmatch(dedup_token).group()}'"
        with self._session.send_insert(statement, "JSONCompactColumns") as inserter:
            inserter.append(payload)
            inserter.finish()

    def _close(self) -> None:
        self._session.close()


def parse_chdb_url(url: str) -> tuple[str, str]:
    """(absolute directory, database) of a ``chdb:`` url."""
    rest = url.removeprefix("chdb:").removeprefix("//")
    path, _, query = rest.partition("?")
    options = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = set(options) - {"database"}
    if unknown:
        raise StorageError(f"unknown option(s) {', '.join(sorted(unknown))} in {url}: only database is supported")
    if not path:
        raise StorageError(f"no directory in {url}: use chdb:PATH")
    return os.path.abspath(path), options.get("database", [DEFAULT_DATABASE])[-1]


def _param_text(value: object) -> str:
    """A parameter in the text form ClickHouse parses for ``{name:Type}``.

    chDB hands parameters over as ``str(value)``, which ClickHouse reads in its
    escaped format: strings need backslash escapes, arrays quoted elements.
    """
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, list):
        return _quoted(value)
    return str(value)


def _quoted(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.translate(_ESCAPES) + "'"
    if isinstance(value, list):
        return "[" + ",".join(_quoted(item) for item in value) + "]"
    return str(value)


def _json_column(column: list) -> list:
    if column and isinstance(column[0], (uuid.UUID, datetime.datetime)):
        return [_json_value(value) for value in column]
    return column


def _json_value(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())  # a number is the same instant in any time zone
    return value


def _is_float(type_name: str) -> bool:
    return _FLOAT_TYPE.fullmatch(type_name) is not None


def _as_float(value: object) -> object:
    """JSON prints 2.0 as 2; the driver returns float, so chDB must too."""
    if isinstance(value, list):
        return [_as_float(item) for item in value]
    return float(value) if isinstance(value, int) else value
