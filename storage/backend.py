"""What every storage backend shares: the interface, migrations, rows, errors.

A backend (``clickhouse_native``, ``chdb_embedded``) only knows how to run a
statement, run a parameterized SELECT and insert rows; everything else lives
here, so both backends store exactly the same rows.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime
import hashlib
import importlib.resources
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence

from socialwatch.classifier.flags import Flag

from socialwatch.events import ActivityEvent

from .features import FEATURES, detect_features

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "socialwatch"

_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""Database names are identifiers pasted into SQL, so only this strict form is allowed."""

_LOOKUP_CHUNK = 2000
"""Ids per lookup of ``write_missing``: about 90 kB of SQL, well under 18.16's 256 kB max_query_size."""

_MIGRATION_FILE = re.compile(r"(\d{4})_(\w+)\.sql")
_REQUIRES = re.compile(r"--\s*requires:\s*(\w+)")
_REQUIRES_MARK = "\0requires "

EVENT_COLUMNS = (
    "event_id", "time", "device", "person", "platform", "host", "method", "path",
    "action", "status", "request_bytes", "response_bytes", "flagged", "source", "protocol", "target",
    "school", "age_band", "professional",
)
FLAG_COLUMNS = (
    "flag_id", "event_id", "time", "device", "person", "platform", "host", "action", "school", "age_band",
    "category", "severity", "score", "threshold", "text", "explanation",
    "match_phrase", "match_subcategory", "match_severity", "match_weight",
    "match_start", "match_end",
)

_FLAG_CATEGORY = FLAG_COLUMNS.index("category")

REVIEW_COLUMNS = ("review_id", "flag_id", "event_id", "time", "reviewer", "action", "note",
                  "status", "assignee", "sequence")
AUDIT_COLUMNS = ("audit_id", "time", "actor", "action", "object", "detail")
ALERT_COLUMNS = ("alert_id", "flag_id", "time", "school", "level", "contact", "channel", "outcome")
SUPPRESSION_COLUMNS = ("suppression_id", "sequence", "time", "flag_id", "category", "phrase", "context",
                       "proposed_by", "status", "decided_by", "note")
APPEND_ONLY_TABLES = {"review_actions": REVIEW_COLUMNS, "audit_log": AUDIT_COLUMNS,
                      "alerts": ALERT_COLUMNS, "suppressions": SUPPRESSION_COLUMNS}
"""Tables written by ``Storage.append``, with their columns in row order."""
ROLLUP_COLUMNS = {
    "activity_hourly": ("hour", "school", "platform", "action", "events", "flagged", "request_bytes", "response_bytes"),
    "flags_hourly": ("hour", "school", "category", "severity", "flags"),
}
"""The hourly rollups (migrations 0002 and 0005): key columns, then the counts they sum."""


class StorageError(Exception):
    """Any storage failure. The message never contains a password."""


