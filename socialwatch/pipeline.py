"""From the proxy to storage without blocking the proxy, and without losing events.

The proxy hands each event to `Pipeline.submit`, which never blocks: the event
goes on a bounded queue, or, if the queue is full, is counted as dropped. A
background thread classifies queued events and writes them in batches, by size
and by time. Content is kept only for flagged events: an unflagged event loses
its text before it is batched, so it reaches neither storage nor the spool.

A batch that fails to write is retried with backoff; with a spool, after
``retries_before_spooling`` failed attempts it goes to the on-disk spool
(storage/spool.py) and the writer goes back to the queue. While the spool holds
anything, new batches are appended behind it and the spool is replayed, oldest
first, whenever storage answers again, so the order of events is kept. Only a
full (or unwritable) spool drops events, loudly.

    traffic -> events -> [queue] -> classifier -> batch -> storage
                                                    \\-> spool -> (replay) -> storage
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import pathlib
import threading
import time
from collections.abc import Callable, Sequence

from socialwatch.classifier import Classifier, Flag, load_suppressions
from socialwatch.config import Config
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import ActivityEvent
from socialwatch.storage import Storage, StorageError
from socialwatch.storage.spool import (
    Spool,
    SpoolError,
    SpoolFull,
    decode_batch,
    encode_batch,
)

log = logging.getLogger(__name__)

RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 30.0
REPLAY_BUDGET_SECONDS = 0.5
"""Longest the writer replays the spool before it looks at the queue again."""

Batch = list[tuple[ActivityEvent, Sequence[Flag]]]


class EventQueue:
    """The bounded queue between the proxy and the writer.

    ``put`` never blocks: it refuses when full. The writer ``take``s many events
    under one lock acquisition, which is most of what makes the writer keep up
    with raw inserts (queue.Queue costs a lock round trip and a notify per event).
    ``put`` wakes the writer only when as many events wait as it asked for, so the
    proxy's thread does not hand the interpreter lock to the writer at every request.
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: collections.deque[ActivityEvent] = collections.deque()
        self._changed = threading.Condition(threading.Lock())
        self._woken = False
        self._wanted = 1  # how many waiting events wake the writer

    def put(self, event: ActivityEvent) -> bool:
        with self._changed:
            if len(self._items) >= self.maxsize:
                return False
            self._items.append(event)
            if len(self._items) == self._wanted:
                self._changed.notify()
        return True

    def take(self, limit: int, timeout: float, at_least: int = 1) -> list[ActivityEvent]:
        """Up to `limit` events, oldest first; waits up to `timeout` s until `at_least` wait (or a wake())."""
        with self._changed:
            at_least = max(1, min(at_least, limit, self.maxsize))
            if len(self._items) < at_least and timeout > 0:
                self._wanted = at_least
                self._changed.wait_for(lambda: len(self._items) >= at_least or self._woken, timeout)
                self._wanted = 1
            self._woken = False
            items = self._items
            return [items.popleft() for _ in range(min(limit, len(items)))]

    def wake(self) -> None:
        """End a take() that is waiting."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def peek(self) -> ActivityEvent | None:
        try:
            return self._items[0]
        except IndexError:
            return None

    def qsize(self) -> int:
        return len(self._items)


def load_classifier(config: Config) -> Classifier:
    """The classifier the configuration describes (lexicons, thresholds per category and age band,
    suppressions); raises ``LexiconError`` for a bad lexicon or suppressions file."""
    c = config.classifier
    suppressions = load_suppressions(c.suppressions_file) if c.suppressions_file is not None else ()
    return Classifier.load(c.lexicon_dir, threshold=c.threshold, thresholds=c.thresholds,
                           age_band_thresholds=c.age_band_thresholds, phone_region=c.phone_region,
                           suppressions=suppressions)


SUPPRESSIONS_CHECK_SECONDS = 2.0
"""How often at most the suppressions file's modification time is checked."""

_UNREAD = object()


