"""Reading, classifying and writing in a process of its own, so that the proxy's event loop keeps its core.

mitmproxy runs every hook on one thread. With ``storage.writer = "thread"`` (the default),
reading requests, classifying and inserting share that thread's interpreter lock and core.
With ``storage.writer = "process"`` the proxy hands its captures (proxy_addons/interpreter.py)
to a child process (``python -m socialwatch.writer_process``) that reads them into events
(`Interpreter`) and runs the same `Pipeline`: classifier, batches, retries, spool.
``storage.writer_cpus`` pins that process to other cores than the proxy's.

Nothing is lost when the writer process dies: the proxy keeps every event it sent until the
writer reports it done with it (written, spooled, or dropped and counted), starts another
writer, and sends it what was not confirmed; that writer inserts only the rows not already
stored (``Pipeline.expect_stored``, ``Storage.write_missing``). The writer's metrics are
recorded as operations and replayed on the proxy's registry, so /metrics stays one endpoint.

    proxy: submit -> [pending] -- sender thread --> pipe --> writer process: Interpreter -> Pipeline -> storage
                     [sent, unconfirmed] <-- reader thread <-- pipe <-- done counts, metrics

The captures the proxy holds keep the request bodies (up to ``proxy.max_body_bytes`` each):
past ``MAX_HELD_BODY_BYTES`` of them, a new capture is kept without its body (the event is
recorded, its words are not read), counted as ``socialwatch_bodies_skipped_total{reason=
"writer_backlog"}``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from socialwatch.config import Config
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import ActivityEvent
from socialwatch.proxy_addons.interpreter import Capture

log = logging.getLogger(__name__)

SEND_INTERVAL = 0.05
"""Longest an event waits in the proxy before it is sent to the writer process (the proxy's
thread does not wake the sender at every event)."""
REPORT_INTERVAL = 0.25
"""How often the writer process reports what it is done with and its metrics."""
START_TIMEOUT = 120.0
RESTART_DELAY = 1.0
METRIC_METHODS = frozenset({"inc", "dec", "set", "observe"})
MAX_HELD_BODY_BYTES = 64 * 1_048_576
"""Most request-body bytes held in captures not yet confirmed written."""

Item = ActivityEvent | Capture


class WriterProcessError(Exception):
    """The writer process could not be started; the message says why."""


class WriterProcess:
    """`Pipeline`'s interface (start, submit, stop) over a writer process the proxy supervises."""

    def __init__(self, config: Config, metrics: Metrics):
        self.config, self.metrics = config, metrics
        self.queue_size = config.storage.queue_size
        self.batch_size = config.storage.batch_size
        self._lock = threading.Condition(threading.Lock())
        self._pending: collections.deque[Item] = collections.deque()  # not sent yet
        self._unconfirmed: collections.deque[Item] = collections.deque()  # sent, not reported done
        self._held_bytes = 0  # of bodies in captures, pending or unconfirmed
        self._stopping = threading.Event()
        self._process: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._dead = threading.Event()  # the current writer process is gone
        self._stopped = threading.Event()  # the current writer process stopped when asked
        self._child_unsent_age = 0.0
        self._child_spool = (0.0, 0.0)
        self._sender = threading.Thread(target=self._run, name="socialwatch-writer-sender", daemon=True)
        metrics.track_queue(lambda: len(self._pending) + len(self._unconfirmed))
        metrics.track_unsent_age(self.oldest_unsent_age)
        if config.spool.directory is not None:
            metrics.track_spool(lambda: self._child_spool[0], lambda: self._child_spool[1])

    def start(self) -> None:
        """Start the writer process; WriterProcessError if it cannot start (bad storage, lexicon, spool)."""
        self._spawn()
        self._sender.start()

    def submit(self, item: Item) -> bool:
        """Queue an event or capture for the writer process; False (and counted) if the queue is full.
        Never blocks."""
        with self._lock:
            full = len(self._pending) + len(self._unconfirmed) >= self.queue_size
            if not full:
                if isinstance(item, Capture) and item.body and self._held_bytes + item.size > MAX_HELD_BODY_BYTES:
                    item = dataclasses.replace(item, body=None, body_skipped="writer_backlog")
                self._pending.append(item)
                self._held_bytes += _size(item)
                if len(self._pending) == self.batch_size:
                    self._lock.notify()
        if full:
            self.metrics.events_dropped.labels(reason="queue_full").inc()
        return not full

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued, let the writer process write (or spool) it within `timeout`, stop it."""
        self._stopping.set()
        with self._lock:
            self._lock.notify()
        self._sender.join(timeout + 5)
        with self._lock:
            unsent = len(self._pending) + len(self._unconfirmed)
            self._pending.clear()
            self._unconfirmed.clear()
            self._held_bytes = 0
        if unsent and not self._stopped.is_set():
            log.error("socialwatch: writer process stopped with %d events unconfirmed", unsent)
            self.metrics.events_dropped.labels(reason="unsent_at_shutdown").inc(unsent)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()

    def oldest_unsent_age(self) -> float:
        """Seconds since the capture of the oldest event not yet in storage (0 when none)."""
        with self._lock:
            head = self._unconfirmed[0] if self._unconfirmed else (self._pending[0] if self._pending else None)
        mine = time.time() - _captured_at(head) if head is not None else 0.0
        return max(0.0, mine, self._child_unsent_age)

    # -- the proxy's side ------------------------------------------------------

    def _spawn(self) -> None:
        """Start a writer process and wait until it has opened storage."""
        read_theirs, write_mine = os.pipe()
        read_mine, write_theirs = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "socialwatch.writer_process", str(read_theirs), str(write_theirs)],
                pass_fds=(read_theirs, write_theirs), stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(read_theirs)
            os.close(write_theirs)
        send, receive = Connection(write_mine, readable=False), Connection(read_mine, writable=False)
        try:
            send.send(("start", self.config))
            if not receive.poll(START_TIMEOUT):
                raise WriterProcessError(f"the writer process did not start within {START_TIMEOUT:.0f} s")
            answer = receive.recv()
        except (OSError, EOFError, WriterProcessError) as e:
            process.kill()
            process.wait()
            raise WriterProcessError(str(e) or "the writer process exited at start") from None
        if answer[0] != "ready":
            process.wait()
            raise WriterProcessError(answer[1])
        self._process, self._send = process, send
        self._dead.clear()
        self._stopped.clear()
        threading.Thread(target=self._read, args=(receive,), name="socialwatch-writer-reader", daemon=True).start()
        log.info("socialwatch: writer process %d started", process.pid)

    def _run(self) -> None:
        """The sender thread: batches to the writer process; a new writer process when one dies."""
        while True:
            with self._lock:
                self._lock.wait(SEND_INTERVAL)
            if self._dead.is_set() and not self._restart():
                if self._stopping.is_set():
                    return
                continue
            if not self._send_pending():
                continue
            if self._stopping.is_set():
                with self._lock:
                    if self._pending:
                        continue
                self._ask_to_stop()
                return

    def _send_pending(self) -> bool:
        """Send every pending event; False when the writer process is gone."""
        while True:
            with self._lock:
                chunk = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                self._unconfirmed.extend(chunk)
            if not chunk:
                return True
            try:
                self._send.send(("events", False, chunk))
            except OSError:
                self._dead.set()
                return False

    def _restart(self) -> bool:
        """Start another writer process and send it what the dead one had not confirmed."""
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
            if self._process.poll() is None:  # it closed its pipe but lives on: end it
                self._process.kill()
            code = self._process.wait()
        self.metrics.writer_restarts.inc()
        with self._lock:
            resend = list(self._unconfirmed)
        log.error("socialwatch: the writer process exited (status %s); starting another, re-sending %d events "
                  "it had not confirmed", code, len(resend))
        try:
            self._spawn()
        except WriterProcessError as e:
            log.error("socialwatch: the writer process cannot start: %s; trying again in %.0f s", e, RESTART_DELAY)
            self._stopping.wait(RESTART_DELAY)
            return False
        try:
            for start in range(0, len(resend), self.batch_size):
                self._send.send(("events", True, resend[start:start + self.batch_size]))
        except OSError:
            self._dead.set()
            return False
        return True

    def _ask_to_stop(self) -> None:
        try:
            self._send.send(("stop",))
        except OSError:
            return
        self._stopped.wait(self.config.storage.flush_interval_seconds + 15)

    def _read(self, receive: Connection) -> None:
        """The reader thread of one writer process: confirmations, metrics, and its end."""
        confirmed = 0
        try:
            while True:
                message = receive.recv()
                if message[0] == "report":
                    _, done, operations, unsent_age, spool = message
                    with self._lock:
                        for _ in range(min(done - confirmed, len(self._unconfirmed))):
                            self._held_bytes -= _size(self._unconfirmed.popleft())
                    confirmed = done
                    self._child_unsent_age, self._child_spool = unsent_age, spool
                    self._replay(operations)
                elif message[0] == "stopped":
                    self._stopped.set()
        except (EOFError, OSError):
            pass
        finally:
            receive.close()
            if not self._stopped.is_set():
                self._dead.set()
                with self._lock:
                    self._lock.notify()

    def _replay(self, operations: list[tuple[str, tuple, str, float]]) -> None:
        for name, labels, method, value in operations:
            metric = getattr(self.metrics, name, None)
            if metric is None or method not in METRIC_METHODS:
                continue
            if labels:
                metric = metric.labels(**dict(labels))
            getattr(metric, method)(value)


def _size(item: Item) -> int:
    return item.size if isinstance(item, Capture) else 0


def _captured_at(item: Item) -> float:
    return item.time if isinstance(item, Capture) else item.time.timestamp()


# -- the writer process's side -------------------------------------------------


class _RecordedMetric:
    """One metric (or labelled child) in the writer process: what is done to it is recorded."""

    def __init__(self, operations: collections.deque, name: str, labels: tuple = ()):
        self._operations, self._name, self._labels = operations, name, labels

    def labels(self, **labels: str) -> _RecordedMetric:
        return _RecordedMetric(self._operations, self._name, tuple(sorted(labels.items())))

    def inc(self, amount: float = 1) -> None:
        self._operations.append((self._name, self._labels, "inc", amount))

    def dec(self, amount: float = 1) -> None:
        self._operations.append((self._name, self._labels, "dec", amount))

    def set(self, value: float) -> None:
        self._operations.append((self._name, self._labels, "set", value))

    def observe(self, value: float) -> None:
        self._operations.append((self._name, self._labels, "observe", value))

    @contextlib.contextmanager
    def time(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - started)


class RecordedMetrics:
    """`Metrics` as the pipeline uses it, recording operations for the proxy to replay."""

    def __init__(self) -> None:
        self.operations: collections.deque = collections.deque()
        self.spool: tuple = (lambda: 0.0, lambda: 0.0)

    def __getattr__(self, name: str) -> _RecordedMetric:
        if name.startswith("_"):
            raise AttributeError(name)
        return _RecordedMetric(self.operations, name)

    def track_queue(self, depth) -> None:
        """The proxy counts the queue itself: what it sent and has not had confirmed."""

    def track_unsent_age(self, age) -> None:
        """Reported by the writer process (``Pipeline.oldest_unsent_age``)."""

    def track_spool(self, size, segments) -> None:
        self.spool = (size, segments)

    def drain(self) -> list:
        operations = self.operations
        return [operations.popleft() for _ in range(len(operations))]


def _writer_main(receive: Connection, send: Connection) -> int:
    from socialwatch.pipeline import Pipeline, load_classifier
    from socialwatch.proxy_addons.interpreter import Interpreter
    from socialwatch.storage import open_storage

    _, config = receive.recv()
    try:
        if config.storage.writer_cpus:
            os.sched_setaffinity(0, config.storage.writer_cpus)
        classifier = load_classifier(config)
        metrics = RecordedMetrics()
        interpreter = Interpreter.from_config(config, metrics)
        storage = open_storage(config.storage.url)
        pipeline = Pipeline.from_config(classifier, storage, metrics, config)
    except Exception as e:  # noqa: BLE001 - told to the proxy, which refuses to start
        send.send(("failed", f"{type(e).__name__}: {e}"))
        return 1
    done = [0]  # events the pipeline is done with; written by its thread only

    def batch_done(count: int) -> None:
        done[0] += count

    def report() -> None:
        spool = tuple(float(read()) for read in metrics.spool)
        send.send(("report", done[0], metrics.drain(), pipeline.oldest_unsent_age(), spool))

    pipeline.on_batch_done = batch_done
    pipeline.start()
    send.send(("ready",))
    reported = time.monotonic()
    try:
        while True:
            if receive.poll(REPORT_INTERVAL):
                message = receive.recv()
                if message[0] == "stop":
                    break
                _, maybe_stored, items = message
                if maybe_stored:
                    pipeline.expect_stored(len(items))
                for item in items:
                    pipeline.submit(_read(interpreter, metrics, item))
            if time.monotonic() - reported >= REPORT_INTERVAL:
                report()
                reported = time.monotonic()
    except (EOFError, OSError):
        log.warning("socialwatch writer: the proxy is gone; writing what is queued")
    pipeline.stop(timeout=config.storage.flush_interval_seconds + 10)
    with contextlib.suppress(OSError):
        report()
        send.send(("stopped",))
    storage.close()
    return 0


def _read(interpreter, metrics: RecordedMetrics, item: Item) -> ActivityEvent:
    """The event of a capture (an event as it is). The interpreter never raises on bad input;
    should a bug make it raise, the event is recorded without its body rather than lost."""
    if not isinstance(item, Capture):
        return item
    try:
        return interpreter.event(item)
    except Exception:  # noqa: BLE001
        log.exception("socialwatch writer: cannot read a %s capture of %s; recording it without its body",
                      item.kind, item.platform)
        return interpreter.event(dataclasses.replace(item, body=None, body_skipped="unreadable"))


def main(argv: list[str]) -> int:
    # The proxy decides when this process ends (it says stop, or its pipe closes): a Ctrl-C or a
    # service manager's SIGTERM reaches the whole process group, and must not cut the last writes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(asctime)s] socialwatch writer %(process)d: %(message)s")
    receive = Connection(int(argv[1]), writable=False)
    send = Connection(int(argv[2]), readable=False)
    return _writer_main(receive, send)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
