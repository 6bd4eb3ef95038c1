"""mitmproxy addon: record district devices' social-media activity.

    mitmdump -s proxy_addons/socialwatch_addon.py --set socialwatch_config=socialwatch.toml

(`socialwatch run` loads the same addon.) TLS connections that are not from a
district device to a social-media platform are passed through undecrypted, so
unrelated traffic is never read. For each request to a platform the addon
records an event (metadata, plus the text the student wrote) and hands it to
the pipeline, which classifies and stores it in the background.
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
from collections.abc import Sequence

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.net.http import url
from prometheus_client import CollectorRegistry

from socialwatch.classifier import Flag
from socialwatch.config import Config, ConfigError, load_config
from socialwatch.dashboards import metrics as metrics_mod
from socialwatch.events import ActivityEvent, new_event_id, utcnow
from socialwatch.pipeline import Pipeline, load_classifier
from socialwatch.proxy_addons.bodies import BodySkipped, first_of, parse_body, string_values
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.identity import STAFF_ROLES, Identity, IdentityResolver
from socialwatch.proxy_addons.expiring import ExpiringSet
from socialwatch.proxy_addons.policy import (
    ACCOUNT_ACTIONS,
    DistrictProfile,
    PolicyRules,
    RegistryError,
    read_registry,
)
from socialwatch.proxy_addons.recognizers import Recognition, RequestRules
from socialwatch.proxy_addons.scope import DistrictScope
from socialwatch.storage import open_storage, redact_url
from socialwatch.writer_process import WriterProcess

log = logging.getLogger(__name__)

PLATFORM = "socialwatch.platform"
HOST = "socialwatch.host"
RECOGNITION = "socialwatch.recognition"
RESPONSE_BYTES = "socialwatch.response_bytes"
RESPONSE_BUFFER_MAX = 4 * 1_048_576
"""Platform responses declared at most this large are passed on whole; others are streamed."""
PINNED_CLIENTS_MAX = 10_000
"""Most (device, host) pairs remembered as certificate-pinned."""
POLICY_RAISED_MAX = 100_000
POLICY_REPEAT_SECONDS = 86_400.0
"""A policy rule fires once per person (or device), platform and rule in this time, at most
POLICY_RAISED_MAX such triples remembered."""
HANDLE_FIELDS = ("username", "screen_name", "user_name", "handle")
"""Body fields that name the account a signup, login or profile edit is for."""
POLICY = "socialwatch.policy_inputs"
MAX_QUERY_FIELDS = 100
"""Query parameters read for text (only where a recognizer names them)."""
MAX_FIELD_CHARS = 2048
"""Host and path longer than this are cut: they are metadata, not content."""
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
        self.policy_raised = ExpiringSet(max_entries=POLICY_RAISED_MAX, ttl_seconds=POLICY_REPEAT_SECONDS)
        self.policy: PolicyRules | None = None
        self.identity: IdentityResolver | None = None
        self._metrics_server = None
        self._review = None
        self._activity_counters: dict[tuple[str, str, str], object] = {}
        """metrics.activity's children by (platform, action, school): labels() is costly at every request."""
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
        self.policy = PolicyRules(DistrictProfile(district.names, district.email_domains), approved)
        self.identity = None  # made in running(): it creates the pseudonym key on first start

    def running(self):
        config = self.config
        try:
            self.identity = IdentityResolver.from_config(config.identity)
            # The writer process loads the classifier itself (and refuses to start on a bad lexicon).
            classifier = load_classifier(config) if config.storage.writer == "thread" else None
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
            action = "media" if match.media else "connect"
            identity = self._identity(client, "")
            self._submit(ActivityEvent(
                event_id=new_event_id(), time=utcnow(), device=client,
                person=identity.person, school=identity.school, age_band=identity.age_band,
                platform=match.platform, host=_clean(sni), method="", path="", action=action,
                status=0, request_bytes=0, response_bytes=0, source="passthrough", protocol="tls",
                policy=self._policy(client, identity, match.platform, action),
                professional=identity.role in STAFF_ROLES,
            ))

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

    def request(self, flow: http.HTTPFlow):
        if PLATFORM not in flow.metadata:
            return
        request = flow.request
        body = None
        if request.stream:
            self.metrics.bodies_skipped.labels(reason="too_large").inc()
        else:
            try:
                body = parse_body(
                    request.raw_content or b"",
                    _header(request, b"content-type"),
                    _header(request, b"content-encoding"),
                    self.config.proxy.max_body_bytes,
                    self.rules.json_fields,
                )
            except BodySkipped as skipped:
                self.metrics.bodies_skipped.labels(reason=skipped.reason).inc()
        recognition = flow.metadata[RECOGNITION] = self._recognize(flow, body)
        if body is not None:
            # Only signups and logins are searched for e-mail addresses: skip the walk for the rest.
            strings = string_values(body) if recognition.action in ACCOUNT_ACTIONS else ()
            flow.metadata[POLICY] = (first_of(body, HANDLE_FIELDS), strings)

    def websocket_message(self, flow: http.HTTPFlow):
        # mitmproxy keeps every message of a connection; a chat can last all day: keep only the newest.
        del flow.websocket.messages[:-1]
        platform = flow.metadata.get(PLATFORM)
        message = flow.websocket.messages[-1]
        if platform is None or not message.from_client:
            return
        if len(message.content) > self.config.proxy.max_body_bytes:
            self.metrics.bodies_skipped.labels(reason="too_large").inc()
            return
        if message.is_text:
            recognition = self.rules.recognize_websocket(platform, message.content.decode("utf-8", "replace"))
        else:
            recognition = Recognition("message")  # binary frames (MQTT, protobuf) are not read
        self._submit(self._event(
            flow, 101, recognition, protocol="wss" if flow.request.scheme == "https" else "ws",
            request_bytes=len(message.content), response_bytes=0,
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
        recognition = flow.metadata.get(RECOGNITION) or self._recognize(flow, None)
        self._submit(self._event(
            flow, status, recognition, protocol=flow.request.scheme,
            request_bytes=_body_size(flow.request),
            response_bytes=flow.metadata.get(RESPONSE_BYTES) or (_body_size(flow.response) if flow.response else 0),
        ))

    def _recognize(self, flow: http.HTTPFlow, body: object) -> Recognition:
        request = flow.request
        path, _, query = request.path.partition("?")
        return self.rules.recognize(flow.metadata[PLATFORM], request.method, path, _QueryFields(query, self.metrics),
                                    body)

    def _event(self, flow: http.HTTPFlow, status: int, recognition: Recognition, **sizes) -> ActivityEvent:
        request = flow.request
        device, platform = flow.client_conn.peername[0], flow.metadata[PLATFORM]
        identity = self._identity(device, str((flow.metadata.get("proxyauth") or ("",))[0]))
        handle, strings = flow.metadata.get(POLICY, ("", ()))
        return ActivityEvent(
            event_id=new_event_id(),
            time=datetime.datetime.fromtimestamp(request.timestamp_start, datetime.timezone.utc),
            device=device,
            person=identity.person,
            school=identity.school,
            age_band=identity.age_band,
            policy=self._policy(device, identity, platform, recognition.action, handle, strings, recognition.text),
            platform=platform,
            host=_clean(flow.metadata[HOST]),
            method=_clean(request.method),
            path=_clean(request.path.split("?", 1)[0]),
            action=recognition.action,
            status=status,
            target=recognition.target,
            text=recognition.text,
            professional=identity.role in STAFF_ROLES or bool(handle and self.policy.is_approved(platform, handle)),
            **sizes,
        )

    def _identity(self, device: str, login: str) -> Identity:
        return self.identity.resolve(device, login) if self.identity else Identity()

    def _policy(self, device: str, identity: Identity, platform: str, action: str, handle: str = "",
                strings: tuple[str, ...] = (), text: str = "") -> tuple[Flag, ...]:
        """The procedure's rules for one request; each fires once a day per person, platform and rule."""
        flags = self.policy.check(
            platform=platform, min_age=self.catalog.platforms[platform].min_age, action=action,
            age_band=identity.age_band, handle=handle, strings=strings, text=text,
        )
        fresh = []
        for flag in flags:
            key = (identity.person or device, platform, flag.category)
            if flag.category == "district_impersonation" or not self.policy_raised.contains(key):
                # An impersonating post is itself the evidence: each one is kept.
                self.metrics.evictions.labels(table="policy_raised").inc(self.policy_raised.add(key))
                fresh.append(flag)
        return tuple(fresh)

    def _submit(self, event: ActivityEvent) -> None:
        if self.pipeline is None:
            return
        key = (event.platform, event.action, event.school)
        counter = self._activity_counters.get(key)
        if counter is None:
            counter = self._activity_counters[key] = self.metrics.activity.labels(
                platform=event.platform, action=event.action, school=event.school)
        counter.inc()
        self.pipeline.submit(event)


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


class _QueryFields(Sequence):
    """The fields of a query string, parsed on first use: most requests' recognizers never read
    the query. The first MAX_QUERY_FIELDS are read; more are counted and not read (a padded
    query must not stop the request from being recorded)."""

    def __init__(self, query: str, metrics: metrics_mod.Metrics):
        self._query, self._metrics = query, metrics
        self._fields: list[tuple[str, str]] | None = None

    def _parsed(self) -> list[tuple[str, str]]:
        if self._fields is None:
            fields = self._query.split("&", MAX_QUERY_FIELDS) if self._query else []
            if len(fields) > MAX_QUERY_FIELDS:
                self._metrics.bodies_skipped.labels(reason="too_many_query_fields").inc()
                fields = fields[:MAX_QUERY_FIELDS]
            self._fields = urllib.parse.parse_qsl("&".join(fields))
        return self._fields

    def __getitem__(self, index):
        return self._parsed()[index]

    def __len__(self) -> int:
        return len(self._parsed())

    def __iter__(self):
        return iter(self._parsed())


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


def _clean(value: str) -> str:
    """Metadata from the wire, cut to size and made valid UTF-8 for storage."""
    return value[:MAX_FIELD_CHARS].encode("utf-8", "replace").decode("utf-8")


addons = [SocialWatch()]
