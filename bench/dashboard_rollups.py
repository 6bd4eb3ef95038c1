"""Dashboard queries on the rollups against the same questions on the raw tables, on a
real ClickHouse server holding 10,000,000 events: do the rollups pay for themselves?
One run.

- store: Debian's clickhouse-server (18.16) on a free loopback port in a temporary
  directory, migrated with ``open_storage(url).migrate()``, loaded with 10,000,000 events
  (default; ``--events N``, ``--quick`` for 200,000) shaped like a district's last 90
  days: 10 schools (and 4 % of devices unknown to the roster: no school), 25 platforms
  and 9 actions with skewed shares, 20,000 devices of unequal activity, a school-day and
  weekday rhythm (America/Chicago), 0.5 % of events flagged, with their flags (about
  54,000 rows at the default size: five categories, the English lexicon's phrases, one
  flagged event in twelve with a second flag).
  Loaded in time order, as the writer writes, in blocks of 500,000 rows with
  clickhouse-driver's columnar native INSERT straight into ``events`` and ``flags``, so
  the materialized views fill ``activity_hourly`` and ``flags_hourly`` as in production
  (one aggregate per insert block). No ``OPTIMIZE``: the merges running when the load
  ends are let finish (as between two bursts of writes), nothing more, so the rollups
  are measured partly merged, as a dashboard sees them; rows, keys (the rows once fully
  merged), parts and running merges are printed before and after the queries. Merges
  matter to the raw side too: a part holding only older times is skipped by its
  partition-key min/max, so freshly written, time-ordered parts spare the raw table
  reading that merged ones do not.
- queries: each dashboard question on the rollup (with ``sum()``, as every rollup
  reader must) and on the raw table. ``count()`` without ``FINAL`` is the fair
  comparison: the views count inserts, so the rollups are exactly as exact as that;
  with ``FINAL`` is what a count that is exact under replays costs (docs/storage.md,
  "Rollups"). Per query: one warm-up of each form, whose results are compared (the
  rollup's sums must equal the raw counts, with and without FINAL), then rounds that
  alternate the forms (and their order), so all see the same caches and background
  merges. Latency is wall time in the client (clickhouse-driver: sent, run, every result
  row received and decoded); "rows to read" is the server's count of the rows in the
  parts and marks it could not skip, the range of it over the runs.
- insert cost: the same 500,000-row block inserted into a database with the views and
  into one with only ``events`` and ``flags``, alternately, best of 5.

Loading: clickhouse-driver packs a UUID column one ``uuid.UUID`` object at a time and
encodes every ``str`` of a String column; both were most of the load's time at this size
(see docs/dashboards.md, "Performance"). So the numeric and time columns go as NumPy
arrays (``use_numpy``), the strings as ``bytes`` taken from small pools, and ``event_id``
as an (n, 2) uint64 array through a UUID column class registered for this process
(``NumpyUUIDColumn``), while the next block is generated in a second thread.

Run: .venv/bin/python bench/dashboard_rollups.py [--events N] [--quick] [--repeat R] [--final-repeat F]
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import datetime
import logging
import math
import pathlib
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test suite's server launcher

from clickhouse_driver import Client
from clickhouse_driver.columns.service import column_by_type
from clickhouse_driver.columns.uuidcolumn import UUIDColumn
from socialwatch.storage import open_storage
from socialwatch.storage.backend import EVENT_COLUMNS, FLAG_COLUMNS
from socialwatch.storage.backend import flag_id as make_flag_id
from socialwatch.storage.clickhouse_native import client_side_placeholders
from support.clickhouse_server import ClickHouseProcess

DATABASE = "socialwatch"
HOUR, DAY = 3600, 86_400
DAYS = 90
BLOCK = 500_000
N_DEVICES = 20_000
FLAGGED_SHARE = 0.005
SECOND_FLAG_SHARE = 0.08
"""Of flagged events (not already pii), the share with a phone number, address or e-mail too: a second flag."""
UTC = datetime.UTC
CHICAGO = -6 * HOUR  # standard time: the rhythm only needs to be roughly right

SCHOOLS = {  # name: (share of devices, kind)
    "North High": (16, "high"), "South High": (14, "high"), "East High": (12, "high"),
    "Central Middle": (10, "middle"), "Riverside Middle": (9, "middle"), "Valley Middle": (8, "middle"),
    "Lincoln Elementary": (8, "elementary"), "Oak Park Elementary": (8, "elementary"),
    "Hillcrest Elementary": (8, "elementary"), "Westside Academy": (7, "high"),
}
UNKNOWN_DEVICE_SHARE = 0.04
PLATFORMS = {  # the catalog's first 25 ids (proxy_addons/platforms.toml): (host, share of traffic)
    "youtube": ("www.youtube.com", 18), "tiktok": ("www.tiktok.com", 15), "instagram": ("www.instagram.com", 13),
    "snapchat": ("web.snapchat.com", 9), "roblox": ("www.roblox.com", 8), "discord": ("discord.com", 6),
    "x": ("x.com", 4), "whatsapp": ("web.whatsapp.com", 4), "reddit": ("www.reddit.com", 4),
    "pinterest": ("www.pinterest.com", 3), "twitch": ("www.twitch.tv", 3), "facebook": ("www.facebook.com", 2.5),
    "youtube_kids": ("www.youtubekids.com", 2.5), "messenger": ("www.messenger.com", 1.5),
    "threads": ("www.threads.net", 1), "bereal": ("bereal.com", 1), "telegram": ("web.telegram.org", 0.8),
    "tumblr": ("www.tumblr.com", 0.7), "linkedin": ("www.linkedin.com", 0.5), "bluesky": ("bsky.app", 0.5),
    "medium": ("medium.com", 0.4), "wordpress": ("wordpress.com", 0.4), "blogger": ("www.blogger.com", 0.3),
    "substack": ("substack.com", 0.2), "mastodon": ("mastodon.social", 0.2),
}
ACTIONS = {"view": 58, "like": 12, "message": 10, "comment": 7, "post": 3, "follow": 3, "login": 2, "upload": 1,
           "other": 4}
TEXT_ACTIONS = ("comment", "message", "post")
SOURCES = {"proxy": 80, "passthrough": 15, "sensor": 5}
PROTOCOL = {"proxy": "https", "passthrough": "tls", "sensor": "quic"}
CATEGORIES = {"bullying": 42, "self_harm": 22, "violence": 10, "impersonation": 8, "pii": 18}
FILLER = ("you", "so", "like", "just", "today", "after", "school", "bus", "class", "lol", "everyone", "said",
          "that", "again", "group", "chat", "why", "tonight", "literally", "whatever")
PII = (("my number is 555 0134", "phone", "medium"), ("email me at kid2011@example.com", "email", "medium"),
       ("i live at 12 elm street", "address", "high"))


# --- the data ------------------------------------------------------------------------------------

def pool(values) -> np.ndarray:
    """Strings as an array of ``bytes``: indexing it makes a column the driver sends without encoding."""
    return np.array([v.encode() for v in values], dtype=object)


def shares(table: dict) -> np.ndarray:
    weights = np.array([v[-1] if isinstance(v, tuple) else v for v in table.values()], float)
    return weights / weights.sum()


class District:
    """Devices (each with a school, a person and an age band) and the rhythm of 90 days' hours."""

    def __init__(self, rng: np.random.Generator, end_hour: int):
        names = list(SCHOOLS)
        school_of = rng.choice(len(names), N_DEVICES, p=shares({s: v[0] for s, v in SCHOOLS.items()}))
        unknown = rng.random(N_DEVICES) < UNKNOWN_DEVICE_SHARE
        draw = rng.random(N_DEVICES)

        def age_band(school: int, unknown: bool, draw: float) -> str:
            kind = SCHOOLS[names[school]][1]
            if unknown:
                return "unknown"
            if draw < 0.03:
                return "adult"  # staff
            return "13_17" if kind == "high" or (kind == "middle" and draw > 0.35) else "under_13"

        self.device = pool(f"10.{20 + s}.{i // 250 % 256}.{i % 250 + 1}" for i, s in enumerate(school_of))
        self.school = pool("" if u else names[s] for s, u in zip(school_of, unknown))
        self.person = pool("" if u else rng.bytes(10).hex() for u in unknown)
        self.age_band = pool(age_band(s, u, d) for s, u, d in zip(school_of, unknown, draw))
        activity = rng.lognormal(0.0, 1.0, N_DEVICES)  # a few heavy users, many light ones
        self.device_p = activity / activity.sum()
        # The 90 x 24 whole hours before end_hour, weighted by the school day (Chicago) and the week.
        self.hour_start = end_hour - HOUR * np.arange(DAYS * 24, 0, -1, dtype=np.int64)
        local = self.hour_start + CHICAGO
        weekday = (local // DAY + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
        by_hour = np.array([0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.5, 4, 8, 9, 9, 9, 10, 9, 9, 7, 5, 4, 4, 4, 3.5, 3, 1.5,
                            0.6])
        weights = by_hour[(local // HOUR) % 24] * np.where(weekday >= 5, 0.35, 1.0)
        self.hour_p = weights / weights.sum()


def event_times(rng: np.random.Generator, district: District, n: int) -> np.ndarray:
    """n event times (epoch seconds), sorted: the writer writes in time order."""
    per_hour = rng.multinomial(n, district.hour_p)
    times = np.repeat(district.hour_start, per_hour) + rng.integers(0, HOUR, n)
    times.sort()
    return times.astype(np.uint32)


def uuid4s(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random (version 4) UUIDs as an (n, 2) uint64 array: the high and the low half."""
    ids = rng.integers(0, 2**64 - 1, (n, 2), dtype=np.uint64, endpoint=True)
    ids[:, 0] = ids[:, 0] & np.uint64(0xFFFF_FFFF_FFFF_0FFF) | np.uint64(0x4000)
    ids[:, 1] = ids[:, 1] & np.uint64(0x3FFF_FFFF_FFFF_FFFF) | np.uint64(0x8000_0000_0000_0000)
    return ids


def as_uuid(pair: np.ndarray) -> uuid.UUID:
    return uuid.UUID(int=int(pair[0]) << 64 | int(pair[1]))


class NumpyUUIDColumn(UUIDColumn):
    """clickhouse-driver's UUID column, which also takes an (n, 2) uint64 array (high, low halves).

    The driver has no NumPy UUID column: it takes one ``uuid.UUID`` per row and packs them
    one at a time in Python. In the native format a UUID is its two halves as
    little-endian UInt64, which NumPy writes at once.
    """

    def _write_data(self, items, buf):
        if isinstance(items, np.ndarray) and items.dtype == np.uint64 and items.ndim == 2:
            buf.write(np.ascontiguousarray(items, dtype="<u8").tobytes())
        else:
            super()._write_data(items, buf)


def use_numpy_uuids() -> None:
    """Register NumpyUUIDColumn for this process."""
    column_by_type["UUID"] = NumpyUUIDColumn
    # With use_numpy the driver falls back to its generic column for UUID, and says so on every insert.
    logging.getLogger("clickhouse_driver.columns.service").setLevel(logging.ERROR)


class Lexicon:
    """Per category, the English lexicon's (phrase, subcategory, severity, weight)."""

    def __init__(self):
        self.entries: dict[str, list[tuple[str, str, str, float]]] = collections.defaultdict(list)
        with open(REPO / "classifier" / "lexicons" / "en.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["category"] in CATEGORIES and float(row["weight"]) > 0:
                    self.entries[row["category"]].append((row["phrase"], row["subcategory"], row["severity"],
                                                          float(row["weight"])))
        for phrase, subcategory, severity in PII:
            self.entries["pii"].append((phrase, subcategory, severity, 1.0))


def flag_columns(rng: np.random.Generator, lexicon: Lexicon, events: dict, index: np.ndarray) -> list[list]:
    """The flags of the flagged events at `index` of a block, as columns (FLAG_COLUMNS order)."""
    categories, p = list(CATEGORIES), shares(CATEGORIES)
    rows = []
    for i in index.tolist():
        first = categories[rng.choice(len(categories), p=p)]
        flagged = [first] + (["pii"] if first != "pii" and rng.random() < SECOND_FLAG_SHARE else [])
        text, matches = "", []
        for category in flagged:
            entries = lexicon.entries[category]
            phrase, subcategory, severity, weight = entries[int(rng.integers(len(entries)))]
            lead = " ".join(FILLER[k] for k in rng.integers(0, len(FILLER), 3).tolist()) + " "
            start = len(text) + len(lead)
            text += lead + phrase + " "
            matches.append((category, phrase, subcategory, severity, weight, start, start + len(phrase)))
        event_id = as_uuid(events["event_id"][i])
        moment = datetime.datetime.fromtimestamp(int(events["time"][i]), UTC)
        meta = [events[name][i].decode() for name in ("device", "person", "platform", "host", "action", "school",
                                                      "age_band")]
        for category, phrase, subcategory, severity, weight, start, end in matches:
            rows.append((make_flag_id(event_id, category), event_id, moment, *meta, category, severity, weight, 1.0,
                         text.strip(), f"'{phrase}' ({weight:.1f}) >= 1.0", [phrase], [subcategory], [severity],
                         [weight], [start], [end]))
    return [list(column) for column in zip(*rows)]


class BlockMaker:
    """Blocks of events (EVENT_COLUMNS order) and their flags (FLAG_COLUMNS order, or [])."""

    def __init__(self, n: int, end_hour: int, seed: int = 24):
        self.rng = np.random.default_rng(seed)
        self.district = District(self.rng, end_hour)
        self.times = event_times(self.rng, self.district, n)
        self.lexicon = Lexicon()
        self.platform = pool(PLATFORMS)
        self.host = pool(host for host, _share in PLATFORMS.values())
        self.action = pool(ACTIONS)
        self.path = pool("/" if a == "view" else f"/api/v1/{a}/" for a in ACTIONS)
        self.method = pool(("POST", "GET"))
        self.source = pool(SOURCES)
        self.protocol = pool(PROTOCOL[s] for s in SOURCES)
        self.target = pool([""] + [f"{k:015d}" for k in range(1, 5000)])
        self.text_actions = np.array([list(ACTIONS).index(a) for a in TEXT_ACTIONS])

    def block(self, start: int, stop: int) -> tuple[list, list]:
        rng, district, n = self.rng, self.district, stop - start
        device = rng.choice(N_DEVICES, n, p=district.device_p)
        platform = rng.choice(len(PLATFORMS), n, p=shares(PLATFORMS))
        flagged = (rng.random(n) < FLAGGED_SHARE).astype(np.uint8)
        # A flagged event is something a student wrote, seen by the proxy.
        action = np.where(flagged == 1, self.text_actions[rng.integers(0, len(self.text_actions), n)],
                          rng.choice(len(ACTIONS), n, p=shares(ACTIONS)))
        source = np.where(flagged == 1, 0, rng.choice(len(SOURCES), n, p=shares(SOURCES)))
        view = action == 0
        events = {
            "event_id": uuid4s(rng, n),
            "time": self.times[start:stop],
            "device": district.device[device],
            "person": district.person[device],
            "platform": self.platform[platform],
            "host": self.host[platform],
            "method": self.method[view.astype(np.int64)],
            "path": self.path[action],
            "action": self.action[action],
            "status": np.where(rng.random(n) < 0.97, 200, 403).astype(np.uint16),
            "request_bytes": np.where(view, 0, rng.lognormal(6.5, 0.8, n)).astype(np.uint64),
            "response_bytes": rng.lognormal(9.5, 1.2, n).astype(np.uint64),
            "flagged": flagged,
            "source": self.source[source],
            "protocol": self.protocol[source],
            "target": self.target[np.where(view | (rng.random(n) < 0.5), 0, rng.integers(1, len(self.target), n))],
            "school": district.school[device],
            "age_band": district.age_band[device],
        }
        flags = flag_columns(rng, self.lexicon, events, np.flatnonzero(flagged))
        return [events[name] for name in EVENT_COLUMNS], flags


def insert(client: Client, database: str, events: list, flags: list) -> None:
    client.execute(f"INSERT INTO {database}.events ({', '.join(EVENT_COLUMNS)}) VALUES", events, columnar=True,
                   settings={"use_numpy": True})
    if flags:  # a few thousand rows, with arrays: plain lists
        client.execute(f"INSERT INTO {database}.flags ({', '.join(FLAG_COLUMNS)}) VALUES", flags, columnar=True)


def load(client: Client, maker: BlockMaker, n: int) -> int:
    """Insert n events and their flags, the next block made while one is inserted; the number of flags."""
    blocks: queue.Queue = queue.Queue(maxsize=1)

    def make():
        try:
            for start in range(0, n, BLOCK):
                blocks.put(maker.block(start, min(start + BLOCK, n)))
        finally:  # an exception here is printed by the thread, and stops the loading
            blocks.put(None)

    threading.Thread(target=make, daemon=True).start()
    started, done, n_flags = time.perf_counter(), 0, 0
    while (item := blocks.get()) is not None:
        events, flags = item
        insert(client, DATABASE, events, flags)
        done += len(events[1])
        n_flags += len(flags[0]) if flags else 0
        progress(f"  {done:>11,} events  {time.perf_counter() - started:6.1f} s")
    progress("")
    if done < n:
        raise RuntimeError(f"only {done:,} of {n:,} events were made")
    return n_flags


def progress(line: str) -> None:
    """A line overwritten by the next, on a terminal only."""
    if sys.stdout.isatty():
        print(f"\r{line:80s}", end="\r" if line else "", flush=True)


# --- the queries ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Query:
    name: str
    where: str
    """Where the product asks it."""
    rollup: list[str]
    raw: list[str]
    """With ``{final}`` where FINAL goes."""
    params: dict


def dashboard_queries(end: datetime.datetime) -> list[Query]:
    """The questions the product asks of ClickHouse, over time ranges that end at `end` (a whole hour)."""
    def since(**delta) -> datetime.datetime:
        return end - datetime.timedelta(**delta)

    top = next(iter(SCHOOLS))
    return [
        Query("activity by platform per hour, 7 d", "Grafana 'Activity by platform' (PromQL today)",
              ["""SELECT hour, platform, sum(events) AS events, sum(flagged) AS flagged
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}
                  GROUP BY hour, platform ORDER BY hour, platform"""],
              ["""SELECT toStartOfHour(time) AS hour, platform, count() AS events, sum(flagged) AS flagged
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}
                  GROUP BY hour, platform ORDER BY hour, platform"""],
              {"since": since(days=7)}),
        Query("... one school, 7 d", "docs/storage.md, Rollups: its example as written",
              ["""SELECT hour, platform, sum(events) AS events, sum(flagged) AS flagged
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')} AND school = {school:String}
                  GROUP BY hour, platform ORDER BY hour"""],
              ["""SELECT toStartOfHour(time) AS hour, platform, count() AS events, sum(flagged) AS flagged
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')} AND school = {school:String}
                  GROUP BY hour, platform ORDER BY hour"""],
              {"since": since(days=7), "school": top}),
        Query("activity by school and action, 30 d", "Grafana 'Activity by school'/'by action' (PromQL today)",
              ["""SELECT school, action, sum(events) AS events, sum(flagged) AS flagged,
                         sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}
                  GROUP BY school, action ORDER BY school, action"""],
              ["""SELECT school, action, count() AS events, sum(flagged) AS flagged,
                         sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}
                  GROUP BY school, action ORDER BY school, action"""],
              {"since": since(days=30)}),
        Query("flags by category and severity per day, 90 d", "Grafana 'Flags by category'/'by severity' (PromQL today)",
              ["""SELECT intDiv(toUInt32(hour), 86400) * 86400 AS day, category, severity, sum(flags) AS flags
                  FROM {database}.flags_hourly WHERE hour >= {since:DateTime('UTC')}
                  GROUP BY day, category, severity ORDER BY day, category, severity"""],
              ["""SELECT intDiv(toUInt32(time), 86400) * 86400 AS day, category, severity, count() AS flags
                  FROM {database}.flags {final} WHERE time >= {since:DateTime('UTC')}
                  GROUP BY day, category, severity ORDER BY day, category, severity"""],
              {"since": since(days=90)}),
        Query("top 5 platforms per school, 24 h", "console 'By school' is per school, 24 h (PromQL today)",
              ["""SELECT school, platform, sum(events) AS events
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}
                  GROUP BY school, platform ORDER BY school, events DESC, platform LIMIT 5 BY school"""],
              ["""SELECT school, platform, count() AS events
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}
                  GROUP BY school, platform ORDER BY school, events DESC, platform LIMIT 5 BY school"""],
              {"since": since(hours=24)}),
        # dashboards/review/activity.py, GET /activity with no filter: aggregates(), totals(), options().
        Query("review /activity page, per day, 7 d (3 queries)", "review app /activity: reads the rollup today",
              ["""SELECT intDiv(toUInt32(hour), {period:UInt32}) * {period:UInt32} AS period_start,
                         school, platform, action, sum(events) AS n_events, sum(flagged) AS n_flagged
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}
                  GROUP BY period_start, school, platform, action
                  ORDER BY period_start DESC, n_events DESC, school, platform, action LIMIT {limit:UInt32}""",
               """SELECT sum(events) AS n_events, sum(flagged) AS n_flagged, groupUniqArray(school) AS schools,
                         groupUniqArray(platform) AS platforms, groupUniqArray(action) AS actions
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}""",
               """SELECT groupUniqArray(school) AS schools, groupUniqArray(platform) AS platforms,
                         groupUniqArray(action) AS actions
                  FROM {database}.activity_hourly WHERE hour >= {since:DateTime('UTC')}"""],
              ["""SELECT intDiv(toUInt32(time), {period:UInt32}) * {period:UInt32} AS period_start,
                         school, platform, action, count() AS n_events, sum(flagged) AS n_flagged
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}
                  GROUP BY period_start, school, platform, action
                  ORDER BY period_start DESC, n_events DESC, school, platform, action LIMIT {limit:UInt32}""",
               """SELECT count() AS n_events, sum(flagged) AS n_flagged, groupUniqArray(school) AS schools,
                         groupUniqArray(platform) AS platforms, groupUniqArray(action) AS actions
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}""",
               """SELECT groupUniqArray(school) AS schools, groupUniqArray(platform) AS platforms,
                         groupUniqArray(action) AS actions
                  FROM {database}.events {final} WHERE time >= {since:DateTime('UTC')}"""],
              {"since": since(days=7), "period": 86400, "limit": 2001}),
        # dashboards/grafana/socialwatch-overview.json reads flags, not flags_hourly ($__timeFilter: 24 h by
        # default). Ties broken by the key here, so that LIMIT 100 keeps the same rows on both sides.
        Query("flags by category, severity, school, 24 h", "Grafana drill-down table: reads flags today",
              ["""SELECT category, severity, school, sum(flags) AS flags FROM {database}.flags_hourly
                  WHERE hour >= {since:DateTime('UTC')} AND hour < {until:DateTime('UTC')}
                  GROUP BY category, severity, school ORDER BY flags DESC, category, severity, school LIMIT 100"""],
              ["""SELECT category, severity, school, count() AS flags FROM {database}.flags {final}
                  WHERE time >= {since:DateTime('UTC')} AND time < {until:DateTime('UTC')}
                  GROUP BY category, severity, school ORDER BY flags DESC, category, severity, school LIMIT 100"""],
              {"since": since(hours=24), "until": end}),
        # The other drill-down also counts people (uniqExact(person)), which no rollup holds: only its
        # requests column can come from activity_hourly. The panel as shipped is timed on its own below.
        Query("requests by platform and action, 24 h", "Grafana drill-down table: reads events today",
              ["""SELECT platform, action, sum(events) AS requests FROM {database}.activity_hourly
                  WHERE hour >= {since:DateTime('UTC')} AND hour < {until:DateTime('UTC')}
                  GROUP BY platform, action ORDER BY requests DESC, platform, action LIMIT 100"""],
              ["""SELECT platform, action, count() AS requests FROM {database}.events {final}
                  WHERE time >= {since:DateTime('UTC')} AND time < {until:DateTime('UTC')}
                  GROUP BY platform, action ORDER BY requests DESC, platform, action LIMIT 100"""],
              {"since": since(hours=24), "until": end}),
    ]


GRAFANA_PEOPLE_PANEL = """SELECT platform, action, count() AS requests, uniqExact(person) AS people
    FROM {database}.events WHERE time >= {since:DateTime('UTC')} AND time <= {until:DateTime('UTC')}
    GROUP BY platform, action ORDER BY requests DESC LIMIT 100"""


def sql_for(statement: str, final: str = "") -> str:
    return client_side_placeholders(statement.replace("{database}", DATABASE).replace("{final}", final))


def run(client: Client, statements: list[str], params: dict, final: str = "") -> tuple[float, list, int]:
    """(seconds, results, rows to read) of the statements one after the other. Rows to read: the
    server's estimate in its progress packets, which is exact here (whole marks of the parts it
    did not skip); 18.16 does not always send the last packet of rows actually read."""
    results, rows = [], 0
    started = time.perf_counter()
    for statement in statements:
        results.append(client.execute(sql_for(statement, final), params))
        rows += client.last_query.progress.total_rows or client.last_query.progress.rows
    return time.perf_counter() - started, results, rows


def normalized(results: list) -> list:
    """Results comparable across tables: rows and arrays (groupUniqArray) sorted, since not every
    query orders its rows totally (docs/storage.md's example orders by hour only); the queries
    with a LIMIT break ties, so they keep the same rows."""
    return [sorted(tuple(sorted(v) if isinstance(v, list) else v for v in row) for row in result)
            for result in results]


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclasses.dataclass
class Measured:
    query: Query
    seconds: dict[str, list[float]]
    rows_read: dict[str, list[int]]
    rows: int
    agree: bool
    detail: str


FORMS = ("rollup", "raw", "FINAL")


def measure(client: Client, query: Query, repeat: int, final_repeat: int) -> Measured:
    forms = {"rollup": (query.rollup, ""), "raw": (query.raw, ""), "FINAL": (query.raw, "FINAL")}
    warm = {form: run(client, statements, query.params, final) for form, (statements, final) in forms.items()}
    results = {form: normalized(w[1]) for form, w in warm.items()}
    agree = results["rollup"] == results["raw"] == results["FINAL"]
    detail = ""
    if not agree:
        for form in ("raw", "FINAL"):
            for a, b in zip(results["rollup"], results[form]):
                if a != b:
                    diff = [(x, y) for x, y in zip(a, b) if x != y][:2]
                    detail += f" rollup vs {form}: {len(a)} vs {len(b)} rows, first differences {diff};"
    seconds: dict[str, list[float]] = {form: [] for form in FORMS}
    rows_read: dict[str, list[int]] = {form: [w[2]] for form, w in warm.items()}
    for r in range(max(repeat, final_repeat)):
        order = FORMS[r % 3:] + FORMS[:r % 3]  # who goes first rotates
        for form in order:
            if len(seconds[form]) < (final_repeat if form == "FINAL" else repeat):
                statements, final = forms[form]
                elapsed, _results, rows = run(client, statements, query.params, final)
                seconds[form].append(elapsed)
                rows_read[form].append(rows)
    return Measured(query, seconds, rows_read, sum(len(r) for r in results["rollup"]), agree, detail)


def report(measured: list[Measured]) -> None:
    def ms(samples: list[float], p: float) -> str:
        return f"{percentile(samples, p) * 1000:8.1f}"

    def rows(counts: list[int]) -> str:
        """Rows to read, or their range when merges changed it during the runs."""
        def short(n: int) -> str:
            return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"

        low, high = min(counts), max(counts)
        return short(low) if low == high else f"{short(low)}-{short(high)}"

    print(f"{'query':49s} {'rollup p50':>10s} {'p95':>8s} {'raw p50':>9s} {'p95':>8s} {'speed-up':>9s}"
          f" {'FINAL p50':>10s} {'p95':>8s} {'speed-up':>9s}  {'rows to read: rollup':>20s} {'raw':>11s}")
    for m in measured:
        s = m.seconds
        print(f"{m.query.name:49s} {ms(s['rollup'], 50):>10s} {ms(s['rollup'], 95)} {ms(s['raw'], 50):>9s}"
              f" {ms(s['raw'], 95)} {statistics.median(s['raw']) / statistics.median(s['rollup']):8.1f}x"
              f" {ms(s['FINAL'], 50):>10s} {ms(s['FINAL'], 95)}"
              f" {statistics.median(s['FINAL']) / statistics.median(s['rollup']):8.1f}x"
              f"  {rows(m.rows_read['rollup']):>20s} {rows(m.rows_read['raw']):>11s}")


# --- the store -----------------------------------------------------------------------------------

def describe(store) -> str:
    counts = {row["table"]: row for row in store.query(
        """SELECT table, sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS bytes FROM system.parts
           WHERE database = {db:String} AND active GROUP BY table""", {"db": store.database})}
    keys = {
        "activity_hourly": store.query("SELECT count() AS n FROM (SELECT hour FROM {database}.activity_hourly"
                                       " GROUP BY hour, school, platform, action)")[0]["n"],
        "flags_hourly": store.query("SELECT count() AS n FROM (SELECT hour FROM {database}.flags_hourly"
                                    " GROUP BY hour, category, severity, school)")[0]["n"],
    }
    merges = store.query("SELECT count() AS n FROM system.merges WHERE database = {db:String}",
                         {"db": store.database})[0]["n"]
    lines = []
    for table in ("events", "activity_hourly", "flags", "flags_hourly"):
        c = counts.get(table, {"rows": 0, "parts": 0, "bytes": 0})
        key = f", {keys[table]:,} keys (its rows once fully merged)" if table in keys else ""
        lines.append(f"  {table:16s}{int(c['rows']):>12,} rows in {int(c['parts']):3d} parts,"
                     f" {int(c['bytes']) / 1e6:8.1f} MB{key}")
    lines.append(f"  merges running: {merges}")
    return "\n".join(lines)


def settle(store, timeout: float = 120.0) -> float:
    """Seconds waited (at most `timeout`) until no merge runs: the parts a server has between two
    bursts of writes. Nothing is forced; the server alone chooses what to merge."""
    started = time.monotonic()
    while time.monotonic() - started < timeout and store.query(
            "SELECT count() AS n FROM system.merges WHERE database = {db:String}", {"db": store.database})[0]["n"]:
        time.sleep(0.5)
    return time.monotonic() - started


def insert_cost(client: Client, maker: BlockMaker, views_url: str, rounds: int = 5) -> tuple[float, float]:
    """Best seconds to insert one block (with its flags) with and without the views."""
    client.execute("CREATE DATABASE IF NOT EXISTS plain")
    for table in ("events", "flags"):
        client.execute(f"CREATE TABLE IF NOT EXISTS plain.{table} AS {DATABASE}.{table}")
    views = open_storage(views_url)
    views.migrate()
    views.close()
    events, flags = maker.block(0, min(BLOCK, len(maker.times)))
    best = {"views": math.inf, "plain": math.inf}
    for r in range(rounds):
        for database in (("views", "plain") if r % 2 == 0 else ("plain", "views")):
            started = time.perf_counter()
            insert(client, database, events, flags)
            best[database] = min(best[database], time.perf_counter() - started)
    return best["views"], best["plain"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 events")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of the rollup and raw forms")
    parser.add_argument("--final-repeat", type=int, default=5, help="timed runs of the FINAL form")
    args = parser.parse_args()
    n = 200_000 if args.quick else args.events
    use_numpy_uuids()
    begun = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        server = ClickHouseProcess(pathlib.Path(tmp) / "clickhouse")
        info = server.start()
        try:
            store = open_storage(info.url_for(DATABASE))
            store.migrate()
            client = Client(host=info.host, port=info.port)
            threads = client.execute("SELECT value FROM system.settings WHERE name = 'max_threads'")[0][0]
            print(f"ClickHouse {info.version} (max_threads {threads}); {n:,} events over {DAYS} days, "
                  f"blocks of {BLOCK:,}\n")

            end_hour = int(time.time()) // HOUR * HOUR
            started = time.perf_counter()
            maker = BlockMaker(n, end_hour)
            n_flags = load(client, maker, n)
            seconds = time.perf_counter() - started
            print(f"loaded {n:,} events and {n_flags:,} flags in {seconds:.1f} s ({n / seconds:,.0f} events/s,"
                  f" generation included)\n")
            waited = settle(store)
            print(f"before the queries (no OPTIMIZE; {waited:.0f} s waiting for the merges then running to end):")
            print(describe(store))

            end = datetime.datetime.fromtimestamp(end_hour, UTC)
            print(f"\nper query: 1 warm-up of each form, then {args.repeat} timed runs (rollup, raw) and "
                  f"{args.final_repeat} (raw FINAL), interleaved; milliseconds, p95 by nearest rank")
            print("raw = the same question on events/flags with count(), no FINAL: the fair comparison;"
                  " FINAL = exact under replays\n")
            measured = []
            for query in dashboard_queries(end):
                measured.append(measure(client, query, args.repeat, args.final_repeat))
                progress(f"  {query.name} ({time.perf_counter() - begun:.0f} s)")
            progress("")
            report(measured)

            print("\nresults (warm-up runs): rollup sums = raw counts = raw FINAL counts?")
            for m in measured:
                print(f"  {m.query.name:49s} {'agree' if m.agree else 'DIFFER'} ({m.rows} rows)"
                      f"{m.detail}   [{m.query.where}]")

            since = end - datetime.timedelta(hours=24)
            panel = [run(client, [GRAFANA_PEOPLE_PANEL], {"since": since, "until": end})[0]
                     for _ in range(args.repeat + 1)][1:]
            print(f"\nGrafana 'Activity by platform and action' as shipped (events, uniqExact(person), 24 h): "
                  f"p50 {percentile(panel, 50) * 1000:.1f} ms, p95 {percentile(panel, 95) * 1000:.1f} ms "
                  "(no rollup holds people)")

            print("\nafter the queries:")
            print(describe(store))
            with_views, plain = insert_cost(client, maker, info.url_for("views"))
            print(f"\ninsert cost of the views: one {min(BLOCK, n):,}-event block and its flags, best of 5: "
                  f"{with_views:.2f} s with the views, {plain:.2f} s without ({(with_views / plain - 1) * 100:+.0f} %)")
            print(f"\ntotal {time.perf_counter() - begun:.0f} s")
            store.close()
            client.disconnect()
            if not all(m.agree for m in measured):
                sys.exit("rollup and raw results differ")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
