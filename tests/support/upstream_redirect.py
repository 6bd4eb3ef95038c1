"""mitmproxy script for tests only: send every upstream connection to one local server.

The proxy keeps the original host name and SNI, so the stand-in server sees the
request exactly as the platform would. Never load this outside tests.
"""

from mitmproxy import ctx


class UpstreamRedirect:
    def load(self, loader):
        loader.add_option("upstream_redirect", str, "", "HOST:PORT that every upstream connection goes to (tests).")

    def server_connect(self, data):
        if ctx.options.upstream_redirect:
            host, port = ctx.options.upstream_redirect.rsplit(":", 1)
            data.server.address = (host, int(port))


addons = [UpstreamRedirect()]
