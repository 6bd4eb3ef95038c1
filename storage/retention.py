"""Retention: forget what the district's retention policy says to forget.

    plan = retention_plan(store, {"events": 90, "flags": 365}, now)
    for step in plan: print(step)          # the dry run
    apply_retention(store, plan)

Per table, everything whose ``time`` is older than ``now - days`` goes:

- a monthly partition that lies wholly before the cutoff is dropped
  (``ALTER TABLE ... DROP PARTITION``: instant, no rewrite);
- the rows before the cutoff in the month that straddles it are deleted with a
  mutation (``ALTER TABLE ... DELETE WHERE time < cutoff``), which the server
  carries out in the background (at once on chDB);
- on servers that have TTL (19.6 and later, chDB; storage/features.py), the table also gets
  ``TTL time + INTERVAL days DAY``, so merges remove expired rows between runs.
  ClickHouse 18.16 has no TTL: there, run ``socialwatch db retention`` daily.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from .backend import Storage, StorageError

RETAINED_TABLES = ("events", "flags", "review_actions", "audit_log", "alerts")
"""Tables with a ``time`` column and monthly partitions, subject to retention."""

_MONTH = re.compile(r"(\d{4})(\d{2})")


@dataclasses.dataclass(frozen=True)
class RetentionStep:
    table: str
    action: str
    """``drop_partition``, ``delete_rows`` or ``set_ttl``."""
    partition: str
    """``YYYYMM`` for drop and delete; empty for TTL."""
    rows: int
    """Rows that go (0 for TTL)."""
    cutoff: datetime.datetime
    days: int

    def __str__(self) -> str:
        if self.action == "drop_partition":
            return f"{self.table}: drop partition {self.partition} ({self.rows} rows, all before {self.cutoff:%Y-%m-%d %H:%M:%S}Z)"
        if self.action == "delete_rows":
            return f"{self.table}: delete {self.rows} rows of partition {self.partition} before {self.cutoff:%Y-%m-%d %H:%M:%S}Z"
        return f"{self.table}: set TTL time + INTERVAL {self.days} DAY"


def retention_plan(store: Storage, days_by_table: dict[str, int | None], now: datetime.datetime) -> list[RetentionStep]:
    """What retention would remove now; nothing is changed."""
    if now.utcoffset() is None:
        raise StorageError("retention: now must be timezone-aware")
    steps = []
    ttl = "ttl" in store.server_features()
    for table, days in days_by_table.items():
        if table not in RETAINED_TABLES:
            raise StorageError(f"retention: unknown table {table!r}")
        if days is None:
            continue  # kept for ever
        cutoff = (now - datetime.timedelta(days=days)).astimezone(datetime.UTC).replace(microsecond=0)
        rows = store.query(
            f"SELECT toString(toYYYYMM(time)) AS partition, count() AS rows,"
            f" sum(time < {{cutoff:DateTime('UTC')}}) AS old FROM {{database}}.{_stored(store, table)}"
            f" GROUP BY partition HAVING old > 0 ORDER BY partition",
            {"cutoff": cutoff},
        )
        for row in rows:
            whole = _month_end(row["partition"]) <= cutoff
            steps.append(RetentionStep(table, "drop_partition" if whole else "delete_rows", row["partition"],
                                       int(row["rows"] if whole else row["old"]), cutoff, days))
        if ttl:
            steps.append(RetentionStep(table, "set_ttl", "", 0, cutoff, days))
    return steps


def apply_retention(store: Storage, steps: list[RetentionStep]) -> None:
    """On a cluster (``?cluster=``), run it against every shard: it changes that shard's local tables."""
    for step in steps:
        table = f"{store.database}.{_stored(store, step.table)}"
        if step.action == "drop_partition":
            store.execute(f"ALTER TABLE {table} DROP PARTITION {int(step.partition)}")
        elif step.action == "delete_rows":
            store.execute(f"ALTER TABLE {table} DELETE WHERE time < toDateTime({int(step.cutoff.timestamp())}, 'UTC')"
                          f" AND toYYYYMM(time) = {int(step.partition)}")
        elif step.action == "set_ttl":
            store.execute(f"ALTER TABLE {table} MODIFY TTL time + INTERVAL {int(step.days)} DAY")


def _stored(store: Storage, table: str) -> str:
    """The table that holds the rows on this server: on a cluster shard, ``table_local`` (the plain
    name is the Distributed table, which has no partitions and takes no ALTER ... DELETE)."""
    return f"{table}_local" if getattr(store, "cluster", None) else table


def _month_end(partition: str) -> datetime.datetime:
    """The first instant after the month ``YYYYMM``."""
    match = _MONTH.fullmatch(partition)
    if not match:
        raise StorageError(f"retention: unexpected partition {partition!r}")
    year, month = int(match.group(1)), int(match.group(2))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