def redact_url(url: str) -> str:
    """The url with its password replaced by ``***``, fit for logs.

    >>> redact_url("clickhouse://sw:hunter2@db:9000/socialwatch")
    'clickhouse://sw:***@db:9000/socialwatch'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"  # it may still hold a password somewhere
    if password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def validate_database(name: str) -> str:
    if not _DATABASE_NAME.fullmatch(name):
        raise StorageError(f"invalid database name {name!r}: use letters, digits and _ (not first), at most 63")
    return name


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, database: str, cluster: str | None = None, replicated: bool = False,
                   feature: str | None = None) -> list[str]:
        """The statements of the file for ``database``: those gated on `feature` by a
        ``-- requires: FEATURE`` line, or the ungated ones when `feature` is None; with
        `cluster`, rewritten for one shard of that cluster (storage/cluster.py)."""
        statements = [text for required, text in self._parsed(database) if required == feature]
        if cluster is not None:
            from .cluster import cluster_statements
            return cluster_statements(statements, database, cluster, self.name, replicated)
        return statements

    @property
    def features(self) -> frozenset[str]:
        """The server features some of its statements require."""
        return frozenset(required for required, _ in self._parsed("database") if required is not None)

    def _parsed(self, database: str) -> list[tuple[str | None, str]]:
        """(required feature or None, statement) in file order, comment lines dropped."""
        lines = []
        for line in self.sql.splitlines():
            if requires := _REQUIRES.fullmatch(line.strip()):
                lines.append(_REQUIRES_MARK + requires.group(1))
            elif not line.lstrip().startswith("--"):
                lines.append(line)
        parsed = []
        for chunk in "\n".join(lines).replace("{database}", database).split(";"):
            required = [line.removeprefix(_REQUIRES_MARK) for line in chunk.splitlines()
                        if line.startswith(_REQUIRES_MARK)]
            text = "\n".join(line for line in chunk.splitlines() if not line.startswith(_REQUIRES_MARK)).strip()
            if len(required) > 1 or required and not text:
                raise StorageError(f"migration {self.name}: one '-- requires:' line per statement, before it")
            if required and required[0] not in FEATURES:
                raise StorageError(f"migration {self.name}: unknown server feature {required[0]!r}")
            if text.replace("''", "").count("'") % 2:
                raise StorageError(f"migration {self.name}: a ';' inside a quoted string splits a statement")
            if text:
                parsed.append((required[0] if required else None, text))
        return parsed


def load_migrations() -> list[Migration]:
    """Every ``migrations/NNNN_name.sql`` shipped with the package, in version order."""
    found = []
    for resource in (importlib.resources.files(__package__) / "migrations").iterdir():
        match = _MIGRATION_FILE.fullmatch(resource.name)
        if match:
            name = resource.name.removesuffix(".sql")
            found.append(Migration(int(match.group(1)), name, resource.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def event_row(event: ActivityEvent, flagged: bool) -> tuple:
    """The ``events`` row: metadata only; ``event.text`` is never part of it."""
    return (
        event.event_id, _utc(event), event.device, event.person, event.platform, event.host,
        event.method, event.path, event.action, event.status, event.request_bytes,
        event.response_bytes, int(flagged), event.source, event.protocol, event.target,
        event.school, event.age_band, int(event.professional),
    )


def event_columns(batch: Sequence[tuple[ActivityEvent, Sequence[Flag]]]) -> list[list]:
    """The ``events`` rows of `batch` as columns (``EVENT_COLUMNS`` order): the same values
    as ``event_row``, built column by column, which is what a native insert sends."""
    events = [event for event, _ in batch]
    return [
        [e.event_id for e in events], [_utc(e) for e in events], [e.device for e in events],
        [e.person for e in events], [e.platform for e in events], [e.host for e in events],
        [e.method for e in events], [e.path for e in events], [e.action for e in events],
        [e.status for e in events], [e.request_bytes for e in events], [e.response_bytes for e in events],
        [1 if flags else 0 for _, flags in batch], [e.source for e in events], [e.protocol for e in events],
        [e.target for e in events], [e.school for e in events], [e.age_band for e in events],
        [1 if e.professional else 0 for e in events],
    ]


def flag_row(event: ActivityEvent, flag: Flag) -> tuple:
    """The ``flags`` row: the event's metadata and text, the flag and its matches."""
    matches = flag.matches
    return (
        flag_id(event.event_id, flag.category), event.event_id, _utc(event), event.device,
        event.person, event.platform, event.host, event.action, event.school, event.age_band,
        flag.category, flag.severity,
        float(flag.score), float(flag.threshold), event.text, flag.explanation,
        [m.phrase for m in matches], [m.subcategory for m in matches],
        [m.severity for m in matches], [float(m.weight) for m in matches],
        [m.start for m in matches], [m.end for m in matches],
    )


def dedup_token(table: str, ids: Sequence[uuid.UUID]) -> str:
    """The insert's name for servers with ``insert_deduplication_token``: the same rows, the same name."""
    digest = hashlib.sha256(table.encode())
    for row_id in ids:
        digest.update(row_id.bytes)
    return digest.hexdigest()


def flag_id(event_id: uuid.UUID, category: str) -> uuid.UUID:
    """Deterministic, so a retried batch writes the same flag ids."""
    return uuid.uuid5(event_id, category)


def _utc(event: ActivityEvent) -> int:
    """The event time as whole Unix seconds: what a DateTime column holds, and what both
    backends take without a time-zone conversion per row (the driver's is costly)."""
    if event.time.utcoffset() is None:
        raise StorageError(f"event {event.event_id} has a naive time; events carry timezone-aware UTC times")
    return int(event.time.timestamp())


