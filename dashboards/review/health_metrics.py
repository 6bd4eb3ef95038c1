"""Review-health metrics: is the counselor review queue keeping up? Read from ClickHouse at scrape time.

::

    registry.register(ReviewHealthCollector(store))
    add_metrics_endpoint(app, registry)      # GET /metrics on the review application, no sign-in

At each scrape, two bounded queries (flags of the last ``lookback``, 90 days, and
their review actions) give:

- ``socialwatch_review_open_flags{severity, age}``: flags whose status is new,
  in_review or escalated, by severity and by how long ago they were raised
  (``lt_1h``, ``1h_24h``, ``1d_7d``, ``gt_7d``; flags older than the lookback are
  not counted);
- ``socialwatch_review_unacknowledged_flags{severity}``: of those, the ones whose
  status is still ``new``;
- ``socialwatch_review_oldest_unacknowledged_seconds{severity}``: the age of the
  oldest of them (0 when there is none): the alert "HighSeverityFlagUnacknowledged"
  (dashboards/prometheus/rules.yml) reads it;
- ``socialwatch_review_time_to_acknowledge_seconds{severity}``: a gauge histogram
  (``_bucket{le}``, ``_gcount``, ``_gsum``) of the time from a flag to its first
  review action that set a status, over the flags first acknowledged in the last
  7 days. It is a gauge: the distribution of that window now, not a running total, so
  take ``histogram_quantile`` of the buckets directly, without ``rate()``;
- ``socialwatch_review_storage_up``: 1 when those queries answered, 0 when ClickHouse
  did not (then the other metrics are left out rather than shown wrong).

A flag's status is its latest review action's that set one (argMax over
``sequence``), ``new`` without any: the same rule as the queue (queries.py). Labels
are severities, age buckets and ``le`` only: never a student, a device, a school
person or a flag.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily

from socialwatch.storage import Storage, StorageError

from .queries import OPEN_STATUSES, SEVERITY_RANKS, status_of_flags

log = logging.getLogger("socialwatch.review")

SEVERITIES = tuple(SEVERITY_RANKS)
AGE_BUCKETS = (("lt_1h", 3600), ("1h_24h", 86400), ("1d_7d", 7 * 86400), ("gt_7d", None))
"""(label, upper bound in seconds, exclusive); the last is unbounded (up to the lookback)."""
WAIT_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400)
"""Upper bounds (seconds) of the time-to-acknowledge histogram, +Inf added."""
LOOKBACK = datetime.timedelta(days=90)
"""Flags raised longer ago than this are not read (a bounded scan)."""
ACKNOWLEDGED_WINDOW = datetime.timedelta(days=7)
"""The time-to-acknowledge histogram covers the flags first acknowledged this recently."""
CLOCK_SKEW = datetime.timedelta(hours=1)
"""Review actions are read from this much before the lookback, in case clocks disagree."""


def _age_bucket_sql() -> str:
    branches = [f"age < {bound}, '{label}'" for label, bound in AGE_BUCKETS if bound is not None]
    return f"multiIf({', '.join(branches)}, '{AGE_BUCKETS[-1][0]}')"


_OPEN_SQL = f"""
    SELECT severity, {_age_bucket_sql()} AS age_bucket,
           current_status = '' OR current_status = 'new' AS unacknowledged,
           count() AS flags, max(age) AS oldest
    FROM (
        SELECT flag_id, severity, greatest(toInt64({{now:UInt32}}) - toInt64(toUInt32(time)), toInt64(0)) AS age
        FROM {{database}}.flags FINAL
        WHERE time >= {{since:DateTime('UTC')}}
    ) AS recent_flags ANY LEFT JOIN (
        {status_of_flags("time >= {actions_since:DateTime('UTC')}")}
    ) AS statuses USING flag_id
    WHERE has({{open:Array(String)}}, if(current_status = '', 'new', current_status))
    GROUP BY severity, age_bucket, unacknowledged"""

_WAIT_SQL = f"""
    SELECT severity, count() AS flags, sum(wait) AS total,
           {', '.join(f'countIf(wait <= {bound}) AS le_{bound}' for bound in WAIT_BUCKETS)}
    FROM (
        SELECT severity, greatest(toInt64(toUInt32(acknowledged)) - toInt64(toUInt32(flag_time)), toInt64(0)) AS wait
        FROM (
            SELECT flag_id, severity, time AS flag_time
            FROM {{database}}.flags FINAL
            WHERE time >= {{since:DateTime('UTC')}}
        ) AS recent_flags ALL INNER JOIN (
            SELECT flag_id, min(time) AS acknowledged
            FROM {{database}}.review_actions FINAL
            WHERE status != '' AND time >= {{actions_since:DateTime('UTC')}}
            GROUP BY flag_id
            HAVING acknowledged >= {{window_start:DateTime('UTC')}}
        ) AS acknowledgments USING flag_id
    )
    GROUP BY severity"""


class ReviewHealthCollector:
    """A prometheus_client custom collector; register it on a registry. ``clock`` gives Unix seconds."""

    def __init__(self, store: Storage, *, lookback: datetime.timedelta = LOOKBACK,
                 window: datetime.timedelta = ACKNOWLEDGED_WINDOW, clock: Callable[[], float] = time.time):
        self.store = store
        self.lookback = lookback
        self.window = window
        self.clock = clock

    def describe(self):
        """The families, without values: registering does not query storage."""
        return list(self._families())

    def collect(self):
        now = int(self.clock())
        at = datetime.datetime.fromtimestamp(now, datetime.UTC)
        since = at - self.lookback
        params = {"now": now, "since": since, "actions_since": since - CLOCK_SKEW}
        try:
            open_rows = self.store.query(_OPEN_SQL, {**params, "open": list(OPEN_STATUSES)})
            wait_rows = self.store.query(_WAIT_SQL, {**params, "window_start": at - self.window})
        except StorageError as error:
            log.warning("review health metrics: %s", error)
            up = GaugeMetricFamily("socialwatch_review_storage_up", _HELP["up"])
            up.add_metric([], 0)
            yield up
            return
        yield from self._families(open_rows, wait_rows)

    def _families(self, open_rows: list[dict] | None = None, wait_rows: list[dict] | None = None):
        open_flags = {(s, label): 0 for s in SEVERITIES for label, _ in AGE_BUCKETS}
        unacknowledged = {s: 0 for s in SEVERITIES}
        oldest = {s: 0 for s in SEVERITIES}
        for row in open_rows or []:
            severity, bucket, count = row["severity"], row["age_bucket"], int(row["flags"])
            if (severity, bucket) not in open_flags:
                continue  # labels stay within the fixed sets
            open_flags[severity, bucket] += count
            if int(row["unacknowledged"]):
                unacknowledged[severity] += count
                oldest[severity] = max(oldest[severity], int(row["oldest"]))

        family = GaugeMetricFamily("socialwatch_review_open_flags", _HELP["open"], labels=["severity", "age"])
        for (severity, bucket), count in open_flags.items():
            family.add_metric([severity, bucket], count)
        yield family
        family = GaugeMetricFamily("socialwatch_review_unacknowledged_flags", _HELP["unacknowledged"],
                                   labels=["severity"])
        for severity, count in unacknowledged.items():
            family.add_metric([severity], count)
        yield family
        family = GaugeMetricFamily("socialwatch_review_oldest_unacknowledged_seconds", _HELP["oldest"],
                                   labels=["severity"])
        for severity, seconds in oldest.items():
            family.add_metric([severity], seconds)
        yield family

        waits = {row["severity"]: row for row in wait_rows or [] if row["severity"] in SEVERITIES}
        family = GaugeHistogramMetricFamily("socialwatch_review_time_to_acknowledge_seconds", _HELP["wait"],
                                            labels=["severity"])
        for severity in SEVERITIES:
            row = waits.get(severity)
            count = int(row["flags"]) if row else 0
            buckets = [(str(float(bound)), int(row[f"le_{bound}"]) if row else 0) for bound in WAIT_BUCKETS]
            family.add_metric([severity], [*buckets, ("+Inf", count)], int(row["total"]) if row else 0)
        yield family

        up = GaugeMetricFamily("socialwatch_review_storage_up", _HELP["up"])
        up.add_metric([], 1)
        yield up


_HELP = {
    "open": "Open flags (new, in review, escalated) raised in the last 90 days, by severity and age "
            "(lt_1h, 1h_24h, 1d_7d, gt_7d).",
    "unacknowledged": "Open flags still new (no review action set a status), by severity.",
    "oldest": "Age in seconds of the oldest flag still new, by severity; 0 when there is none.",
    "wait": "Seconds from a flag to its first review action that set a status, over the flags first "
            "acknowledged in the last 7 days (a gauge histogram: no rate()).",
    "up": "1 when the review-health queries answered at this scrape, 0 when ClickHouse did not.",
}


def add_metrics_endpoint(app: flask.Flask, registry: CollectorRegistry) -> None:
    """``GET /metrics``: the registry in Prometheus's text format, without sign-in (Prometheus scrapes it).
    Only aggregate counts are on it; keep it off the district's reverse proxy (docs/metrics.md)."""

    def metrics():
        return flask.Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
