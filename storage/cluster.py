"""Scale-out on a ClickHouse cluster: the migrations rewritten for Distributed tables.

With ``clickhouse://...:9000/socialwatch?cluster=NAME`` (NAME a cluster of the
server's ``remote_servers``), ``migrate()`` applies every migration to the shard it
is connected to, rewritten by ``cluster_statements``:

- every data table ``T`` is created as ``T_local`` (same columns, same engine), and
  under its plain name as ``ENGINE = Distributed(NAME, database, T_local, key)``, so the
  writer and every reader keep using the plain names;
- materialized views are per shard: they read ``events_local``/``flags_local`` and write
  ``activity_hourly_local``/``flags_hourly_local``; the rollups' Distributed tables
  sum the shards at read time;
- ``INSERT ... SELECT`` (migration 0005's one-off copy) runs per shard on ``_local``
  tables; ``ALTER TABLE T`` alters ``T_local``, then the Distributed ``T``;
- ``ALTER`` of storage alone (a ``CODEC``, ``MODIFY SETTING``) goes to ``T_local`` only: a
  Distributed table stores nothing;
- ``schema_migrations`` and ``schema_features`` stay plain local tables: each shard records
  its own schema;
- with ``replicated=1`` in the url as well, the ``_local`` tables are ``Replicated*MergeTree``
  (ZooKeeper path ``/clickhouse/tables/{shard}/<database>/<table>``, replica ``{replica}``,
  both macros of the server's config). Untested: no ZooKeeper where the tests run.

Run ``migrate()`` once against every shard (docs/storage.md, "Scale-out").
The SQL for a single server or chDB (``cluster=None``) is not touched by this module.
"""

from __future__ import annotations

import re

from .backend import StorageError, validate_database

SHARDING_KEYS = {
    # A copy of a row (a retried batch, a spool replay) must land on the shard of the
    # first copy, or FINAL, which collapses per shard, would count it twice: every key is
    # a deterministic function of the row, never rand() for those tables.
    "events": "cityHash64(device)",          # a device's history and its flags on one shard
    "flags": "cityHash64(device)",
    "review_actions": "cityHash64(toString(flag_id))",   # a flag's actions together (argMax)
    "audit_log": "cityHash64(toString(audit_id))",
    "alerts": "cityHash64(toString(flag_id))",
    "suppressions": "cityHash64(toString(suppression_id))",  # later versions replace earlier ones
    # Rollups are filled by the per-shard views, never through their Distributed table;
    # readers always sum(), so rows anywhere add up: any shard will do.
    "activity_hourly": "rand()",
    "flags_hourly": "rand()",
}
"""Sharding key of each Distributed table; a new table needs an entry here."""

LOCAL_ONLY_TABLES = {"schema_migrations", "schema_features"}
LOCAL_SUFFIX = "_local"

_CREATE_DATABASE = re.compile(r"CREATE DATABASE IF NOT EXISTS \w+", re.ASCII)
_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)(\s*\()", re.ASCII)
_CREATE_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\.(\w+) ", re.ASCII)
_INSERT = re.compile(r"INSERT INTO ", re.ASCII)
_ALTER = re.compile(r"ALTER TABLE (\w+)\.(\w+)\s", re.ASCII)
_STORAGE_ONLY_ALTER = re.compile(r"\bCODEC\(|\bMODIFY SETTING\b", re.ASCII)
_ENGINE = re.compile(r"ENGINE = (\w*)MergeTree(?:\(([^()]*)\))?(?=\s|$)", re.ASCII)


def validate_cluster(name: str) -> str:
    """Cluster names are pasted into SQL too: the same strict identifier form as databases."""
    try:
        return validate_database(name)
    except StorageError:
        raise StorageError(f"invalid cluster name {name!r}: use letters, digits and _ (not first), "
                           "at most 63") from None


def cluster_statements(statements: list[str], database: str, cluster: str, migration: str = "",
                       replicated: bool = False) -> list[str]:
    """``statements`` (of one migration, ``{database}`` already replaced) for one shard of `cluster`
    (with `replicated`, for one replica of one shard)."""
    validate_cluster(cluster)
    databases = {database, f"{database}_dashboards"}
    qualified = re.compile(r"\b(" + "|".join(sorted(map(re.escape, databases))) + r")\.(\w+)\b", re.ASCII)

    def local(match: re.Match) -> str:
        db, table = match.group(1), match.group(2)
        return f"{db}.{table}" if table in LOCAL_ONLY_TABLES else f"{db}.{table}{LOCAL_SUFFIX}"

    result = []
    for statement in statements:
        if _CREATE_DATABASE.match(statement):
            result.append(statement)
        elif match := _CREATE_TABLE.match(statement):
            db, table = match.group(1), match.group(2)
            if table in LOCAL_ONLY_TABLES:
                result.append(statement)
                continue
            key = _sharding_key(table, migration)
            local_name = f"{table}{LOCAL_SUFFIX}"
            body = statement[match.end():]
            if replicated:
                body = _replicated_engine(body, db, local_name, migration)
            result.append(f"CREATE TABLE IF NOT EXISTS {db}.{local_name}{match.group(3)}" + body)
            result.append(f"CREATE TABLE IF NOT EXISTS {db}.{table} AS {db}.{local_name}\n"
                          f"ENGINE = Distributed('{cluster}', '{db}', '{local_name}', {key})")
        elif match := _CREATE_VIEW.match(statement):
            # The view itself stays as it is named; its source and target become local.
            head, rest = statement[:match.end()], statement[match.end():]
            result.append(head + qualified.sub(local, rest))
        elif _INSERT.match(statement):
            result.append(qualified.sub(local, statement))
        elif match := _ALTER.match(statement):
            db, table = match.group(1), match.group(2)
            if table in LOCAL_ONLY_TABLES:
                result.append(statement)
                continue
            _sharding_key(table, migration)
            # The local table first: the Distributed table's columns must exist on every
            # shard before it names them in the queries it forwards.
            result.append(qualified.sub(local, statement, count=1))
            if not _STORAGE_ONLY_ALTER.search(statement):
                result.append(statement)
        else:
            raise StorageError(f"migration {migration}: no cluster form for the statement "
                               f"{statement.split(chr(10))[0]!r}; add one in storage/cluster.py")
    return result


def _replicated_engine(body: str, database: str, table: str, migration: str) -> str:
    """``ENGINE = XMergeTree[(args)]`` as ``ReplicatedXMergeTree(path, replica[, args])``."""
    match = _ENGINE.search(body)
    if match is None:
        raise StorageError(f"migration {migration}: table {table!r} has no MergeTree engine to replicate")
    arguments = [f"'/clickhouse/tables/{{shard}}/{database}/{table}'", "'{replica}'"]
    if match.group(2) and match.group(2).strip():
        arguments.append(match.group(2).strip())
    engine = f"ENGINE = Replicated{match.group(1)}MergeTree({', '.join(arguments)})"
    return body[:match.start()] + engine + body[match.end():]


def _sharding_key(table: str, migration: str) -> str:
    try:
        return SHARDING_KEYS[table]
    except KeyError:
        raise StorageError(f"migration {migration}: table {table!r} has no sharding key; "
                           "add one to storage/cluster.py SHARDING_KEYS") from None