def plain_param(value: object) -> object:
    """A query parameter reduced to str, int, float or list of those.

    Datetimes become Unix timestamps: unlike text, a number means the same
    instant whatever the server's time zone (ClickHouse 18.16 parses
    '2026-01-01 00:00:00' in the server zone even for a DateTime('UTC') value).
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, datetime.datetime):
        if value.utcoffset() is None:
            raise StorageError("datetime query parameters must be timezone-aware")
        return int(value.timestamp())
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain_param(item) for item in value]
    raise StorageError(f"unsupported query parameter type {type(value).__name__}")


class Storage(abc.ABC):
    """Events and flags in ClickHouse; make one with ``open_storage(url)``::

        store = open_storage("chdb:var/socialwatch")
        store.migrate()               # ['0001_initial'], then []
        store.write([(event, flags)])
        store.query("SELECT count() AS n FROM {database}.flags WHERE category = {c:String}",
                    {"c": "bullying"})  # [{'n': 1}]

    In SQL given to ``query``, ``{database}`` stands for the storage's database
    and ``{name:Type}`` for a parameter. Methods are safe to call from several
    threads; calls are serialized.
    """

    cluster: str | None = None
    """Name of the ClickHouse cluster whose shard this storage migrates (``?cluster=``), or None."""
    replicated: bool = False
    """With a cluster: its local tables are Replicated*MergeTree (``?replicated=1``, untested)."""

    def __init__(self, url: str, database: str, secrets: Sequence[str] = ()):
        self.database = validate_database(database)
        self._url = url
        self._secrets = [secret for secret in secrets if secret]
        self._lock = threading.Lock()
        self._closed = False
        self._features: frozenset[str] | None = None

    def migrate(self) -> list[str]:
        """Apply pending migrations in order, then the statements gated on a feature the
        server has and which have not run yet (also after a server upgrade); return what
        was applied, ``name`` or ``name (feature)`` ([] when up to date)."""
        with self._using("migrate"):
            applied_versions = self._applied_versions()
            applied = []
            for migration in load_migrations():
                if migration.version in applied_versions:
                    continue
                for statement in migration.statements(self.database, self.cluster, self.replicated):
                    self._execute(statement)
                self._insert("schema_migrations", ("version", "name", "applied_at"),
                             [(migration.version, migration.name, datetime.datetime.now(datetime.UTC))])
                applied.append(migration.name)
            self._features = self._detect_features()
            for migration, feature in self._pending_features():
                for statement in migration.statements(self.database, self.cluster, self.replicated, feature):
                    self._execute(statement)
                self._insert("schema_features", ("version", "feature", "applied_at"),
                             [(migration.version, feature, datetime.datetime.now(datetime.UTC))])
                applied.append(f"{migration.name} ({feature})")
            return applied

    def schema_status(self) -> tuple[int, list[str]]:
        """(highest applied version or 0, names of pending migrations and ``name (feature)``
        of gated statements the server could run but has not)."""
        with self._using("schema status"):
            applied_versions = self._applied_versions()
            pending = [m.name for m in load_migrations() if m.version not in applied_versions]
            self._features = self._detect_features()
            if not pending:
                pending = [f"{migration.name} ({feature})" for migration, feature in self._pending_features()]
            return max(applied_versions, default=0), pending

    def server_features(self) -> frozenset[str]:
        """The storage/features.py features of the server, asked once."""
        with self._using("server features"):
            if self._features is None:
                self._features = self._detect_features()
            return self._features

    def write(self, batch: Sequence[tuple[ActivityEvent, Sequence[Flag]]]) -> None:
        """Insert every event into ``events`` and each of its flags into ``flags``.

        Not atomic across the two tables: after a StorageError, retry the whole
        batch (ids are stable, so duplicates can be recognised).
        """
        with self._using("write"):
            flags = [flag_row(event, flag) for event, event_flags in batch for flag in event_flags]
            self._write_rows(batch, flags)

    def write_missing(self, batch: Sequence[tuple[ActivityEvent, Sequence[Flag]]]) -> tuple[int, int]:
        """Write a batch an earlier attempt may have stored, in whole or in part: only the
        events and flags not already stored. Returns (events, flags) written.

        For retries after an unknown outcome and for spool replays: a row stored twice
        would collapse under FINAL in ``events``/``flags``, but the materialized views
        would count it twice in the rollups. One indexed lookup per table first.

        Rows found stored may have lost their count in the rollups (a server killed
        between an insert's table and its views), so their hours are noted in
        ``rollup_checks`` for ``rollup_repair.repair_rollups``.
        """
        with self._using("write"):
            if not batch:
                return 0, 0
            times = [_utc(event) for event, _ in batch]
            span = {"first": min(times), "last": max(times)}
            stored_events = self._stored_ids("events", "event_id", "device",
                                             [(event.event_id, event.device) for event, _ in batch], span)
            events = [(event, flags) for event, flags in batch if event.event_id not in stored_events]
            rows = [flag_row(event, flag) for event, event_flags in batch for flag in event_flags]
            stored_flags = self._stored_ids("flags", "flag_id", "category",
                                            [(row[0], row[_FLAG_CATEGORY]) for row in rows], span)
            flags = [row for row in rows if row[0] not in stored_flags]
            found_hours = {time - time % 3600 for (event, event_flags), time in zip(batch, times)
                           if event.event_id in stored_events
                           or any(flag_id(event.event_id, flag.category) in stored_flags for flag in event_flags)}
            if found_hours:
                self._note_hours(sorted(found_hours))
            self._write_rows(events, flags)
            return len(events), len(flags)

    def _note_hours(self, hours: list[int]) -> None:
        """Note hours for the rollup repair. Best effort: a writer that may not (grants.sql of
        an earlier version) still writes its events, and says what the dashboards may lack."""
        try:
            self._insert("rollup_checks", ("hour", "kind"), [(hour, "noted") for hour in hours])
        except Exception as exc:  # noqa: BLE001 - the events matter more than the rollups
            message = self._without_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0])
            log.error("socialwatch: cannot note %d hour(s) for the rollup repair (%s): the dashboards may "
                      "undercount them; let the writer insert into %s.rollup_checks (docs/storage.md)",
                      len(hours), message, self.database)

    def _write_rows(self, batch: Sequence[tuple[ActivityEvent, Sequence[Flag]]], flags: list[tuple]) -> None:
        """Insert the events of `batch` and the flag rows, each insert named by its ids where
        the server takes a deduplication token (a re-sent block is then dropped, not stored)."""
        named = "dedup_token" in self._known_features()
        if batch:
            token = dedup_token("events", [event.event_id for event, _ in batch]) if named else None
            self._insert_columns("events", EVENT_COLUMNS, event_columns(batch), token)
        if flags:
            token = dedup_token("flags", [row[0] for row in flags]) if named else None
            self._insert("flags", FLAG_COLUMNS, flags, token)

    def _known_features(self) -> frozenset[str]:
        """The server's features for the writer, without the lock ``server_features`` takes."""
        if self._features is None:
            try:
                self._features = self._detect_features()
            except Exception:  # noqa: BLE001 - a server that will not say is treated as having none
                self._features = frozenset()
        return self._features

    def _detect_features(self) -> frozenset[str]:
        return detect_features(lambda sql: self._select(sql, {}))

    def _stored_ids(self, table: str, id_column: str, key_column: str,
                    wanted: Sequence[tuple[uuid.UUID, str]], span: dict) -> set[uuid.UUID]:
        """Which of the (id, first sort-key column) pairs `table` already holds within the
        batch's time span: the sort key's prefix, the time and the id narrow the read to a
        few granules."""
        stored: set[uuid.UUID] = set()
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start:start + _LOOKUP_CHUNK]
            rows = self._select(
                f"SELECT DISTINCT toString({id_column}) AS id FROM {self.database}.{table}"
                f" WHERE {key_column} IN (SELECT arrayJoin({{keys:Array(String)}}))"
                " AND time >= {first:DateTime('UTC')} AND time <= {last:DateTime('UTC')}"
                f" AND {id_column} IN (SELECT arrayJoin({{ids:Array(UUID)}}))",
                {"keys": sorted({key for _, key in chunk}), "ids": [str(row_id) for row_id, _ in chunk], **span},
            )
            stored.update(uuid.UUID(row["id"]) for row in rows)
        return stored

    def append(self, table: str, rows: Sequence[tuple]) -> None:
        """Insert rows into a table of ``APPEND_ONLY_TABLES`` (columns in its
        order; ids chosen by the caller, so a retried append collapses under FINAL)."""
        if table not in APPEND_ONLY_TABLES:
            raise StorageError(f"append: {table!r} is not one of {', '.join(APPEND_ONLY_TABLES)}")
        with self._using("append"):
            if rows:
                self._insert(table, APPEND_ONLY_TABLES[table], list(rows))

    def add_to_rollup(self, database: str, table: str, rows: Sequence[tuple]) -> None:
        """Add counts to a rollup of ``ROLLUP_COLUMNS`` (columns in its order) in `database`,
        this storage's or its ``_dashboards`` copy: for ``rollup_repair`` alone, since the
        materialized views count everything else."""
        if table not in ROLLUP_COLUMNS or database not in (self.database, f"{self.database}_dashboards"):
            raise StorageError(f"add_to_rollup: {database}.{table} is not a rollup of {self.database}")
        with self._using("add to rollup"):
            if rows:
                self._insert(table, ROLLUP_COLUMNS[table], list(rows), database=database)

    def mark_rollup_checked(self, hour: int, as_of: int) -> None:
        """Record that `hour`'s rollups were checked against notes up to `as_of` (Unix
        seconds, the server's clock): for ``rollup_repair`` alone."""
        with self._using("mark rollup checked"):
            self._insert("rollup_checks", ("hour", "kind", "at"), [(hour, "checked", as_of)])

    def query(self, sql: str, params: dict | None = None) -> list[dict]:
        """Rows of a parameterized SELECT as dicts of str, int, float and lists."""
        with self._using("query"):
            values = {name: plain_param(value) for name, value in (params or {}).items()}
            return self._select(sql.replace("{database}", self.database), values)

    def execute(self, sql: str) -> None:
        """Run one statement without data or result (DDL, ALTER); ``{database}`` is replaced.
        For administration (migrations, retention): never build it from untrusted values."""
        with self._using("execute"):
            self._execute(sql.replace("{database}", self.database))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _pending_features(self) -> list[tuple[Migration, str]]:
        """(applied migration, feature) whose gated statements the server can run and has not."""
        applied_versions = self._applied_versions()
        done = set()
        if self._has_table("schema_features"):
            done = {(row["version"], row["feature"]) for row in
                    self._select(f"SELECT version, feature FROM {self.database}.schema_features", {})}
        return [(migration, feature) for migration in load_migrations() if migration.version in applied_versions
                for feature in sorted(migration.features & self._features) if (migration.version, feature) not in done]

    def _has_table(self, table: str) -> bool:
        [row] = self._select("SELECT count() AS n FROM system.tables WHERE database = {database:String}"
                             " AND name = {table:String}", {"database": self.database, "table": table})
        return bool(row["n"])

    def _applied_versions(self) -> set[int]:
        if not self._has_table("schema_migrations"):
            return set()
        rows = self._select(f"SELECT version FROM {self.database}.schema_migrations", {})
        return {row["version"] for row in rows}

    @contextlib.contextmanager
    def _using(self, action: str) -> Iterator[None]:
        """Serialize calls and turn every failure into a StorageError without secrets."""
        with self._lock:
            if self._closed:
                raise StorageError(f"{action}: storage {redact_url(self._url)} is closed")
            try:
                yield
            except StorageError:
                raise
            except Exception as exc:
                message = f"{action} failed on {redact_url(self._url)}: {type(exc).__name__}: {exc}"
                raise StorageError(self._without_secrets(message)) from exc

    def _without_secrets(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    @abc.abstractmethod
    def _execute(self, sql: str) -> None:
        """Run one statement without parameters or result (DDL)."""

    @abc.abstractmethod
    def _select(self, sql: str, params: dict) -> list[dict]:
        """Run one SELECT with ``{name:Type}`` placeholders filled from ``params``."""

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple], dedup_token: str | None = None,
                database: str | None = None) -> None:
        """Insert rows of Python values into ``database.table`` without SQL text for data."""
        self._insert_columns(table, columns, [list(column) for column in zip(*rows)], dedup_token, database)

    @abc.abstractmethod
    def _insert_columns(self, table: str, names: Sequence[str], columns: list[list],
                        dedup_token: str | None = None, database: str | None = None) -> None:
        """Insert rows given as columns into `database` (default: the storage's), with
        ``insert_deduplication_token`` when given."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the connection or session."""
