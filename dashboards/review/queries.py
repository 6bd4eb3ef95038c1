"""What the review application reads and writes in ClickHouse.

Every statement is parameterized (``{name:Type}``); the values come from the
request and are never pasted into SQL. Every read is scoped: ``Scope`` says
which schools the signed-in person may see, and each query filters on it.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import uuid
from collections.abc import Iterable, Sequence

from socialwatch.storage import Storage

STATUSES = ("new", "in_review", "escalated", "resolved", "false_positive")
"""A flag's workflow: new -> in_review -> escalated / resolved / false_positive."""
OPEN_STATUSES = ("new", "in_review", "escalated")
SEVERITY_RANKS = {"low": 1, "medium": 2, "high": 3, "critical": 4}
CATEGORIES = ("self_harm", "violence", "bullying", "impersonation", "pii")

_RANK = "transform(severity, ['low', 'medium', 'high', 'critical'], [1, 2, 3, 4], 0)"


def status_of_flags(condition: str = "1") -> str:
    """Each flag's current status, from the review actions that match `condition`."""
    return f"""
    SELECT flag_id, argMax(status, sequence) AS current_status
    FROM {{database}}.review_actions FINAL
    WHERE status != '' AND {condition}
    GROUP BY flag_id"""


def _assignee_of_flags(condition: str = "1") -> str:
    return f"""
    SELECT flag_id, argMax(assignee, sequence) AS current_assignee
    FROM {{database}}.review_actions FINAL
    WHERE assignee != '' AND {condition}
    GROUP BY flag_id"""


@dataclasses.dataclass(frozen=True)
class Scope:
    """Which flags a person may see: every school (administrators) or the listed ones."""
    all_schools: bool
    schools: tuple[str, ...] = ()

    def clause(self, column: str = "school") -> str:
        return "1" if self.all_schools else f"has({{scope_schools:Array(String)}}, {column})"

    def params(self) -> dict:
        return {} if self.all_schools else {"scope_schools": list(self.schools)}


@dataclasses.dataclass(frozen=True)
class QueueFilter:
    category: str = ""
    severity: str = ""
    status: str = "open"
    """A status, ``open`` (new, in review, escalated) or ``all``."""
    school: str = ""
    platform: str = ""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None

    def clauses(self) -> tuple[list[str], dict]:
        where, params = [], {}
        if self.category:
            where.append("category = {f_category:String}")
            params["f_category"] = self.category
        if self.severity:
            where.append(f"{_RANK} >= {{f_rank:UInt8}}")
            params["f_rank"] = SEVERITY_RANKS.get(self.severity, 0)
        if self.school:
            where.append("school = {f_school:String}")
            params["f_school"] = self.school
        if self.platform:
            where.append("platform = {f_platform:String}")
            params["f_platform"] = self.platform
        if self.since:
            where.append("time >= {f_since:DateTime('UTC')}")
            params["f_since"] = self.since
        if self.until:
            where.append("time < {f_until:DateTime('UTC')}")
            params["f_until"] = self.until
        return where, params

    def status_clause(self) -> tuple[str, dict]:
        if self.status == "all":
            return "1", {}
        statuses = list(OPEN_STATUSES) if self.status == "open" else [self.status]
        return "has({f_statuses:Array(String)}, status)", {"f_statuses": statuses}


@dataclasses.dataclass(frozen=True)
class QueueItem:
    """One line of the queue: a flag, or a group of near-duplicate flags resolved together."""
    category: str
    severity: str
    status: str
    phrases: str
    first: str
    latest: str
    flags: int
    devices: int
    schools: list[str]
    platforms: list[str]
    flag_ids: list[str]
    assignee: str

    @property
    def is_group(self) -> bool:
        return self.flags > 1


_SEVERITY_OF_RANK = {rank: name for name, rank in SEVERITY_RANKS.items()}


