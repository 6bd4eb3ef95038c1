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
  its own schema. Run ``migrate()`` once against every shard.

With ``replicated=1`` as well (ZooKeeper in every server's config), ``migrate()`` runs
**once**, against any server, for the whole cluster: every statement is ``ON CLUSTER``
(distributed DDL); ``T_local`` is ``Replicated*MergeTree`` (ZooKeeper path
``/clickhouse/tables/{shard}/<database>/<table>``, replica ``{replica}``, both macros of
the server's config); ``schema_migrations`` and ``schema_features`` are one replicated
table for the whole cluster (path ``/clickhouse/tables/all/...``, replica
``{shard}-{replica}``), so every server sees the schema current; the one-off copy goes
through the Distributed tables; a Distributed table is dropped and made again from its
local table instead of altered (18.16 refuses ``ALTER ... ON CLUSTER`` of a table that is
not replicated on a replicated shard); and column comments are left out (18.16 refuses a
second replica of a table whose columns have comments). Tested on 18.16 with a real
ZooKeeper (tests/storage/test_replicated.py).

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
    # Rollups are filled by the per-shard views, and by the rollup repair through their
    # Distributed table; readers always sum(), so rows anywhere add up: any shard will do.
    "activity_hourly": "rand()",
    "flags_hourly": "rand()",
    "rollup_checks": "rand()",   # read whole through the Distributed table
}
"""Sharding key of each Distributed table; a new table needs an entry here."""

LOCAL_ONLY_TABLES = {"schema_migrations", "schema_features"}
LOCAL_SUFFIX = "_local"

_CREATE_DATABASE = re.compile(r"CREATE DATABASE IF NOT EXISTS \w+", re.ASCII)
_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)(\s*\()", re.ASCII)
_CREATE_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\.(\w+) ", re.ASCII)
_INSERT = re.compile(r"INSERT INTO ", re.ASCII)
_ALTER = re.compile(r"ALTER TABLE (\w+)\.(\w+)\s", re.ASCII)
_COMMENT = re.compile(r"\s+COMMENT\s+'(?:[^'\\]|\\.|'')*'", re.ASCII)
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
    """``statements`` (of one migration, ``{database}`` already replaced) for one shard of `cluster`;
    with `replicated`, for the whole cluster at once (``ON CLUSTER``, see the module's docstring)."""
    validate_cluster(cluster)
    databases = {database, f"{database}_dashboards"}
    qualified = re.compile(r"\b(" + "|".join(sorted(map(re.escape, databases))) + r")\.(\w+)\b", re.ASCII)
    on_cluster = f" ON CLUSTER {cluster}" if replicated else ""

    def local(match: re.Match) -> str:
        db, table = match.group(1), match.group(2)
        return f"{db}.{table}" if table in LOCAL_ONLY_TABLES else f"{db}.{table}{LOCAL_SUFFIX}"

    result = []
    for statement in statements:
        if replicated:  # 18.16's ReplicatedMergeTree refuses a second replica of a table with comments
            statement = _COMMENT.sub("", statement)
        if match := _CREATE_DATABASE.match(statement):
            result.append(match.group() + on_cluster + statement[match.end():])
        elif match := _CREATE_TABLE.match(statement):
            db, table = match.group(1), match.group(2)
            body = statement[match.end():]
            if table in LOCAL_ONLY_TABLES:
                if replicated:  # one copy for the whole cluster: every server sees the same schema
                    body = _replicated_engine(body, f"/clickhouse/tables/all/{db}/{table}", "{shard}-{replica}",
                                              migration)
                result.append(f"CREATE TABLE IF NOT EXISTS {db}.{table}{on_cluster}{match.group(3)}" + body)
                continue
            key = _sharding_key(table, migration)
            local_name = f"{table}{LOCAL_SUFFIX}"
            if replicated:
                body = _replicated_engine(body, f"/clickhouse/tables/{{shard}}/{db}/{local_name}", "{replica}",
                                          migration)
            result.append(f"CREATE TABLE IF NOT EXISTS {db}.{local_name}{on_cluster}{match.group(3)}" + body)
            result.append(f"CREATE TABLE IF NOT EXISTS {db}.{table}{on_cluster} AS {db}.{local_name}\n"
                          f"ENGINE = Distributed('{cluster}', '{db}', '{local_name}', {key})")
        elif match := _CREATE_VIEW.match(statement):
            # The view itself stays as it is named; its source and target become local.
            head, rest = statement[:match.end() - 1], statement[match.end() - 1:]
            result.append(head + on_cluster + qualified.sub(local, rest))
        elif _INSERT.match(statement):
            # Run once for the whole cluster, a replicated one reads and writes through the
            # Distributed tables; per shard, each shard copies its own rows.
            result.append(statement if replicated else qualified.sub(local, statement))
        elif match := _ALTER.match(statement):
            db, table = match.group(1), match.group(2)
            rest = statement[match.end() - 1:]
            if table in LOCAL_ONLY_TABLES:
                result.append(f"ALTER TABLE {db}.{table}{on_cluster}{rest}")
                continue
            key = _sharding_key(table, migration)
            # The local table first: the Distributed table's columns must exist on every
            # shard before it names them in the queries it forwards.
            result.append(f"ALTER TABLE {db}.{table}{LOCAL_SUFFIX}{on_cluster}{rest}")
            if _STORAGE_ONLY_ALTER.search(statement):
                continue
            if replicated:
                # 18.16 refuses ALTER ON CLUSTER of a table that is not replicated on a replicated
                # shard; a Distributed table holds nothing: made again from its local table.
                result.append(f"DROP TABLE IF EXISTS {db}.{table}{on_cluster}")
                result.append(f"CREATE TABLE IF NOT EXISTS {db}.{table}{on_cluster} AS {db}.{table}{LOCAL_SUFFIX}\n"
                              f"ENGINE = Distributed('{cluster}', '{db}', '{table}{LOCAL_SUFFIX}', {key})")
            else:
                result.append(f"ALTER TABLE {db}.{table}{rest}")
        else:
            raise StorageError(f"migration {migration}: no cluster form for the statement "
                               f"{statement.split(chr(10))[0]!r}; add one in storage/cluster.py")
    return result


def _replicated_engine(body: str, path: str, replica: str, migration: str) -> str:
    """``ENGINE = XMergeTree[(args)]`` as ``ReplicatedXMergeTree('path', 'replica'[, args])``."""
    match = _ENGINE.search(body)
    if match is None:
        raise StorageError(f"migration {migration}: a table has no MergeTree engine to replicate")
    arguments = [f"'{path}'", f"'{replica}'"]
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
