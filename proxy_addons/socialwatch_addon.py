"""mitmproxy addon: record district devices' social-media activity.

    mitmdump -s proxy_addons/socialwatch_addon.py --set socialwatch_config=socialwatch.toml

(`socialwatch run` loads the same addon.) TLS connections that are not from a
district device to a social-media platform are passed through undecrypted, so
unrelated traffic is never read. The hooks stay thin: for each request to a
platform they take a `Capture` (what was sent, not yet read) and hand it on;
the `Interpreter` reads it into an event (action, the words the student wrote,
the person, the procedure's rules), here or in the writer process
(storage.writer), and the pipeline classifies and stores it in the background.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.net.http import url
from prometheus_client import CollectorRegistry

from socialwatch.config import Config, ConfigError, load_config
from socialwatch.dashboards import metrics as metrics_mod
from socialwatch.events import new_event_id
from socialwatch.pipeline import Pipeline, load_classifier
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.expiring import ExpiringSet
from socialwatch.proxy_addons.identity import IdentityResolver
from socialwatch.proxy_addons.interpreter import Capture, Interpreter
from socialwatch.proxy_addons.policy import DistrictProfile, PolicyRules, RegistryError, read_registry
from socialwatch.proxy_addons.recognizers import RequestRules
from socialwatch.proxy_addons.scope import DistrictScope
from socialwatch.storage import open_storage, redact_url
from socialwatch.writer_process import WriterProcess

log = logging.getLogger(__name__)

PLATFORM = "socialwatch.platform"
HOST = "socialwatch.host"
RESPONSE_BYTES = "socialwatch.response_bytes"
RESPONSE_BUFFER_MAX = 4 * 1_048_576
"""Platform responses declared at most this large are passed on whole; others are streamed."""
PINNED_CLIENTS_MAX = 10_000
"""Most (device, host) pairs remembered as certificate-pinned."""
HOST_CACHE_MAX = 65_536
"""Most Host headers whose host name is remembered (emptied when full)."""


class SocialWatch:
    def __init__(self) -> None:
        self.metrics = metrics_mod.Metrics(CollectorRegistry())
        self.catalog = Catalog.load()
        self.rules = RequestRules.load()
        self.config: Config | None = None
        self.scope: DistrictScope | None = None
        self.pipeline: Pipeline | WriterProcess | None = None
        self._storage = None
        """The writer thread's storage (storage.writer = "thread"); the writer process opens its own."""
        self.pinned = ExpiringSet(max_entries=PINNED_CLIENTS_MAX, ttl_seconds=86_400)
        self.interpreter: Interpreter | None = None
        """Reads captures into events in this process (storage.writer = "thread"); the writer
        process has its own."""
        self._metrics_server = None
        self._review = None
        self._passthrough_counters: dict[str, object] = {}
        """metrics.passthrough's children by reason."""

    def load(self, loader):
        loader.add_option(
            "socialwatch_config", str, "",
            "Path of the socialwatch TOML configuration; empty for defaults.",
        )
        loader.add_option(
            "socialwatch_district_subnets", Sequence[str], [],
            "District device subnets (overrides proxy.district_subnets). Repeat for several.",
        )
        loader.add_option(
            "socialwatch_storage_url", str, "",
            "Storage URL, chdb:PATH or clickhouse://... (overrides storage.url).",
        )
        loader.add_option(
            "socialwatch_writer", str, "",
            "Where events are classified and written: thread or process (overrides storage.writer).",
        )
        loader.add_option(
            "socialwatch_metrics_port", int, -1,
            "Port of the /metrics endpoint, 0 for none (overrides metrics.listen_port; -1 keeps it).",
        )
        loader.add_option(
            "socialwatch_review_port", int, 0,
            "Port of the review application served on the embedded store (overrides review.listen_port; 0 keeps it).",
        )
        loader.add_option(
            "socialwatch_max_body_bytes", int, 0,
            "Largest request body read for text (overrides proxy.max_body_bytes; 0 keeps it).",
        )

    def configure(self, updated: set[str]):
        if not any(name.startswith("socialwatch_") for name in updated):
            return
        options = ctx.options
        overrides = {
            "proxy.district_subnets": list(options.socialwatch_district_subnets) or None,
            "storage.url": options.socialwatch_storage_url or None,
            "storage.writer": options.socialwatch_writer or None,
            "metrics.listen_port": options.socialwatch_metrics_port if options.socialwatch_metrics_port >= 0 else None,
            "proxy.max_body_bytes": options.socialwatch_max_body_bytes or None,
            "review.listen_port": options.socialwatch_review_port or None,
        }
        try:
            config = load_config(options.socialwatch_config or None, overrides)
        except ConfigError as e:
            raise exceptions.OptionsError(str(e)) from None
        if self.pipeline is not None and (config.storage, config.metrics) != (self.config.storage, self.config.metrics):
            raise exceptions.OptionsError("socialwatch: storage and metrics settings change only on restart")
        district = config.district
        try:
            approved = (read_registry(district.approved_accounts_file, self.catalog.platforms)
                        if district.approved_accounts_file else frozenset())
        except (OSError, RegistryError) as e:
            raise exceptions.OptionsError(f"socialwatch: approved-accounts registry: {e}") from None
        self.config = config
        self.scope = DistrictScope(config.proxy.district_subnets, self.catalog, config.proxy.forum_hosts)
        self.pinned.ttl_seconds = config.proxy.pinned_client_ttl_seconds
        policy = PolicyRules(DistrictProfile(district.names, district.email_domains), approved)
        if self.interpreter is None:
            # The person behind a device is looked up from running() on: it creates the pseudonym key.
            self.interpreter = Interpreter(self.catalog, self.rules, policy, None, self.metrics,
                                           config.proxy.max_body_bytes)
        else:  # changed while running: what the interpreter remembers (policy flags raised) stays
            self.interpreter.policy, self.interpreter.max_body_bytes = policy, config.proxy.max_body_bytes
            if self.pipeline is not None and config.storage.writer == "thread":
                self.interpreter.identity = IdentityResolver.from_config(config.identity)

    def running(self):
        config = self.config
        try:
            # The writer process reads the identity files and loads the classifier itself (and
            # refuses to start on a bad lexicon).
            classifier = None
            if config.storage.writer == "thread":
                self.interpreter.identity = IdentityResolver.from_config(config.identity)
                classifier = load_classifier(config)
            storage = open_storage(config.storage.url)
            applied = storage.migrate()
        except Exception as e:
            # Crash visibly instead of letting traffic through unrecorded.
            log.error("socialwatch cannot start: %s", e)
            ctx.master.shutdown()
            return
        if applied:
            log.info("socialwatch: applied migrations %s", ", ".join(applied))
        try:
            if config.storage.writer == "process":
                self.pipeline = WriterProcess(config, self.metrics)
            else:
                self.pipeline = Pipeline.from_config(classifier, storage, self.metrics, config)
            self.pipeline.start()
        except Exception as e:  # the spool directory cannot be opened, the writer process cannot start
            log.error("socialwatch cannot start: %s", e)
            storage.close()
            self.pipeline = None
            ctx.master.shutdown()
            return
        if config.storage.writer == "process":
            storage.close()  # the writer process has its own
        else:
            self._storage = storage
        if config.review.with_proxy and config.storage.url.startswith("chdb:"):
            self._start_review(storage, config)
        self._track_ca()
        if config.metrics.listen_port:
            self._metrics_server = metrics_mod.serve(self.metrics, config.metrics.listen_host, config.metrics.listen_port)
        log.info(
            "socialwatch: recording to %s, metrics on %s:%s",
            redact_url(config.storage.url), config.metrics.listen_host, config.metrics.listen_port or "(off)",
        )

    def _track_ca(self) -> None:
        """socialwatch_ca_expiry_timestamp_seconds: the CA mitmproxy loaded (ca="current") and the one
        'socialwatch ca rotate' prepared in confdir/next/ (ca="next"). Never logs the key."""
        from pathlib import Path

        from socialwatch.certificates import expiry_timestamps

        try:
            tlsconfig = ctx.master.addons.get("tlsconfig")
            store = getattr(tlsconfig, "certstore", None)
            loaded = store.default_ca.to_cryptography() if store is not None else None
            for ca, timestamp in expiry_timestamps(Path(ctx.options.confdir).expanduser(), loaded).items():
                self.metrics.ca_expiry.labels(ca=ca).set(timestamp)
        except Exception as e:  # a metric must not stop the proxy
            log.warning("socialwatch: cannot read the CA's expiry for the metric: %s", e)

    def _start_review(self, storage, config: Config) -> None:
        """The embedded store can be opened by one process only: serve the review application here."""
        from socialwatch.dashboards.review.server import ReviewServer

        try:
            self._review = ReviewServer(storage, config, registry=self.metrics.registry)
            self._review.start()
        except Exception as e:  # recording goes on; counselors need the address fixed
            log.error("socialwatch: the review application cannot start on %s:%s: %s",
                      config.review.listen_host, config.review.listen_port, e)
            self._review = None

    def done(self):
        if self._review is not None:
            self._review.stop()
            self._review = None
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        if self._storage is not None:
            self._storage.close()
            self._storage = None
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server = None

    def tls_clienthello(self, data: tls.ClientHelloData):
        client, sni = data.context.client.peername[0], data.client_hello.sni
        decision = self.scope.tls_decision(client, sni, pinned=bool(sni) and self.pinned.contains((client, sni.lower())))
        if decision.passthrough_reason is None:
            return
        data.ignore_connection = True
        counter = self._passthrough_counters.get(decision.passthrough_reason)
        if counter is None:
            counter = self._passthrough_counters[decision.passthrough_reason] = self.metrics.passthrough.labels(
                reason=decision.passthrough_reason)
        counter.inc()
        if decision.record_metadata:
            match = decision.match
            self._emit(Capture("passthrough", new_event_id(), time.time(), client, match.platform, sni,
                               action="media" if match.media else "connect", protocol="tls"))

    def tls_failed_client(self, data: tls.TlsData):
        """A district device refused our certificate for a platform host: a pinned app. Let it through next time."""
        client, sni = data.context.client.peername[0], data.context.client.sni
        if sni and self.scope.tls_decision(client, sni).passthrough_reason is None:
            evicted = self.pinned.add((client, sni.lower()))
            self.metrics.pinned_detected.inc()
            self.metrics.evictions.labels(table="pinned_clients").inc(evicted)

    def requestheaders(self, flow: http.HTTPFlow):
        request, client = flow.request, flow.client_conn.peername[0]
        host = _pretty_host(request)
        platform = self.scope.platform_for(client, host)
        if platform is None and self.scope.may_identify(client, host, request.scheme):
            platform = self.rules.identify(request.method, request.path.split("?", 1)[0])
        if platform is None:
            # Not ours: stream it through without buffering or reading it.
            flow.request.stream = True
            return
        flow.metadata[PLATFORM] = platform
        flow.metadata[HOST] = host
        declared = _header(request, b"content-length") or "0"
        if not declared.isdigit() or int(declared) > self.config.proxy.max_body_bytes:
            flow.request.stream = True

    def websocket_message(self, flow: http.HTTPFlow):
        # mitmproxy keeps every message of a connection; a chat can last all day: keep only the newest.
        del flow.websocket.messages[:-1]
        platform = flow.metadata.get(PLATFORM)
        message = flow.websocket.messages[-1]
        if platform is None or not message.from_client:
            return
        too_large = len(message.content) > self.config.proxy.max_body_bytes
        self._emit(Capture(
            "websocket", new_event_id(), message.timestamp, flow.client_conn.peername[0], platform,
            flow.metadata[HOST], login=_login(flow), method=flow.request.method, path=flow.request.path,
            body=None if too_large else message.content, body_skipped="too_large" if too_large else "",
            is_text=message.is_text, status=101, protocol="wss" if flow.request.scheme == "https" else "ws",
            request_bytes=len(message.content),
        ))

    def responseheaders(self, flow: http.HTTPFlow):
        if PLATFORM not in flow.metadata:
            flow.response.stream = True
            return
        declared = _header(flow.response, b"content-length")
        if declared.isdigit() and int(declared) <= RESPONSE_BUFFER_MAX:
            return  # small (API and page) responses are sent whole: streaming them costs latency
        # Large or of unknown length: stream it, counting the bytes on the way.
        flow.metadata[RESPONSE_BYTES] = 0

        def count(chunk: bytes) -> bytes:
            flow.metadata[RESPONSE_BYTES] += len(chunk)
            return chunk

        flow.response.stream = count

    def response(self, flow: http.HTTPFlow):
        self._record(flow, flow.response.status_code)

    def error(self, flow: http.HTTPFlow):
        if flow.response is None:
            self._record(flow, 0)

    def _record(self, flow: http.HTTPFlow, status: int) -> None:
        if PLATFORM not in flow.metadata or flow.websocket is not None:
            return  # a WebSocket is recorded message by message
        request = flow.request
        body = None if request.stream else request.raw_content  # streamed: declared too large, not read
        self._emit(Capture(
            "http", new_event_id(), request.timestamp_start, flow.client_conn.peername[0], flow.metadata[PLATFORM],
            flow.metadata[HOST], login=_login(flow), method=request.method, path=request.path,
            content_type=_header(request, b"content-type"), content_encoding=_header(request, b"content-encoding"),
            body=body, body_skipped="too_large" if body is None else "", status=status, protocol=request.scheme,
            request_bytes=_body_size(request),
            response_bytes=flow.metadata.get(RESPONSE_BYTES) or (_body_size(flow.response) if flow.response else 0),
        ))

    def _emit(self, capture: Capture) -> None:
        """Hand a capture on: read here (writer thread), or by the writer process."""
        if self.pipeline is None:
            return
        if self.config.storage.writer == "process":
            self.pipeline.submit(capture)
        else:
            self.pipeline.submit(self.interpreter.event(capture))


def _body_size(message: http.Message) -> int:
    if message.raw_content is not None:
        return len(message.raw_content)
    declared = _header(message, b"content-length")
    return int(declared) if declared.isdigit() else 0


def _header(message: http.Message, name: bytes) -> str:
    """The first value of header `name` (lowercase), "" if absent. One pass over the raw fields:
    ``Headers.get`` folds the case of every name on every call, which costs several microseconds,
    and the hooks read a few headers of every request."""
    for key, value in message.headers.fields:
        if key.lower() == name:
            return value.decode("utf-8", "surrogateescape")
    return ""


_hosts: dict[str, str] = {}


def _pretty_host(request: http.Request) -> str:
    """request.pretty_host, with the parse of the Host header (or :authority) remembered per value."""
    authority = request.host_header
    if not authority:
        return request.host
    host = _hosts.get(authority)
    if host is None:
        if len(_hosts) >= HOST_CACHE_MAX:
            _hosts.clear()
        host = _hosts[authority] = url.parse_authority(authority, check=False)[0]
    return host


def _login(flow: http.HTTPFlow) -> str:
    """The user the proxy's own authentication names, if it is on."""
    return str((flow.metadata.get("proxyauth") or ("",))[0])


addons = [SocialWatch()]
