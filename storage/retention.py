"""Retention: forget what the district's retention policy says to forget.

    plan = retention_plan(store, {"events": 90, "events_professional": 2555, "flags": 365}, now)
    for step in plan: print(step)          # the dry run
    apply_retention(store, plan)

Each kind of record (``RETENTION_KINDS``: a table, or the rows of a table that match a
condition) is kept for its number of days; everything whose ``time`` is older goes:

- a monthly partition that lies wholly before the cutoff of every kind it holds is
  dropped (``ALTER TABLE ... DROP PARTITION``: instant, no rewrite);
- otherwise the old rows of each kind in it are deleted with a mutation (``ALTER
  TABLE ... DELETE WHERE``), which the server carries out in the background (at
  once on chDB);
- on servers that have TTL (19.6 and later, chDB; storage/features.py), the table also gets
  a ``TTL`` with the same periods, so merges remove expired rows between runs.
  ClickHouse 18.16 has no TTL: there, run ``socialwatch db retention`` daily.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from .backend import Storage, StorageError

RETENTION_KINDS = {
    # kind: (table, which of its rows)
    "events": ("events", "professional = 0"),
    "events_professional": ("events", "professional = 1"),
    "flags": ("flags", "1"),
    "review_actions": ("review_actions", "1"),
    "audit_log": ("audit_log", "1"),
    "alerts": ("alerts", "1"),
}
"""Kinds of record with a period of their own. Tables have a ``time`` column and monthly partitions;
conditions are SQL written here, never from configuration."""

RETAINED_TABLES = tuple(dict.fromkeys(table for table, _ in RETENTION_KINDS.values()))

_MONTH = re.compile(r"(\d{4})(\d{2})")
_FOREVER = "toDateTime(4102444800, 'UTC')"
"""2100-01-01: the TTL of rows kept for ever."""


@dataclasses.dataclass(frozen=True)
class RetentionStep:
    table: str
    action: str
    """``drop_partition``, ``delete_rows`` or ``set_ttl``."""
    partition: str
    """``YYYYMM`` for drop and delete; empty for TTL."""
    rows: int
    """Rows that go (0 for TTL)."""
    sql: str
    """For delete_rows, the condition of the rows that go; for set_ttl, the TTL expression."""
    kinds: tuple[str, ...]
    """The kinds of record concerned."""

    def __str__(self) -> str:
        if self.action == "drop_partition":
            return f"{self.table}: drop partition {self.partition} ({self.rows} rows, all past their retention)"
        if self.action == "delete_rows":
            return f"{self.table}: delete {self.rows} rows of partition {self.partition} ({', '.join(self.kinds)}: " \
                   f"{self.sql})"
        return f"{self.table}: set TTL {self.sql}"


def retention_plan(store: Storage, days_by_kind: dict[str, int | None], now: datetime.datetime) -> list[RetentionStep]:
    """What retention would remove now (``days_by_kind``: days per kind of ``RETENTION_KINDS``,
    None to keep for ever; a kind not named is not touched); nothing is changed."""
    if now.utcoffset() is None:
        raise StorageError("retention: now must be timezone-aware")
    unknown = sorted(set(days_by_kind) - set(RETENTION_KINDS))
    if unknown:
        raise StorageError(f"retention: unknown table {unknown[0]!r}")
    ttl = "ttl" in store.server_features()
    steps = []
    for table in RETAINED_TABLES:
        kinds = [kind for kind, (kind_table, _) in RETENTION_KINDS.items() if kind_table == table]
        if not any(kind in days_by_kind for kind in kinds):
            continue
        cutoffs = {kind: _cutoff(now, days_by_kind.get(kind)) for kind in kinds}
        steps.extend(_partition_steps(store, table, cutoffs))
        if ttl:
            steps.append(RetentionStep(table, "set_ttl", "", 0, _ttl(kinds, days_by_kind), tuple(kinds)))
    return steps


def apply_retention(store: Storage, steps: list[RetentionStep]) -> None:
    """On a cluster (``?cluster=``), run it against every shard: it changes that shard's local tables."""
    for step in steps:
        table = f"{store.database}.{_stored(store, step.table)}"
        if step.action == "drop_partition":
            store.execute(f"ALTER TABLE {table} DROP PARTITION {int(step.partition)}")
        elif step.action == "delete_rows":
            store.execute(f"ALTER TABLE {table} DELETE WHERE toYYYYMM(time) = {int(step.partition)} AND ({step.sql})")
        elif step.action == "set_ttl":
            store.execute(f"ALTER TABLE {table} MODIFY TTL {step.sql}")


def _partition_steps(store: Storage, table: str, cutoffs: dict[str, datetime.datetime | None]) -> list[RetentionStep]:
    """Per partition holding old rows: drop it if every row in it is past its kind's cutoff,
    else delete the old rows of each kind. A kind kept for ever (cutoff None) keeps its rows."""
    counted = {kind: cutoff for kind, cutoff in cutoffs.items() if cutoff is not None}
    selects = [f"sum({RETENTION_KINDS[kind][1]}) AS rows_{n}" for n, kind in enumerate(cutoffs)]
    selects += [f"sum(({RETENTION_KINDS[kind][1]}) AND time < {{cutoff_{n}:DateTime('UTC')}}) AS old_{n}"
                for n, kind in enumerate(cutoffs) if kind in counted]
    params = {f"cutoff_{n}": cutoff for n, cutoff in enumerate(cutoffs.values()) if cutoff is not None}
    rows = store.query(
        f"SELECT toString(toYYYYMM(time)) AS partition, count() AS total, {', '.join(selects)}"
        f" FROM {{database}}.{_stored(store, table)} GROUP BY partition ORDER BY partition", params)
    steps = []
    for row in rows:
        month_end = _month_end(row["partition"])
        old = {kind: int(row[f"old_{n}"]) for n, kind in enumerate(cutoffs) if kind in counted}
        if not any(old.values()):
            continue
        whole = all(not row[f"rows_{n}"] or (cutoff is not None and month_end <= cutoff)
                    for n, (kind, cutoff) in enumerate(cutoffs.items()))
        if whole:
            steps.append(RetentionStep(table, "drop_partition", row["partition"], int(row["total"]), "",
                                       tuple(cutoffs)))
            continue
        for kind, count in old.items():
            if count:
                condition = f"{RETENTION_KINDS[kind][1]} AND time < toDateTime({int(counted[kind].timestamp())}, 'UTC')"
                steps.append(RetentionStep(table, "delete_rows", row["partition"], count, condition, (kind,)))
    return steps


def _ttl(kinds: list[str], days_by_kind: dict[str, int | None]) -> str:
    """One TTL expression for the table with each kind's period; a kind kept for ever (or not
    configured) expires in 2100, as far as a DateTime reaches with room to spare."""
    expires = [f"time + INTERVAL {int(days_by_kind[kind])} DAY" if days_by_kind.get(kind) is not None
               else _FOREVER for kind in kinds]
    if len(set(expires)) == 1:
        return expires[0]
    branches = [f"{RETENTION_KINDS[kind][1]}, {expiry}" for kind, expiry in zip(kinds[:-1], expires)]
    return f"multiIf({', '.join(branches)}, {expires[-1]})"


def _cutoff(now: datetime.datetime, days: int | None) -> datetime.datetime | None:
    if days is None:
        return None
    return (now - datetime.timedelta(days=days)).astimezone(datetime.UTC).replace(microsecond=0)


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
