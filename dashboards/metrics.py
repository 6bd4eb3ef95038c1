"""The Prometheus metrics socialwatch exports.

Labels are bounded by design: platform, action, category, severity, reason and
table come from fixed catalogs. Nothing identifies a student or a device.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

CLASSIFICATION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
INSERT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """All socialwatch metrics, registered on one registry.

    Tests build a fresh ``CollectorRegistry`` per test; the running service uses its own
    registry too, never the process-global one, so only these metrics are exported.

    >>> metrics = Metrics(CollectorRegistry())
    >>> metrics.activity.labels(platform="instagram", action="comment", school="").inc()
    """

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.activity = Counter(
            "socialwatch_activity_events", "Social-media requests recorded from district devices, by platform, "
            "action and school (from the roster; empty when unknown).",
            ["platform", "action", "school"], registry=registry,
        )
        self.flags = Counter(
            "socialwatch_flags", "Flags raised by the classifier and the policy rules, by category, severity "
            "and school.", ["category", "severity", "school"], registry=registry,
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
            "Events lost before storage, by reason (queue_full, unsent_at_shutdown, spool_full, spool_write_failed). "
            "Should stay at zero.",
            ["reason"], registry=registry,
        )
        self.queue_depth = Gauge(
            "socialwatch_event_queue_depth", "Events waiting between the proxy and the writer.", registry=registry,
        )
        self.rows_written = Counter(
            "socialwatch_storage_rows_written", "Rows written to storage, by table.", ["table"], registry=registry,
        )
        self.rows_already_stored = Counter(
            "socialwatch_storage_rows_already_stored",
            "Rows of a retried or replayed batch found already stored (an earlier attempt landed), not written again.",
            ["table"], registry=registry,
        )
        self.insert_errors = Counter(
            "socialwatch_storage_insert_errors", "Failed batch inserts (each is retried).", registry=registry,
        )
        self.classification_seconds = Histogram(
            "socialwatch_classification_duration_seconds", "Time to classify one event's text.",
            buckets=CLASSIFICATION_BUCKETS, registry=registry,
        )
        # The passive sensor (socialwatch sensor, docs/sensor.md).
        self.sensor_packets = Counter(
            "socialwatch_sensor_packets", "Packets the passive sensor read (after the capture filter).",
            registry=registry,
        )
        self.sensor_observations = Counter(
            "socialwatch_sensor_observations", "Names the sensor read, by protocol (dns, tls, quic, http).",
            ["proto"], registry=registry,
        )
        self.sensor_parse_errors = Counter(
            "socialwatch_sensor_parse_errors", "Malformed or hostile packets the sensor skipped, by kind.",
            ["kind"], registry=registry,
        )
        self.sensor_events = Counter(
            "socialwatch_sensor_events", "Aggregated sensor events sent to storage, by protocol.",
            ["proto"], registry=registry,
        )
        self.sensor_capture_drops = Counter(
            "socialwatch_sensor_capture_drops", "Packets the kernel dropped before the sensor read them.",
            registry=registry,
        )
        self.sensor_limits = Counter(
            "socialwatch_sensor_limit_hits", "Times a bound on the sensor's state was hit, by bound.",
            ["bound"], registry=registry,
        )
        # The writer and its on-disk spool (socialwatch/pipeline.py, storage/spool.py).
        self.insert_retries = Counter(
            "socialwatch_storage_insert_retries", "Batch inserts and spool replays tried again after a failure.",
            registry=registry,
        )
        self.insert_seconds = Histogram(
            "socialwatch_storage_insert_duration_seconds", "Time of one successful batch insert.",
            buckets=INSERT_BUCKETS, registry=registry,
        )
        self.writer_restarts = Counter(
            "socialwatch_writer_process_restarts",
            "Times the writer process (storage.writer = 'process') died and the proxy started another; "
            "the events it had not confirmed were sent again.", registry=registry,
        )
        self.oldest_unsent_age = Gauge(
            "socialwatch_oldest_unsent_event_age_seconds",
            "Age of the oldest captured event not yet in storage (queue, batch or spool); 0 when none.",
            registry=registry,
        )
        self.spool_bytes = Gauge("socialwatch_spool_bytes", "Size of the spool's segment files.", registry=registry)
        self.spool_segments = Gauge("socialwatch_spool_segments", "Segment files in the spool.", registry=registry)
        self.spooled_events = Counter(
            "socialwatch_spooled_events", "Events written to the spool because storage failed.", registry=registry,
        )
        self.replayed_events = Counter(
            "socialwatch_spool_replayed_events", "Spooled events written to storage.", registry=registry,
        )
        self.spool_quarantined = Counter(
            "socialwatch_spool_records_quarantined",
            "Corrupt spool chunks (failed checksum, torn tail) moved to quarantine/.", registry=registry,
        )
        self.spool_write_errors = Counter(
            "socialwatch_spool_write_errors", "Spool appends that failed on I/O, e.g. a full disk.", registry=registry,
        )
        self.spool_full = Gauge(
            "socialwatch_spool_full",
            "1 while the spool refuses batches (size limit reached or disk full): events are being lost.",
            registry=registry,
        )
        # The proxy's CA certificate (socialwatch/certificates.py, docs/certificates.md).
        self.ca_expiry = Gauge(
            "socialwatch_ca_expiry_timestamp_seconds",
            "When the proxy's CA certificate expires (Unix time), by ca: current (the one the proxy signs with) "
            "and next (prepared by 'socialwatch ca rotate'). Read when the proxy starts.",
            ["ca"], registry=registry,
        )

    def track_queue(self, depth: Callable[[], float]) -> None:
        """Read the queue depth at scrape time."""
        self.queue_depth.set_function(depth)

    def track_unsent_age(self, age: Callable[[], float]) -> None:
        """Read the oldest unsent event's age at scrape time."""
        self.oldest_unsent_age.set_function(age)

    def track_spool(self, size: Callable[[], float], segments: Callable[[], float]) -> None:
        """Read the spool's size and segment count at scrape time."""
        self.spool_bytes.set_function(size)
        self.spool_segments.set_function(segments)


def serve(metrics: Metrics, host: str, port: int):
    """Serve /metrics on host:port in a background thread; returns the server (call shutdown())."""
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server
