"""A local HTTPS (and WebSocket) server standing in for the public internet (platforms and other sites)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import ssl
import threading

import wsproto.connection
import wsproto.events

from support.tls_certs import UpstreamCerts


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: do not wait for an ACK between them

    def _answer(self) -> None:
        if self.headers.get("upgrade", "").lower() == "websocket":
            self._websocket()
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.headers.get("host"), self.path, len(body)))
        payload = json.dumps({"status": "ok", "received_bytes": len(body)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def _websocket(self) -> None:
        """Accept the upgrade (RFC 6455), then record text messages and answer each with "ok"."""
        key = self.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
        self.end_headers()
        self.wfile.flush()
        ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
        self.close_connection = True
        while data := self.connection.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, wsproto.events.TextMessage):
                    self.server.websocket_messages.append(event.data)
                    self.connection.sendall(ws.send(wsproto.events.TextMessage(data="ok")))
                elif isinstance(event, wsproto.events.Ping):
                    self.connection.sendall(ws.send(event.response()))
                elif isinstance(event, wsproto.events.CloseConnection):
                    self.connection.sendall(ws.send(event.response()))
                    return

    def log_message(self, format, *args):  # keep test output quiet
        pass


class UpstreamServer:
    """HTTPS on 127.0.0.1 with one certificate for all stand-in hosts; records (method, host, path, bytes)."""

    def __init__(self, certs: UpstreamCerts | None):
        """HTTPS with `certs`; plain HTTP when None."""
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.requests = []
        self.httpd.websocket_messages = []
        if certs is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certs.cert_pem, certs.key_pem)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.requests = self.httpd.requests
        self.websocket_messages = self.httpd.websocket_messages
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> UpstreamServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
