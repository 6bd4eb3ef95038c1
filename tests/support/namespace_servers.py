"""Stand-in internet servers for a network namespace: HTTPS on :443, HTTP on :80, a UDP/443 (QUIC) listener.

Run inside the "internet" namespace:  python namespace_servers.py CERT_DIR LOG UDP_ADDRESS...
HTTPS uses support/upstream.py's handler and the certificates of make_upstream_certs;
every request and every UDP datagram is appended to LOG as a JSON line. Prints
"ready" once both listen, then serves until terminated.
"""

from __future__ import annotations

import http.server
import json
import pathlib
import socket
import ssl
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from support.upstream import _Handler


def main(cert_dir: str, log_path: str, *udp_addresses: str) -> None:
    certs = pathlib.Path(cert_dir)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115  (open for the life of the process)
    lock = threading.Lock()

    def record(entry: dict) -> None:
        with lock:
            log.write(json.dumps(entry) + "\n")

    class Requests(list):  # support/upstream.py's handler appends (method, host, path, bytes) here
        def append(self, item) -> None:
            method, host, path, size = item
            record({"kind": "http", "method": method, "host": host, "path": path, "bytes": size})

    class DualStack(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 and IPv6
            super().server_bind()

    httpd = DualStack(("::", 443), _Handler)
    httpd.requests, httpd.websocket_messages = Requests(), []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "upstream.pem", certs / "upstream-key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    plain = DualStack(("::", 80), _Handler)  # plain HTTP on :80, recorded the same way
    plain.requests, plain.websocket_messages = Requests(), []
    threading.Thread(target=plain.serve_forever, daemon=True).start()

    def answer_udp(udp: socket.socket) -> None:  # answers every datagram: a client with no answer was blocked
        while True:
            data, peer = udp.recvfrom(2048)
            record({"kind": "udp", "client": peer[0], "server": udp.getsockname()[0], "bytes": len(data)})
            udp.sendto(b"answer", peer)

    for address in udp_addresses:  # one socket per address: the answer must come from the address asked
        udp = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((address, 443))
        threading.Thread(target=answer_udp, args=(udp,), daemon=True).start()
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
