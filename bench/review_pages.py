"""The counselor review application's page latency on a large store, against the bare
ClickHouse statements each page sends. One run, a real ClickHouse server.

- store: Debian's clickhouse-server on a free loopback port in a temporary directory,
  migrated, filled with 1,000,000 events and 20,000 flags (default) shaped like a
  district's month: 10 schools (one is "North High"), 20 platforms, 5,000 devices,
  3,000 pseudonymous persons, 30 days; flags in the five categories with the English
  lexicon's phrases, subcategories, severities and weights, a few hundred characters of
  text with the match offsets, about a third of them in near-duplicate groups (the same
  phrases from many devices within one duplicate window), a few events with two flags;
  review actions (acknowledge, status, assign, note) on about a third of the flags or
  groups. Inserted with clickhouse-driver's columnar INSERT, the storage's own path.
- pages: the review application (``support.review_site.start_review_site``: waitress,
  8 threads, in this process) asked with httpx, signed in: the queue (default filter:
  open statuses) as the administrator and as the North High counselor, the queue
  filtered by category and severity, and the detail page of random flags.
- bare: per page request, the same ``ReviewQueries`` calls the view makes, with the same
  parameters, on a second connection: for the queue ``queue``, ``status_counts``, the
  audit-log insert and ``filter_options``; for a flag ``flag``, the audit insert,
  ``device_activity``, ``earlier_flags`` and ``timeline``. Page and bare requests
  alternate (which goes first alternates too), so both see the same caches and merges.

Prints p50 and p95 of the page and of the bare statements, the ratio, and the p50/p95 of
every statement, so the slowest part of each page is visible. A bare time is the whole
``ReviewQueries`` call: the SQL, the driver decoding the rows, the storage's conversion
of every value and what the method does in Python with them. The client, the server's
threads and ClickHouse share this machine's cores: the load average is printed with
the results, since other work on the machine shows in the p95 first.

Run: .venv/bin/python bench/review_pages.py [--events N] [--flags N] [--requests N] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import datetime
import hashlib
import math
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test suite's server launcher and review site

from clickhouse_driver import Client

from socialwatch.dashboards.review.queries import QueueFilter, ReviewQueries, Scope
from socialwatch.storage import open_storage
from socialwatch.storage.backend import EVENT_COLUMNS, FLAG_COLUMNS, REVIEW_COLUMNS
from socialwatch.storage.backend import flag_id as make_flag_id
from support.clickhouse_server import ClickHouseProcess
from support.review_site import ACCOUNTS, NORTH, SOUTH, start_review_site

SCHOOLS = (NORTH, SOUTH, "East High", "West High", "Central Middle", "Lincoln Elementary", "Riverside Middle",
           "Hillcrest High", "Oak Park Elementary", "Valley Middle")
PLATFORMS = {  # id: (host, share of traffic)
    "instagram": ("www.instagram.com", 16), "tiktok": ("www.tiktok.com", 16), "snapchat": ("web.snapchat.com", 10),
    "youtube": ("www.youtube.com", 14), "discord": ("discord.com", 8), "x": ("x.com", 4),
    "facebook": ("www.facebook.com", 3), "messenger": ("www.messenger.com", 2), "threads": ("www.threads.net", 2),
    "whatsapp": ("web.whatsapp.com", 4), "reddit": ("www.reddit.com", 4), "pinterest": ("www.pinterest.com", 3),
    "tumblr": ("www.tumblr.com", 1), "twitch": ("www.twitch.tv", 4), "telegram": ("web.telegram.org", 1),
    "bluesky": ("bsky.app", 1), "bereal": ("bereal.com", 2), "linkedin": ("www.linkedin.com", 1),
    "mastodon": ("mastodon.social", 1), "youtube_kids": ("www.youtubekids.com", 3),
}
ACTIONS = {"view": 60, "like": 12, "message": 10, "comment": 8, "post": 3, "follow": 3, "login": 2, "upload": 1,
           "other": 1}
TEXT_ACTIONS = ("comment", "message", "post")
CATEGORY_SHARE = {"bullying": 40, "self_harm": 20, "violence": 10, "impersonation": 10, "pii": 20}
PII_KINDS = ("phone", "email", "address")
FILLER = ("i", "you", "we", "they", "the", "a", "so", "like", "just", "really", "today", "class", "lol", "omg",
          "after", "school", "bus", "game", "homework", "teacher", "party", "weekend", "group", "chat", "video",
          "post", "again", "never", "always", "why", "what", "everyone", "saw", "said", "that", "this", "at",
          "lunch", "gym", "math", "test", "tomorrow", "tonight", "friends", "literally", "whatever", "ok")
SEVERITIES = ("low", "medium", "high", "critical")
DAY = 86_400
WARM_UP = 5


@dataclasses.dataclass
class Store:
    events: list[list]
    flags: list[list]
    reviews: list[list]
    groups: int
    grouped_flags: int
    two_flag_events: int


@dataclasses.dataclass
class Lexicon:
    """Per category, the English lexicon's (phrase, subcategory, severity, weight)."""
    entries: dict[str, list[tuple[str, str, str, float]]]

    @classmethod
    def load(cls) -> Lexicon:
        entries: dict[str, list] = collections.defaultdict(list)
        with open(REPO / "classifier" / "lexicons" / "en.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["category"] in CATEGORY_SHARE and float(row["weight"]) > 0:
                    entries[row["category"]].append((row["phrase"], row["subcategory"], row["severity"],
                                                     float(row["weight"])))
        return cls(dict(entries))


def weighted(table: dict) -> tuple[list, list]:
    """Names and weights of a {name: weight or (..., weight)} table, for random.choices."""
    return list(table), [v[1] if isinstance(v, tuple) else v for v in table.values()]


def make_store(n_events: int, n_flags: int, seed: int = 16) -> Store:
    """Every table's columns (EVENT_COLUMNS, FLAG_COLUMNS, REVIEW_COLUMNS order)."""
    rng = random.Random(seed)
    now = int(time.time())
    start = now - 30 * DAY
    n_devices, n_persons = 5000, 3000
    devices = [f"10.{20 + i % 10}.{i // 250}.{i % 250 + 1}" for i in range(n_devices)]
    # Device i belongs to school i % 10 and to person i % 3000 (same school); one device in 12
    # is shared or unknown to the roster (no person).
    persons = [hashlib.sha256(f"bench-person-{i}".encode()).hexdigest()[:20] for i in range(n_persons)]

    def age_band(school: str, person: int) -> str:
        if "Elementary" in school:
            return "under_13"
        if "Middle" in school:
            return "under_13" if person % 3 == 0 else "13_17"
        return "adult" if person % 40 == 0 else "13_17"

    # --- events
    device_of = [rng.randrange(n_devices) for _ in range(n_events)]
    # School-day shaped: most activity 12:00-22:00 UTC (7:00-17:00 Central), some evening.
    hours = list(range(24))
    hour_weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 6, 10, 10, 10, 9, 9, 10, 10, 8, 6, 4, 2]
    hour_of = rng.choices(hours, hour_weights, k=n_events)
    times = [start + rng.randrange(30) * DAY + h * 3600 + rng.randrange(3600) for h in hour_of]
    times = [min(t, now - 1) for t in times]
    platform_names, platform_weights = weighted(PLATFORMS)
    platforms = rng.choices(platform_names, platform_weights, k=n_events)
    action_names, action_weights = weighted(ACTIONS)
    actions = rng.choices(action_names, action_weights, k=n_events)
    sources = rng.choices(("proxy", "passthrough", "sensor"), (80, 15, 5), k=n_events)
    flagged = [0] * n_events

    # --- flags: near-duplicate groups first, then single flags
    lexicon = Lexicon.load()
    pool = iter(rng.sample(range(n_events), min(n_events, n_flags)))
    specs: list[tuple[int, str, list[tuple], str, list[int], list[int]]] = []
    categories, category_weights = list(CATEGORY_SHARE), list(CATEGORY_SHARE.values())
    group_categories = [c for c in categories if c != "pii"]
    group_weights = [CATEGORY_SHARE[c] for c in group_categories]
    groups = grouped = 0
    while grouped < n_flags * 0.35:
        size = min(int(n_flags * 0.35) - grouped, rng.choice((2, 2, 3, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 80)))
        if size < 2:
            break
        category = rng.choices(group_categories, group_weights)[0]
        entries, text, starts, ends = flag_text(rng, lexicon, category)
        hour = (start + rng.randrange(30 * 24 - 1) * 3600) // 3600  # one duplicate window (60 min, aligned)
        for _ in range(size):
            index = next(pool)
            times[index] = min(hour * 3600 + rng.randrange(3600), now - 1)
            specs.append((index, category, entries, text, starts, ends))
        groups += 1
        grouped += size
    two_flag_events = 0
    while len(specs) < n_flags:
        index = next(pool)
        category = rng.choices(categories, category_weights)[0]
        entries, text, starts, ends = flag_text(rng, lexicon, category)
        if category != "pii" and len(specs) < n_flags - 1 and rng.random() < 0.04:  # and a phone number: two flags
            pii_entries, pii_text, pii_starts, pii_ends = flag_text(rng, lexicon, "pii")
            shift = len(text) + len(" call me ")
            text += " call me " + pii_text
            specs.append((index, "pii", pii_entries, text, [s + shift for s in pii_starts],
                          [e + shift for e in pii_ends]))
            two_flag_events += 1
        specs.append((index, category, entries, text, starts, ends))

    event_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n_events)]
    for index, *_ in specs:
        flagged[index] = 1
        sources[index] = "proxy"
        if actions[index] not in TEXT_ACTIONS:
            actions[index] = rng.choice(TEXT_ACTIONS)

    schools = [SCHOOLS[d % 10] for d in device_of]
    person_index = [d % n_persons for d in device_of]
    events = [
        event_ids, times, [devices[d] for d in device_of],
        ["" if d % 12 == 0 else persons[p] for d, p in zip(device_of, person_index)],
        platforms, [PLATFORMS[p][0] for p in platforms],
        ["GET" if a == "view" else "POST" for a in actions],
        [f"/api/{a}/{i % 997}" if a != "view" else "/" for i, a in enumerate(actions)],
        actions, [200 if i % 50 else 403 for i in range(n_events)],
        [0 if a == "view" else 200 + i % 1800 for i, a in enumerate(actions)],
        [2000 + (i * 7919) % 60000 for i in range(n_events)], flagged, sources,
        ["https" if s == "proxy" else ("tls" if s == "passthrough" else "quic") for s in sources],
        [f"t{i % 100_000}" if a in TEXT_ACTIONS else "" for i, a in enumerate(actions)],
        schools, [age_band(s, p) for s, p in zip(schools, person_index)],
    ]

    flag_rows = []
    for index, category, entries, text, starts, ends in specs:
        score = round(sum(w for *_, w in entries), 6)
        severity = max((e[2] for e in entries), key=SEVERITIES.index)
        matched = ", ".join(f'"{p}" ({sub}, weight {w}, {sev})' for p, sub, sev, w in entries)
        explanation = (f"pii: found {', '.join(p.strip('<>') for p, *_ in entries)} (weight 1.0 each); "
                       f"score {score} >= threshold 1.0" if category == "pii" else
                       f"{category}: matched {matched}; score {score} >= threshold 1.0")
        flag_rows.append((
            make_flag_id(event_ids[index], category), event_ids[index], times[index], events[2][index],
            events[3][index], platforms[index], events[5][index], actions[index], schools[index], events[17][index],
            category, severity, score, 1.0, text, explanation,
            [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries], [e[3] for e in entries],
            starts, ends))
    flags = [list(column) for column in zip(*flag_rows)]

    # --- review actions: whole groups are handled together (group action), singles one by one
    reviews = []
    by_item: dict[tuple, list[tuple]] = collections.defaultdict(list)
    for row in flag_rows:
        key = (row[10], tuple(row[16]), row[2] // 3600) if row[10] != "pii" else (row[0],)
        by_item[key].append(row)
    sequence = 0

    def act(rows, when, reviewer, action, status="", assignee="", note=""):
        nonlocal sequence
        for row in rows:
            sequence += 1
            reviews.append((uuid.UUID(int=rng.getrandbits(128), version=4), row[0], row[1], when, reviewer, action,
                            note, status, assignee, when * 1_000_000 + sequence % 1_000_000))

    for rows in by_item.values():
        if rng.random() >= 0.35:
            continue
        school = rows[0][8]
        reviewer = "north" if school == NORTH else "south" if school == SOUTH else "admin"
        when = min(max(r[2] for r in rows) + rng.randrange(600, 2 * DAY), now - 60)
        act(rows, when, reviewer, "acknowledge", status="in_review")
        if rng.random() < 0.2:
            when = min(when + rng.randrange(60, 3600), now - 30)
            act(rows, when, "admin", "assign", assignee=reviewer)
        if rng.random() < 0.2:
            when = min(when + rng.randrange(60, 3600), now - 20)
            act(rows, when, reviewer, "note", note="spoke with the student; parents informed")
        if rng.random() < 0.6:
            when = min(when + rng.randrange(600, 3 * DAY), now - 10)
            status = rng.choices(("resolved", "false_positive", "escalated"), (40, 35, 25))[0]
            act(rows, when, reviewer, "status", status=status, note=f"set to {status}")
    return Store(events, flags, [list(column) for column in zip(*reviews)], groups, grouped, two_flag_events)


def flag_text(rng: random.Random, lexicon: Lexicon, category: str) -> tuple[list[tuple], str, list[int], list[int]]:
    """Matches (phrase, subcategory, severity, weight), a text of a few hundred characters holding
    them, and their offsets. PII phrases are the kinds, the values redacted with •."""
    if category == "pii":
        kinds = rng.sample(PII_KINDS, rng.choice((1, 1, 1, 2)))
        entries = [(f"<{k}>", k, "medium", 1.0) for k in kinds]
        spans = [{"phone": "•••-•••-••••", "email": "••••••@•••••.com", "address": "••• ••••• St"}[k] for k in kinds]
    else:
        options = lexicon.entries[category]
        entries, total = [], 0.0
        while total < 1.0 and len(entries) < 3:
            entry = rng.choice(options)
            if entry not in entries:
                entries.append(entry)
                total += entry[3]
        spans = [e[0] for e in entries]
    words = rng.randrange(40, 90)
    cuts = sorted(rng.sample(range(1, words), len(spans)))
    text, starts, ends, at = "", [], [], 0
    filler = [rng.choice(FILLER) for _ in range(words)]
    pieces = []
    for i, span in enumerate(spans):
        pieces.append(" ".join(filler[at:cuts[i]]) + " ")
        starts.append(sum(map(len, pieces)))
        pieces.append(span)
        ends.append(starts[-1] + len(span))
        pieces.append(" ")
        at = cuts[i]
    pieces.append(" ".join(filler[at:]))
    text = "".join(pieces)
    return entries, text, starts, ends


def insert(client: Client, database: str, table: str, names, columns: list[list], batch: int = 100_000) -> None:
    sql = f"INSERT INTO {database}.{table} ({', '.join(names)}) VALUES"
    for at in range(0, len(columns[0]), batch):
        client.execute(sql, [column[at:at + batch] for column in columns], columnar=True)


def wait_for_merges(client: Client, database: str, timeout: float = 120.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if not client.execute(f"SELECT count() FROM system.merges WHERE database = '{database}'")[0][0]:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Timer:
    """Seconds per named statement, per request."""

    def __init__(self):
        self.samples: dict[str, list[float]] = collections.defaultdict(list)
        self._current: dict[str, float] = {}

    def run(self, name: str, call, *args, **kwargs):
        started = time.perf_counter()
        result = call(*args, **kwargs)
        self._current[name] = self._current.get(name, 0.0) + time.perf_counter() - started
        return result

    def done(self, record: bool) -> float:
        total = sum(self._current.values())
        if record:
            for name, seconds in self._current.items():
                self.samples[name].append(seconds)
            self.samples[" total"].append(total)
        self._current = {}
        return total


def bare_queue(q: ReviewQueries, timer: Timer, scope: Scope, flt: QueueFilter, actor: str) -> None:
    """What the /queue view sends to ClickHouse, in its order."""
    timer.run("queue", q.queue, scope, flt, limit=51, offset=0)
    timer.run("status_counts", q.status_counts, scope, dataclasses.replace(flt, status="all"))
    timer.run("audit insert", q.audit, actor, "view_queue", "queue", "queue page 1 (bench)")
    timer.run("filter_options", q.filter_options, scope)


def bare_flag(q: ReviewQueries, timer: Timer, scope: Scope, flag_id: str, actor: str) -> None:
    """What the /flags/<id> view sends to ClickHouse, in its order."""
    flag = timer.run("flag", q.flag, scope, flag_id)
    timer.run("audit insert", q.audit, actor, "view_flag", flag["flag_id"], f"opened the {flag['category']} flag")
    when = datetime.datetime.strptime(flag["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.UTC)
    timer.run("device_activity", q.device_activity, flag["device"], when, 30)
    timer.run("earlier_flags", q.earlier_flags, scope, flag["person"], when)
    timer.run("timeline", q.timeline, flag["flag_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--flags", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50, help="measured requests per page (after warm-up)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50,000 events, 2,000 flags, 10 requests")
    args = parser.parse_args()
    if args.quick:
        args.events, args.flags, args.requests = 50_000, 2_000, 10
    if args.flags > args.events:
        parser.error("--flags must not exceed --events")
    n = args.requests
    begun = time.perf_counter()

    started = time.perf_counter()
    data = make_store(args.events, args.flags)
    generated = time.perf_counter() - started
    n_reviews = len(data.reviews[0]) if data.reviews else 0

    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        server = ClickHouseProcess(tmp / "clickhouse")
        info = server.start()
        site = None
        try:
            database = "review_bench"
            store = open_storage(info.url_for(database))
            store.migrate()
            client = Client(host=info.host, port=info.port)
            started = time.perf_counter()
            insert(client, database, "events", EVENT_COLUMNS, data.events)
            insert(client, database, "flags", FLAG_COLUMNS, data.flags)
            if n_reviews:
                insert(client, database, "review_actions", REVIEW_COLUMNS, data.reviews)
            filled = time.perf_counter() - started
            merged = wait_for_merges(client, database)
            parts = dict(client.execute(
                f"SELECT table, count() FROM system.parts WHERE database = '{database}' AND active GROUP BY table"))
            sizes = dict(client.execute(
                f"SELECT table, formatReadableSize(sum(bytes_on_disk)) FROM system.parts "
                f"WHERE database = '{database}' AND active GROUP BY table"))
            client.disconnect()
            flag_ids = [str(i) for i in data.flags[0]]
            print(f"ClickHouse {info.version}; {args.events:,} events, {args.flags:,} flags "
                  f"({data.grouped_flags:,} in {data.groups:,} near-duplicate groups, {data.two_flag_events:,} events "
                  f"with two flags), {n_reviews:,} review actions")
            print(f"generated in {generated:.1f} s, inserted in {filled:.1f} s "
                  f"({args.events / filled:,.0f} events/s with the rest), merges settled after {merged:.1f} s; "
                  "active parts: " + ", ".join(f"{t} {parts.get(t, 0)} ({sizes.get(t, '0')})"
                                               for t in ("events", "flags", "review_actions")))

            open_counts = {name: ReviewQueries(store).status_counts(scope, QueueFilter(status="all"))
                           for name, scope in (("all schools", Scope(all_schools=True)),
                                               ("North High", Scope(all_schools=False, schools=(NORTH,))))}
            print("flags per status: " + "; ".join(f"{name}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
                                                   for name, counts in open_counts.items()))
            load_before = os.getloadavg()[0]
            site = start_review_site(store, tmp / "site")
            clients = {name: site.client(name) for name in ("admin", "north")}
            bare_store = open_storage(info.url_for(database))
            q = ReviewQueries(bare_store)
            everyone = Scope(all_schools=True)
            north = Scope(all_schools=False, schools=ACCOUNTS["north"].schools)
            filtered = QueueFilter(category="self_harm", severity="high")
            rng = random.Random(7)
            picks = rng.sample(flag_ids, min(len(flag_ids), WARM_UP + n))
            pages = [
                ("queue, admin (open)", "admin", lambda i: "/queue",
                 lambda t, i: bare_queue(q, t, everyone, QueueFilter(), "admin")),
                ("queue, North High counselor", "north", lambda i: "/queue",
                 lambda t, i: bare_queue(q, t, north, QueueFilter(), "north")),
                ("queue, self_harm + >=high, admin", "admin",
                 lambda i: "/queue?" + urllib.parse.urlencode({"category": "self_harm", "severity": "high"}),
                 lambda t, i: bare_queue(q, t, everyone, filtered, "admin")),
                ("flag detail, random flag, admin", "admin", lambda i: f"/flags/{picks[i % len(picks)]}",
                 lambda t, i: bare_flag(q, t, everyone, picks[i % len(picks)], "admin")),
            ]
            results = []
            for label, user, path, bare in pages:
                http = clients[user]
                page_times, timer, sizes_seen, items_seen = [], Timer(), [], []
                for i in range(WARM_UP + n):
                    record = i >= WARM_UP
                    for step in ((0, 1) if i % 2 == 0 else (1, 0)):
                        if step == 0:
                            t0 = time.perf_counter()
                            response = http.get(path(i))
                            seconds = time.perf_counter() - t0
                            if response.status_code != 200:
                                raise RuntimeError(f"{label}: {path(i)} answered {response.status_code}")
                            if record:
                                page_times.append(seconds)
                                sizes_seen.append(len(response.content))
                                items_seen.append(response.text.count('<li class="item '))
                        else:
                            bare(timer, i)
                            timer.done(record)
                results.append((label, page_times, timer, statistics.mean(sizes_seen), max(items_seen)))

            print(f"\n{n} requests per page after {WARM_UP} warm-up; page = HTTP GET with httpx (waitress, Flask, "
                  "rendering, every ClickHouse statement); bare = the same ReviewQueries calls, direct; "
                  f"{os.cpu_count()} CPUs, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
            header = (f"{'page':34s} {'p50 ms':>8s} {'p95 ms':>8s} {'bare p50':>9s} {'bare p95':>9s} "
                      f"{'ratio p50':>9s} {'ratio p95':>9s}  {'page KB':>7s} items")
            print(header)
            print("-" * len(header))
            for label, page_times, timer, size, items in results:
                bare_total = timer.samples[" total"]
                p50, p95 = statistics.median(page_times), percentile(page_times, 95)
                b50, b95 = statistics.median(bare_total), percentile(bare_total, 95)
                print(f"{label:34s} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {b50 * 1000:9.1f} {b95 * 1000:9.1f} "
                      f"{p50 / b50:9.2f} {p95 / b95:9.2f}  {size / 1024:7.1f} {items:5d}")
            print("\nbare statements, per page (ms):")
            for label, _page_times, timer, _size, _items in results:
                parts_ = [(name, s) for name, s in timer.samples.items() if name != " total"]
                largest = max(parts_, key=lambda item: statistics.median(item[1]))[0]
                print(f"  {label}: " + ", ".join(
                    f"{name} {statistics.median(s) * 1000:.1f}/{percentile(s, 95) * 1000:.1f}"
                    for name, s in parts_) + f"   (p50/p95; largest: {largest})")
            detail = results[-1][2].samples
            largest = max((name for name in detail if name != " total"), key=lambda k: statistics.median(detail[k]))
            share = statistics.median(detail[largest]) / statistics.median(detail[" total"])
            print(f"\nflag detail's largest component: {largest}, p50 {statistics.median(detail[largest]) * 1000:.1f} ms "
                  f"({share:.0%} of the bare p50)")
            print(f"\ntotal {time.perf_counter() - begun:.0f} s")
            for http in clients.values():
                http.close()
            bare_store.close()
        finally:
            if site is not None:
                site.stop()
                store.close()
            server.stop()


if __name__ == "__main__":
    main()
