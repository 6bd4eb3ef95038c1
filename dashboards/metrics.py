"""The Prometheus metrics socialwatch exports.

Labels are bounded by design: platform, action, category, severity, reason and
table come from fixed catalogs. Nothing identifies a student or a device.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

CLASSIFICATION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class Metrics:
    """All socialwatch metrics, registered on one registry.

    Tests build a fresh ``CollectorRegistry`` per test; the running service uses its own
    registry too, never the process-global one, so only these metrics are exported.

    >>> metrics = Metrics(CollectorRegistry())
    >>> metrics.activity.labels(platform="instagram", action="comment").inc()
    """

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.activity = Counter(
            "socialwatch_activity_events", "Social-media requests recorded from district devices.",
            ["platform", "action"], registry=registry,
        )
        self.flags = Counter(
            "socialwatch_flags", "Flags raised by the classifier.", ["category", "severity"], registry=registry,
        )
        self.passthrough = Counter(
            "socialwatch_connections_passed_through",
            "TLS connections passed through undecrypted, by reason (not_district, not_social, no_sni).",
            ["reason"], registry=registry,
        )
        self.pinned_detected = Counter(
            "socialwatch_pinned_clients_detected",
            "Devices that refused the proxy's certificate for a platform host; their later "
            "connections to it pass through (recorded as metadata).", registry=registry,
        )
        self.evictions = Counter(
            "socialwatch_state_evictions",
            "Entries pushed out of a bounded in-memory table because it was full, by table.",
            ["table"], registry=registry,
        )
        self.bodies_skipped = Counter(
            "socialwatch_bodies_skipped",
            "Request bodies not read for text, by reason (too_large, malformed_json, invalid_utf8, ...).",
            ["reason"], registry=registry,
        )
        self.events_dropped = Counter(
            "socialwatch_events_dropped",
            "Events lost before storage, by reason (queue_full, unsent_at_shutdown). Should stay at zero.",
            ["reason"], registry=registry,
        )
        self.queue_depth = Gauge(
            "socialwatch_event_queue_depth", "Events waiting between the proxy and the writer.", registry=registry,
        )
        self.rows_written = Counter(
            "socialwatch_storage_rows_written", "Rows written to storage, by table.", ["table"], registry=registry,
        )
        self.insert_errors = Counter(
            "socialwatch_storage_insert_errors", "Failed batch inserts (each is retried).", registry=registry,
        )
        self.classification_seconds = Histogram(
            "socialwatch_classification_duration_seconds", "Time to classify one event's text.",
            buckets=CLASSIFICATION_BUCKETS, registry=registry,
        )

    def track_queue(self, depth: Callable[[], float]) -> None:
        """Read the queue depth at scrape time."""
        self.queue_depth.set_function(depth)


def serve(metrics: Metrics, host: str, port: int):
    """Serve /metrics on host:port in a background thread; returns the server (call shutdown())."""
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server