class SuppressionsWatch:
    """The classifier's suppressions file, read again when it changes (its modification time,
    size or inode: the review application replaces it whole), checked at most every
    ``SUPPRESSIONS_CHECK_SECONDS``. A file that cannot be used is logged as an error and the
    classifier keeps the suppressions it had; a removed file means no suppressions."""

    def __init__(self, classifier: Classifier, path: pathlib.Path | None):
        self.classifier, self.path = classifier, path
        self._stamp: object = _UNREAD  # the first check reads the file (it may have changed since start)
        self._checked: float | None = None

    def refresh(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if self._checked is not None and now - self._checked < SUPPRESSIONS_CHECK_SECONDS:
            return
        self._checked = now
        try:
            info = self.path.stat()
            stamp: object = (info.st_mtime_ns, info.st_size, info.st_ino)
        except FileNotFoundError:
            stamp = None
        except OSError as e:
            stamp = e.strerror
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            suppressions = load_suppressions(self.path)
            changed = self.classifier.set_suppressions(suppressions)
        except Exception as e:  # noqa: BLE001 - a bad file must not stop the writer thread
            log.error("socialwatch: suppressions not reloaded, keeping the previous %d: %s",
                      len(self.classifier.suppressions), e)
            return
        if changed:
            log.info("socialwatch: %d classifier suppressions from %s", len(suppressions), self.path)


class Pipeline:
    """Classifies submitted events and writes them in batches, spooling what storage refuses.

    ``classifier`` None: a writer whose events carry no text (the passive sensor's names).
    """

    def __init__(
        self,
        classifier: Classifier | None,
        storage: Storage,
        metrics: Metrics,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval: float,
        spool: Spool | None = None,
        retries_before_spooling: int = 3,
        suppressions_file: pathlib.Path | None = None,
    ):
        self.classifier = classifier
        self.storage = storage
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.spool = spool
        self.retries_before_spooling = retries_before_spooling
        self.suppressions = SuppressionsWatch(classifier, suppressions_file)
        self._queue = EventQueue(queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="socialwatch-writer", daemon=True)
        self._unsent_since: float | None = None  # capture time of the oldest event of the batch in hand
        self._replay_at = 0.0  # monotonic time of the next replay attempt
        self._replay_delay = RETRY_FIRST_DELAY
        self._last_error: Exception | None = None
        self._flag_counters: dict[tuple[str, str, str], object] = {}
        self._maybe_stored = 0  # events at the head of the queue that may already be stored
        self.on_batch_done: Callable[[int], None] | None = None
        """Called by the writer thread with the size of each batch it is done with (written,
        spooled or dropped), in the order the events were submitted."""
        metrics.track_queue(self._queue.qsize)
        metrics.track_unsent_age(self.oldest_unsent_age)
        if spool is not None:
            metrics.track_spool(lambda: spool.bytes, lambda: spool.segments)
            if spool.quarantined:
                metrics.spool_quarantined.inc(spool.quarantined)
            spool.on_quarantine = metrics.spool_quarantined.inc

    @classmethod
    def from_config(cls, classifier: Classifier | None, storage: Storage, metrics: Metrics, config: Config) -> Pipeline:
        """The pipeline `config` describes, with its spool opened (SpoolError if it cannot be)."""
        spool = None
        if config.spool.directory is not None:
            spool = Spool(config.spool.directory.expanduser(), max_bytes=config.spool.max_bytes,
                          fsync=config.spool.fsync)
        return cls(
            classifier, storage, metrics,
            queue_size=config.storage.queue_size,
            batch_size=config.storage.batch_size,
            flush_interval=config.storage.flush_interval_seconds,
            spool=spool,
            retries_before_spooling=config.spool.retries_before_spooling,
            suppressions_file=config.classifier.suppressions_file,
        )

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: ActivityEvent) -> bool:
        """Queue `event` for classification and storage; False (and counted) if the queue is full.

        A pipeline without a classifier (the passive sensor's, whose events are names only)
        takes no event with text: ValueError."""
        if event.text and self.classifier is None:
            raise ValueError("this pipeline has no classifier: its events carry no text")
        if self._queue.put(event):
            return True
        self.metrics.events_dropped.labels(reason="queue_full").inc()
        return False

    def expect_stored(self, count: int) -> None:
        """The next `count` events submitted may already be in storage (a writer process that died
        re-sends what it had not confirmed): they are written missing rows only, like a retry."""
        self._maybe_stored += count

    def stop(self, timeout: float = 10.0) -> None:
        """Write (or spool) what is queued, within `timeout`, then stop the writer thread.

        The spool is not drained at shutdown: what it holds is replayed after the next start.
        """
        self._stopping.set()
        self._queue.wake()
        self._thread.join(timeout)
        unsent = len(self._queue.take(self._queue.qsize(), 0))
        if unsent:
            log.error("socialwatch: writer stopped with %d queued events unsent", unsent)
            self.metrics.events_dropped.labels(reason="unsent_at_shutdown").inc(unsent)
        if self.spool is not None and not self._thread.is_alive():
            self.spool.close()

    def oldest_unsent_age(self) -> float:
        """Seconds since the capture of the oldest event not yet in storage (0 when none)."""
        candidates = []
        if self.spool is not None and (spooled := self.spool.oldest) is not None:
            candidates.append(spooled)
        if self._unsent_since is not None:
            candidates.append(self._unsent_since)
        if (head := self._queue.peek()) is not None:
            candidates.append(head.time.timestamp())
        return max(0.0, time.time() - min(candidates)) if candidates else 0.0

    # -- the writer thread ---------------------------------------------------

    def _run(self) -> None:
        batch: Batch = []
        deadline = 0.0
        while not (self._stopping.is_set() and self._queue.qsize() == 0):
            now = time.monotonic()
            wait = max(0.0, deadline - now) if batch else self.flush_interval
            if self._spool_pending():
                wait = min(wait, max(0.0, self._replay_at - now))
            # An empty batch waits for its first event; a started one for a full batch or its deadline.
            room = self.batch_size - len(batch)
            events = self._queue.take(room, 0 if self._stopping.is_set() else wait, at_least=room if batch else 1)
            if events:
                if not batch:
                    deadline = time.monotonic() + self.flush_interval
                    self._unsent_since = events[0].time.timestamp()
                batch.extend(self._classified(event) for event in events)
            if batch and (len(batch) >= self.batch_size or time.monotonic() >= deadline or self._stopping.is_set()):
                self._flush(batch)
                batch = []
                self._unsent_since = None
            if self._spool_pending() and time.monotonic() >= self._replay_at and not self._stopping.is_set():
                self._replay()
        if batch:  # stop() came after this round's flush check
            self._flush(batch)
            self._unsent_since = None

    def _classified(self, event: ActivityEvent) -> tuple[ActivityEvent, list[Flag]]:
        """The event with its flags: the classifier's and the policy rules' (raised at capture).

        Content is kept only for flagged events, and then with personal information
        redacted (same length, so match offsets stay exact); the rest lose their text here.
        """
        text_flags = self._classify(event) if event.text else []
        if not text_flags and not event.policy:  # most events
            return event.without_text(), text_flags
        flags = list(event.policy) + text_flags
        for flag in flags:
            self._flag_counter(flag.category, flag.severity, event.school).inc()
        # A policy flag that points into the text (an impersonating post) keeps it too.
        if text_flags or any(flag.matches for flag in event.policy):
            redacted = self.classifier.redact(event.text)
            return (event if redacted == event.text else dataclasses.replace(event, text=redacted)), flags
        return event.without_text(), flags

    def _flag_counter(self, category: str, severity: str, school: str):
        """The flags counter's child for these labels, kept: ``labels()`` costs more than ``inc()``."""
        key = (category, severity, school)
        counter = self._flag_counters.get(key)
        if counter is None:
            counter = self._flag_counters[key] = self.metrics.flags.labels(
                category=category, severity=severity, school=school)
        return counter

    def _classify(self, event: ActivityEvent) -> list[Flag]:
        self.suppressions.refresh()  # accepted suppressions apply without a restart
        with self.metrics.classification_seconds.time():
            return self.classifier.classify(event.text, age_band=event.age_band)

    def _flush(self, batch: Batch) -> None:
        maybe_stored = self._maybe_stored > 0
        self._maybe_stored = max(0, self._maybe_stored - len(batch))
        self._write_or_spool(batch, maybe_stored)
        if self.on_batch_done is not None:
            self.on_batch_done(len(batch))

    def _write_or_spool(self, batch: Batch, maybe_stored: bool) -> None:
        if self.spool is None:
            if not self._write_retrying(batch, attempts=None, maybe_stored=maybe_stored):
                self.metrics.events_dropped.labels(reason="unsent_at_shutdown").inc(len(batch))
            return
        if self._spool_pending():
            # Older events wait in the spool: this batch goes behind them, to keep the order.
            self._to_spool(batch)
            self._replay_at = 0.0
            return
        if not self._write_retrying(batch, attempts=self.retries_before_spooling, maybe_stored=maybe_stored):
            self._to_spool(batch)

    def _write_retrying(self, batch: Batch, attempts: int | None, maybe_stored: bool = False) -> bool:
        """Write `batch`, retrying with backoff `attempts` times (None: until stopping)."""
        delay = RETRY_FIRST_DELAY
        failures = 0
        while True:
            if self._write_once(batch, maybe_stored=maybe_stored or failures > 0):
                return True
            failures += 1
            if self._stopping.is_set() or (attempts is not None and failures > attempts):
                return False
            self.metrics.insert_retries.inc()
            log.warning("socialwatch: writing %d events failed, retrying in %.1fs", len(batch), delay)
            if self._stopping.wait(delay):
                return self._write_once(batch, maybe_stored=True)
            delay = min(delay * 2, RETRY_MAX_DELAY)

    def _write_once(self, batch: Batch, maybe_stored: bool) -> bool:
        """One attempt. After a failed one the batch may be stored in part (the answer to
        an insert can be lost), so only its missing rows are written: no copy reaches
        the rollups."""
        started = time.perf_counter()
        flags = sum(len(event_flags) for _, event_flags in batch)
        try:
            if maybe_stored:
                events_written, flags_written = self.storage.write_missing(batch)
            else:
                self.storage.write(batch)
                events_written, flags_written = len(batch), flags
        except StorageError as e:
            self.metrics.insert_errors.inc()
            log.debug("socialwatch: insert failed: %s", e)
            self._last_error = e
            return False
        self.metrics.insert_seconds.observe(time.perf_counter() - started)
        self.metrics.rows_written.labels(table="events").inc(events_written)
        self.metrics.rows_written.labels(table="flags").inc(flags_written)
        self.metrics.rows_already_stored.labels(table="events").inc(len(batch) - events_written)
        self.metrics.rows_already_stored.labels(table="flags").inc(flags - flags_written)
        return True

    # -- the spool -----------------------------------------------------------

    def _spool_pending(self) -> bool:
        return self.spool is not None and self.spool.pending > 0

    def _to_spool(self, batch: Batch) -> None:
        oldest = min(event.time.timestamp() for event, _ in batch)
        try:
            self.spool.append(encode_batch(batch), oldest=oldest)
        except SpoolFull as e:
            self._drop(batch, "spool_full", e)
        except SpoolError as e:
            self.metrics.spool_write_errors.inc()
            self._drop(batch, "spool_write_failed", e)
        else:
            self.metrics.spool_full.set(0)
            self.metrics.spooled_events.inc(len(batch))
            if self.spool.pending == 1:
                log.warning("socialwatch: storage unavailable (%s); spooling to %s",
                            self._last_error, self.spool.directory)

    def _drop(self, batch: Batch, reason: str, error: Exception) -> None:
        self.metrics.spool_full.set(1)
        self.metrics.events_dropped.labels(reason=reason).inc(len(batch))
        log.error("socialwatch: EVENTS LOST: %d events dropped because storage is down and the spool "
                  "cannot take them: %s", len(batch), error)

    def _replay(self) -> None:
        """Write spooled records oldest first, for at most REPLAY_BUDGET_SECONDS."""
        budget_end = time.monotonic() + REPLAY_BUDGET_SECONDS
        while (record := self.spool.peek()) is not None:
            try:
                batch = decode_batch(record.payload)
            except (ValueError, KeyError, TypeError) as e:
                self.spool.quarantine(record, f"undecodable record ({e})")
                continue
            if not self._write_once(batch, maybe_stored=True):  # a crash may have come after its insert
                self.metrics.insert_retries.inc()
                self._replay_at = time.monotonic() + self._replay_delay
                self._replay_delay = min(self._replay_delay * 2, RETRY_MAX_DELAY)
                return
            self.spool.ack(record)
            self.metrics.replayed_events.inc(len(batch))
            self._replay_delay = RETRY_FIRST_DELAY
            if not self.spool.pending:
                self.metrics.spool_full.set(0)
                log.warning("socialwatch: spool replayed; storage is up to date")
            if time.monotonic() >= budget_end:
                return
