"""`socialwatch sensor`: read files or a live interface; print observations, store events, serve metrics."""

from __future__ import annotations

import dataclasses

import json
import os
import signal
import sys
import time
from typing import TextIO

from prometheus_client import CollectorRegistry
from scapy.error import Scapy_Exception
from socialwatch.dashboards.metrics import Metrics, serve
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.scope import DistrictScope
from socialwatch.proxy_addons.sensor.capture import LiveCapture, read_file
from socialwatch.proxy_addons.sensor.decode import BPF_FILTER
from socialwatch.proxy_addons.sensor.sensor import Sensor

from socialwatch.config import Config
from socialwatch.events import ActivityEvent
from socialwatch.proxy_addons.identity import STAFF_ROLES, IdentityResolver


def run(config: Config, *, read: list[str], interface: str | None, store: bool, print_json: bool,
        bpf: str = BPF_FILTER, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Files (`read`) or a live `interface`; `store`: events to the configured storage."""
    out = out or sys.stdout
    err = err or sys.stderr
    metrics = Metrics(CollectorRegistry())
    pipeline = storage = metrics_server = None
    on_event = None
    if store:
        pipeline, storage = _open_pipeline(config, metrics)
        on_event = _identified(pipeline.submit, IdentityResolver.from_config(config.identity))
    on_observation = None
    if print_json:
        def on_observation(observation, platform):
            out.write(json.dumps(observation.as_json(platform)) + "\n")
    catalog = Catalog.load()
    sensor = Sensor(
        metrics, catalog,
        scope=DistrictScope(config.proxy.district_subnets, catalog) if store else None,
        on_observation=on_observation,
        on_event=on_event,
    )
    status = 0
    try:
        try:
            if interface is None:
                for path in read:
                    for frame in read_file(path):
                        sensor.packet(*frame)
            else:
                if config.metrics.listen_port:
                    metrics_server = serve(metrics, config.metrics.listen_host, config.metrics.listen_port)
                _live(sensor, metrics, interface, bpf, out, err)
        except (OSError, ValueError, ImportError, Scapy_Exception) as e:
            # A missing or unreadable file, not a capture file, an unknown interface, no CAP_NET_RAW,
            # no libpcap to compile the filter: say so in one line.
            print(f"socialwatch sensor: {e}", file=err, flush=True)
            status = 1
        finally:
            sensor.close()  # what is aggregated is written even after an error
            out.flush()
    except BrokenPipeError:
        # The reader of the JSON lines went away (`| head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if pipeline is not None:
            pipeline.stop()
            storage.close()
        if metrics_server is not None:
            metrics_server.shutdown()
    print(f"socialwatch sensor: {sensor.summary()}", file=err, flush=True)
    return status


def _identified(submit, resolver: IdentityResolver):
    """`submit` for events that carry the device's person, school and age band, as the proxy's do."""

    def submit_identified(event: ActivityEvent) -> None:
        identity = resolver.resolve(event.device)
        submit(dataclasses.replace(event, person=identity.person, school=identity.school,
                                   age_band=identity.age_band, professional=identity.role in STAFF_ROLES))

    return submit_identified


def _live(sensor: Sensor, metrics: Metrics, interface: str, bpf: str, out: TextIO, err: TextIO) -> None:
    capture = LiveCapture(interface, bpf)
    stop = lambda signum, frame: capture.stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    print(f"socialwatch sensor: capturing on {interface}", file=err, flush=True)
    try:
        next_tick = 0.0
        for item in capture:
            now = time.monotonic()
            if item is not None:
                sensor.packet(*item)
            if item is None or now >= next_tick:
                next_tick = now + 1.0
                sensor.tick(time.time())
                metrics.sensor_capture_drops.inc(capture.drops())
                out.flush()
        metrics.sensor_capture_drops.inc(capture.drops())
    finally:
        capture.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _open_pipeline(config: Config, metrics: Metrics):
    """The writer of the sensor's events. They are names only, never text, so it has no
    classifier: the sensor loads no lexicon (seconds and hundreds of MB, docs/deploy.md)."""
    from socialwatch.pipeline import Pipeline
    from socialwatch.storage import open_storage

    storage = open_storage(config.storage.url)
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    if config.spool.directory is not None:
        # The proxy may run beside the sensor: each writer gets its own spool directory.
        spool_dir = config.spool.directory.with_name(config.spool.directory.name + "-sensor")
        config = config.model_copy(update={"spool": config.spool.model_copy(update={"directory": spool_dir})})
    try:
        pipeline = Pipeline.from_config(None, storage, metrics, config)
    except BaseException:
        storage.close()
        raise
    pipeline.start()
    return pipeline, storage
