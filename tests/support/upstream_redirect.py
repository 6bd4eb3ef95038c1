"""mitmproxy script for tests only: send every upstream connection to a local stand-in server.

Connections for port 80 go to the plain-HTTP stand-in (`upstream_redirect_http`),
all others to the HTTPS one (`upstream_redirect`). The proxy keeps the original
host name and SNI, so the stand-in server sees the request exactly as the
platform would. Never load this outside tests.
"""

from mitmproxy import ctx


class UpstreamRedirect:
    def load(self, loader):
        loader.add_option("upstream_redirect", str, "", "HOST:PORT that upstream connections go to (tests).")
        loader.add_option("upstream_redirect_http", str, "", "HOST:PORT that port-80 connections go to (tests).")

    def server_connect(self, data):
        target = ctx.options.upstream_redirect
        if data.server.address and data.server.address[1] == 80 and ctx.options.upstream_redirect_http:
            target = ctx.options.upstream_redirect_http
        if target:
            host, port = target.rsplit(":", 1)
            data.server.address = (host, int(port))


addons = [UpstreamRedirect()]
