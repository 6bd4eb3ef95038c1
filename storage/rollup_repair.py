"""Rollup repair: give the hourly rollups back the counts a ClickHouse crash took.

    repairs, busy = repair_rollups(store)      # socialwatch db repair-rollups, on a timer

ClickHouse writes an insert's block to ``events`` (or ``flags``) first, then to each
materialized view's table, each a commit of its own. A server killed between the two
keeps the rows and loses their count; the writer's retry finds the rows stored and,
rightly, does not write them again. So ``Storage.write_missing`` notes in
``rollup_checks`` the hours of every row it finds already stored, and this module, for
each noted hour, compares the four rollups (``activity_hourly`` and ``flags_hourly``, in
the database and its ``_dashboards`` copy) with ``events FINAL`` and ``flags FINAL`` and
adds to each what it lacks.

Counts move while writers write, and a writer's insert is briefly in its table and not
yet in the views. So every pending hour is read twice, `settle` seconds apart, and only
keys whose counts held still are repaired; an hour with a moving key stays noted for the
next run. An hour read still is marked checked as of the run's start (the server's clock,
which stamps the notes); a note made in that same second is covered too, since the rows it
found were stored before it and `settle` is at least the clock's one second. A rollup
that holds *more* than the events (retention deleted them, or a copy was counted) is left
alone: a count is only ever added.

Run it from one process at a time (the timer): two repairs of the same hour at once
would both add the difference.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

from .backend import ROLLUP_COLUMNS, Storage

UTC = datetime.timezone.utc
MIN_SETTLE = 1.0
"""Seconds between the two reads of an hour, at least: the resolution of the clock that stamps notes."""

SOURCES = {
    # rollup: (the table its materialized view reads, {count column: its aggregate there})
    "activity_hourly": ("events", {"events": "count()", "flagged": "sum(flagged)",
                                   "request_bytes": "sum(request_bytes)", "response_bytes": "sum(response_bytes)"}),
    "flags_hourly": ("flags", {"flags": "count()"}),
}

Counts = dict[tuple[str, ...], dict[str, int]]
"""{key: {count column: value}} of one rollup's hour."""


@dataclasses.dataclass(frozen=True)
class Repair:
    """Counts added to one row of a rollup."""
    database: str
    table: str
    hour: datetime.datetime
    key: tuple[str, ...]
    added: dict[str, int]

    def __str__(self) -> str:
        key = " / ".join(part or "-" for part in self.key)  # "-": a school not on the roster
        counts = ", ".join(f"{name} +{value}" for name, value in self.added.items() if value)
        return f"{self.database}.{self.table} {self.hour:%Y-%m-%d %H:00} {key}: {counts}"


def pending_hours(store: Storage) -> list[datetime.datetime]:
    """Hours noted by a writer since their last check, oldest first."""
    rows = store.query(
        "SELECT toUInt32(hour) AS hour FROM {database}.rollup_checks GROUP BY hour"
        " HAVING maxIf(at, kind = 'noted') > maxIf(at, kind = 'checked') ORDER BY hour")
    return [datetime.datetime.fromtimestamp(row["hour"], UTC) for row in rows]


def repair_rollups(store: Storage, settle: float = 2.0) -> tuple[list[Repair], list[datetime.datetime]]:
    """Repair every pending hour whose counts hold still; return the repairs made and the
    hours left noted because a count moved while they were read."""
    [now] = store.query("SELECT toUInt32(now()) AS now")
    hours = pending_hours(store)
    if not hours:
        return [], []
    before = {hour: _counts(store, hour) for hour in hours}
    time.sleep(max(settle, MIN_SETTLE))
    repairs, busy = [], []
    for hour in hours:
        quiet = True
        for (database, table), (truth, rolled) in _counts(store, hour).items():
            earlier_truth, earlier_rolled = before[hour][database, table]
            rows = []
            for key, counts in truth.items():
                if (counts, rolled.get(key)) != (earlier_truth.get(key), earlier_rolled.get(key)):
                    quiet = False
                    continue
                have = rolled.get(key, {})
                added = {name: max(0, value - have.get(name, 0)) for name, value in counts.items()}
                if any(added.values()):
                    rows.append((hour, *key, *added.values()))
                    repairs.append(Repair(database, table, hour, key, added))
            store.add_to_rollup(database, table, rows)
        if quiet:
            store.mark_rollup_checked(int(hour.timestamp()), now["now"])
        else:
            busy.append(hour)
    return repairs, busy


def _counts(store: Storage, hour: datetime.datetime) -> dict[tuple[str, str], tuple[Counts, Counts]]:
    """{(database, rollup): (what its source holds, what it counted)} for one hour."""
    span = {"hour": hour, "end": hour + datetime.timedelta(hours=1)}
    counts = {}
    for table, (source, sums) in SOURCES.items():
        keys = ROLLUP_COLUMNS[table][1:-len(sums)]
        group = ", ".join(keys)
        truth = _by_key(keys, sums, store.query(
            f"SELECT {group}, {', '.join(f'{sql} AS {name}' for name, sql in sums.items())}"
            f" FROM {{database}}.{source} FINAL"
            " WHERE time >= {hour:DateTime('UTC')} AND time < {end:DateTime('UTC')}"
            f" GROUP BY {group}", span))
        for database in (store.database, f"{store.database}_dashboards"):
            rolled = _by_key(keys, sums, store.query(
                f"SELECT {group}, {', '.join(f'sum({name}) AS {name}' for name in sums)}"
                f" FROM {database}.{table} WHERE hour = {{hour:DateTime('UTC')}} GROUP BY {group}", span))
            counts[database, table] = (truth, rolled)
    return counts


def _by_key(keys: tuple[str, ...], sums: dict[str, str], rows: list[dict]) -> Counts:
    return {tuple(row[key] for key in keys): {name: int(row[name]) for name in sums} for row in rows}
