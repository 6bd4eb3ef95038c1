"""Serve the review application (waitress) and its alerter, in a thread beside the proxy or as its own command."""

from __future__ import annotations

import logging
import threading

import prometheus_client
import waitress.server

from socialwatch.config import Config
from socialwatch.storage import Storage

from .app import create_app
from .health_metrics import ReviewHealthCollector, add_metrics_endpoint

log = logging.getLogger("socialwatch.review")


class ReviewServer:
    """The review application on ``review.listen_host:listen_port`` and, when enabled, the alerter.

    ``start()`` binds the port (raising OSError when it is taken) and serves in a daemon thread;
    ``stop()`` closes both.
    """

    def __init__(self, store: Storage, config: Config, registry: prometheus_client.CollectorRegistry | None = None):
        self.config = config
        self.app = create_app(store, config)
        # Review-health metrics on the given registry (a private one when None), served at /metrics.
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        self.health_metrics = ReviewHealthCollector(store)
        self.registry.register(self.health_metrics)
        add_metrics_endpoint(self.app, self.registry)
        self._server = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.alerter = None
        if config.alerts.enabled:
            from .alerts import Alerter

            self.alerter = Alerter(store, config.alerts, config.review.base_url, registry=self.registry)

    def start(self) -> None:
        review = self.config.review
        self._server = waitress.server.create_server(
            self.app, host=review.listen_host, port=review.listen_port, threads=8, ident="socialwatch",
            clear_untrusted_proxy_headers=True)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="socialwatch-review", daemon=True)
        self._thread.start()
        if self.alerter is not None:
            self.alerter.start()
        log.info("socialwatch review: serving on http://%s:%s/", review.listen_host, self.port)

    def _serve(self) -> None:
        """waitress's loop, polled in short steps so that stop() is prompt; sockets are closed in this
        thread, never under a select() running in it."""
        server = self._server
        try:
            while not self._stopping.is_set():
                server.asyncore.loop(timeout=0.25, map=server._map, count=1)
        finally:
            server.task_dispatcher.shutdown(timeout=5)
            for channel in list(server._map.values()):
                channel.close()

    @property
    def port(self) -> int:
        return self._server.effective_port if self._server else self.config.review.listen_port

    def stop(self) -> None:
        if self.alerter is not None:
            self.alerter.stop()
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.registry.unregister(self.health_metrics)  # a later ReviewServer may use the same registry
        except KeyError:
            pass