class ReviewQueries:
    def __init__(self, store: Storage, duplicate_window_minutes: int = 60):
        self.store = store
        self.window_seconds = duplicate_window_minutes * 60

    def _flags_with_status(self, scope: Scope, where: Sequence[str], columns: str, *, prewhere: str = "",
                           actions: str = "1") -> str:
        """`prewhere`: a condition read first, before FINAL collapses copies (exact, since copies are identical in
        every column). ClickHouse moves nothing to PREWHERE by itself under FINAL (18.16 never moves a sort-key
        column), so without it a lookup by flag_id reads and merges every flag's text. `actions`: which
        review_actions rows to read (their sort key starts with flag_id)."""
        conditions = " AND ".join([scope.clause(), *where]) or "1"
        prewhere_clause = f"PREWHERE {prewhere}" if prewhere else ""
        return f"""
            SELECT {columns}, if(current_status = '', 'new', current_status) AS status, current_assignee AS assignee
            FROM (
                SELECT {columns}, current_status FROM (
                    SELECT * FROM {{database}}.flags FINAL {prewhere_clause} WHERE {conditions}
                ) AS scoped ANY LEFT JOIN ({status_of_flags(actions)}) AS statuses USING flag_id
            ) AS with_status ANY LEFT JOIN ({_assignee_of_flags(actions)}) AS assignees USING flag_id"""

    def queue(self, scope: Scope, flt: QueueFilter, limit: int = 50, offset: int = 0) -> list[QueueItem]:
        """Queue items, worst first: severity, then the latest time.

        Flags of one category with the same matched phrases and status, each within the duplicate
        window of the previous one (a class assignment, a viral post shared by many), are one item.
        Never for personal information: two students' phone numbers are not duplicates. ClickHouse
        gathers each set of same-phrase flags with its members' columns sorted by time, numbers the chains
        (a running count of the gaps longer than the window), and returns one page only.
        """
        where, params = flt.clauses()
        status_where, status_params = flt.status_clause()
        columns = "flag_id, category, severity, time, device, school, platform, match_phrase"
        by_time = "arraySort((x, t) -> t, groupArray({}), times)"
        sql = f"""
            SELECT category, status, any(shown) AS shown_phrases, max(rank) AS top_rank,
                   toDateTime(min(member_time), 'UTC') AS first, toDateTime(max(member_time), 'UTC') AS latest,
                   count() AS flags, uniqExact(device) AS devices, groupUniqArray(school) AS schools,
                   groupUniqArray(platform) AS platforms,
                   arrayMap(m -> tupleElement(m, 2), arraySort(groupArray((member_time, id)))) AS flag_ids,
                   argMaxIf(assignee, member_time, assignee != '') AS last_assignee
            FROM (
                SELECT category, status, if(category = 'pii', toString(flag_id), phrases) AS key,
                       any(phrases) AS shown, groupArray(toUInt32(time)) AS times, arraySort(times) AS ts,
                       arrayCumSum(arrayMap(i -> i > 1 AND ts[i] - ts[i - 1] > {{window:UInt32}},
                                            arrayEnumerate(ts))) AS chains,
                       {by_time.format("toString(flag_id)")} AS ids, {by_time.format(_RANK)} AS ranks,
                       {by_time.format("device")} AS member_devices, {by_time.format("school")} AS member_schools,
                       {by_time.format("platform")} AS member_platforms, {by_time.format("assignee")} AS assignees
                FROM (
                    SELECT *, arrayStringConcat(arraySort(arrayDistinct(match_phrase)), ' | ') AS phrases
                    FROM ({self._flags_with_status(scope, where, columns)})
                    WHERE {status_where}
                )
                GROUP BY category, status, key
            ) ARRAY JOIN ts AS member_time, chains AS chain, ids AS id, ranks AS rank, member_devices AS device,
                         member_schools AS school, member_platforms AS platform, assignees AS assignee
            GROUP BY category, status, key, chain
            ORDER BY top_rank DESC, latest DESC, key, chain
            LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}"""
        rows = self.store.query(sql, {**params, **status_params, **scope.params(), "window": self.window_seconds,
                                      "limit": limit, "offset": offset})
        return [QueueItem(row["category"], _SEVERITY_OF_RANK.get(int(row["top_rank"]), "low"), row["status"],
                          row["shown_phrases"], row["first"], row["latest"], int(row["flags"]), int(row["devices"]),
                          sorted(row["schools"]), sorted(row["platforms"]), row["flag_ids"], row["last_assignee"])
                for row in rows]

    def status_counts(self, scope: Scope, flt: QueueFilter) -> dict[str, int]:
        where, params = flt.clauses()
        sql = f"""SELECT status, count() AS n
                  FROM ({self._flags_with_status(scope, where, 'flag_id')}) GROUP BY status"""
        counts = {status: 0 for status in STATUSES}
        for row in self.store.query(sql, {**params, **scope.params()}):
            counts[row["status"]] = int(row["n"])
        return counts

    def flag(self, scope: Scope, flag_id: str) -> dict | None:
        """The flag with its event metadata, status and assignee; None when absent or out of scope."""
        columns = ("flag_id, event_id, time, device, person, platform, host, action, school, age_band, category, "
                   "severity, score, threshold, text, explanation, match_phrase, match_subcategory, match_severity, "
                   "match_weight, match_start, match_end")
        one = "flag_id = {flag:UUID}"
        rows = self.store.query(
            f"SELECT * FROM ({self._flags_with_status(scope, [], columns, prewhere=one, actions=one)})",
            {"flag": flag_id, **scope.params()})
        return rows[0] if rows else None

    def flags_in_scope(self, scope: Scope, flag_ids: Iterable[str]) -> list[dict]:
        """The flags among `flag_ids` the scope may see, with their event ids."""
        ids = list(flag_ids)
        if not ids:
            return []
        return self.store.query(
            f"""SELECT toString(flag_id) AS flag_id, toString(event_id) AS event_id FROM (
                    SELECT flag_id, event_id FROM {{database}}.flags FINAL
                    WHERE has({{ids:Array(UUID)}}, flag_id) AND {scope.clause()})""", {"ids": ids, **scope.params()})

    def device_activity(self, device: str, around: datetime.datetime, minutes: int, limit: int = 200) -> list[dict]:
        """The device's social-media activity (metadata) from `minutes` before to `minutes` after."""
        return self.store.query(
            """SELECT time, platform, action, host, status, flagged, source
               FROM {database}.events FINAL
               WHERE device = {device:String}
                 AND time >= {since:DateTime('UTC')} AND time <= {until:DateTime('UTC')}
               ORDER BY time LIMIT {limit:UInt32}""",
            {"device": device, "since": around - datetime.timedelta(minutes=minutes),
             "until": around + datetime.timedelta(minutes=minutes), "limit": limit})

    def earlier_flags(self, scope: Scope, person: str, before: datetime.datetime, limit: int = 20) -> list[dict]:
        if not person:
            return []
        return self.store.query(
            f"""SELECT toString(flag_id) AS flag_id, time, category, severity, platform
                FROM {{database}}.flags FINAL PREWHERE person = {{person:String}}
                WHERE time < {{before:DateTime('UTC')}} AND {scope.clause()}
                ORDER BY time DESC LIMIT {{limit:UInt32}}""",
            {"person": person, "before": before, "limit": limit, **scope.params()})

    def timeline(self, flag_id: str) -> list[dict]:
        return self.store.query(
            """SELECT time, reviewer, action, status, assignee, note
               FROM {database}.review_actions FINAL WHERE flag_id = {flag:UUID} ORDER BY sequence""",
            {"flag": flag_id})

    def record_action(self, reviewer: str, flags: Sequence[dict], action: str, *, status: str = "",
                      assignee: str = "", note: str = "") -> None:
        """One review action on each of `flags` (dicts with flag_id and event_id)."""
        now = datetime.datetime.now(datetime.UTC)
        sequence = time.time_ns() // 1000
        self.store.append("review_actions", [
            (uuid.uuid4(), uuid.UUID(flag["flag_id"]), uuid.UUID(flag["event_id"]), now, reviewer, action, note,
             status, assignee, sequence) for flag in flags])

    def audit(self, actor: str, action: str, obj: str, detail: str) -> None:
        self.store.append("audit_log", [(uuid.uuid4(), datetime.datetime.now(datetime.UTC), actor, action, obj, detail)])

    def audit_entries(self, *, actor: str = "", action: str = "", since: datetime.datetime | None = None,
                      limit: int = 500) -> list[dict]:
        where, params = ["1"], {"limit": limit}
        if actor:
            where.append("actor = {actor:String}")
            params["actor"] = actor
        if action:
            where.append("action = {action:String}")
            params["action"] = action
        if since:
            where.append("time >= {since:DateTime('UTC')}")
            params["since"] = since
        return self.store.query(
            f"""SELECT time, actor, action, object, detail FROM {{database}}.audit_log FINAL
                WHERE {' AND '.join(where)} ORDER BY time DESC LIMIT {{limit:UInt32}}""", params)

    def propose_suppression(self, reviewer: str, flag: dict, phrase: str, context: str, note: str) -> str:
        suppression_id = uuid.uuid4()
        self._write_suppression(suppression_id, flag["flag_id"], flag["category"], phrase, context, reviewer,
                                "proposed", "", note)
        return str(suppression_id)

    def suppressions(self, status: str = "") -> list[dict]:
        return self.store.query(
            """SELECT toString(suppression_id) AS suppression_id, time, toString(flag_id) AS flag_id,
                      category, phrase, context, proposed_by, status, decided_by, note
               FROM {database}.suppressions FINAL
               WHERE {status:String} = '' OR status = {status:String} ORDER BY time DESC LIMIT 500""",
            {"status": status})

    def decide_suppression(self, administrator: str, proposal: dict, status: str) -> None:
        self._write_suppression(uuid.UUID(proposal["suppression_id"]), proposal["flag_id"], proposal["category"],
                                proposal["phrase"], proposal["context"], proposal["proposed_by"], status,
                                administrator, proposal["note"])

    def _write_suppression(self, suppression_id: uuid.UUID, flag_id: str, category: str, phrase: str, context: str,
                           proposed_by: str, status: str, decided_by: str, note: str) -> None:
        self.store.append("suppressions", [(
            suppression_id, time.time_ns() // 1000, datetime.datetime.now(datetime.UTC), uuid.UUID(flag_id),
            category, phrase, context, proposed_by, status, decided_by, note)])

    def filter_options(self, scope: Scope) -> dict[str, list[str]]:
        """Schools and platforms that occur among the flags the scope may see, for the filter menus."""
        rows = self.store.query(
            f"""SELECT groupUniqArray(school) AS schools, groupUniqArray(platform) AS platforms
                FROM {{database}}.flags WHERE {scope.clause()}""", scope.params())
        row = rows[0] if rows else {"schools": [], "platforms": []}
        return {"schools": sorted(s for s in row["schools"] if s), "platforms": sorted(row["platforms"])}
