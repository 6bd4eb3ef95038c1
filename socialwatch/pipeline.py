"""From the proxy to storage without blocking the proxy.

The proxy hands each event to `Pipeline.submit`, which never blocks: the event
goes on a bounded queue, or, if the queue is full, is counted as dropped. A
background thread classifies queued events and writes them in batches, by size
and by time. A batch that fails to write is retried with backoff while new
events wait in the queue.

    traffic -> events -> [queue] -> classifier -> batch -> storage
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from socialwatch.classifier import Classifier, Flag
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import ActivityEvent
from socialwatch.storage import Storage, StorageError

log = logging.getLogger(__name__)

RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 30.0
_WAKE_UP = object()
"""Put on the queue by stop() so that an idle writer notices at once."""


class Pipeline:
    def __init__(
        self,
        classifier: Classifier,
        storage: Storage,
        metrics: Metrics,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval: float,
    ):
        self.classifier = classifier
        self.storage = storage
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._queue: queue.Queue[ActivityEvent | object] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="socialwatch-writer", daemon=True)
        metrics.track_queue(self._queue.qsize)

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: ActivityEvent) -> bool:
        """Queue `event` for classification and storage; False (and counted) if the queue is full."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.metrics.events_dropped.labels(reason="queue_full").inc()
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (within `timeout`), then stop the writer thread."""
        self._stopping.set()
        try:
            self._queue.put_nowait(_WAKE_UP)
        except queue.Full:
            pass  # a writer with a full queue is not idle: it sees the stop flag after its next event
        self._thread.join(timeout)
        unsent = 0
        while True:
            try:
                unsent += self._queue.get_nowait() is not _WAKE_UP
            except queue.Empty:
                break
        if unsent:
            log.error("socialwatch: writer stopped with %d queued events unsent", unsent)
            self.metrics.events_dropped.labels(reason="unsent_at_shutdown").inc(unsent)

    def _run(self) -> None:
        batch: list[tuple[ActivityEvent, Sequence[Flag]]] = []
        deadline = 0.0
        while not (self._stopping.is_set() and self._queue.empty()):
            wait = max(0.0, deadline - time.monotonic()) if batch else self.flush_interval
            try:
                event = self._queue.get(timeout=0 if self._stopping.is_set() else wait)
            except queue.Empty:
                pass
            else:
                if event is not _WAKE_UP:
                    if not batch:
                        deadline = time.monotonic() + self.flush_interval
                    flags = self._classify(event)
                    # Content is kept only for flagged events: the rest lose their text here.
                    batch.append((event if flags else event.without_text(), flags))
            if batch and (len(batch) >= self.batch_size or time.monotonic() >= deadline or self._stopping.is_set()):
                if not self._write(batch):
                    self.metrics.events_dropped.labels(reason="unsent_at_shutdown").inc(len(batch))
                batch = []

    def _classify(self, event: ActivityEvent) -> list[Flag]:
        if not event.text:
            return []
        with self.metrics.classification_seconds.time():
            flags = self.classifier.classify(event.text)
        for flag in flags:
            self.metrics.flags.labels(category=flag.category, severity=flag.severity).inc()
        return flags

    def _write(self, batch: list[tuple[ActivityEvent, Sequence[Flag]]]) -> bool:
        """Write `batch`, retrying with backoff; False only if stopping while storage still fails."""
        delay = RETRY_FIRST_DELAY
        while True:
            try:
                self.storage.write(batch)
            except StorageError as e:
                self.metrics.insert_errors.inc()
                log.warning("socialwatch: writing %d events failed, retrying in %.1fs: %s", len(batch), delay, e)
                if self._stopping.wait(delay):
                    return self._write_once(batch)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            self._count_written(batch)
            return True

    def _write_once(self, batch: list[tuple[ActivityEvent, Sequence[Flag]]]) -> bool:
        try:
            self.storage.write(batch)
        except StorageError:
            self.metrics.insert_errors.inc()
            return False
        self._count_written(batch)
        return True

    def _count_written(self, batch: list[tuple[ActivityEvent, Sequence[Flag]]]) -> None:
        self.metrics.rows_written.labels(table="events").inc(len(batch))
        self.metrics.rows_written.labels(table="flags").inc(sum(len(flags) for _, flags in batch))
