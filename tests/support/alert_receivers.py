"""Stand-ins for the counselor's mailbox and chat system: a real SMTP server (aiosmtpd) and a
webhook receiver (http.server), each on a free loopback port."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .processes import free_port


class SmtpServer:
    """aiosmtpd on 127.0.0.1: every message received, with its recipients and arrival time."""

    def __init__(self, port: int | None = None, password: str | None = None):
        self.port = port or free_port()
        self.messages: list[tuple[float, list[str], email.message.EmailMessage]] = []
        self.password = password
        self.logins: list[str] = []
        kwargs = {}
        if password is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((time.monotonic(), list(envelope.rcpt_tos), message))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == self.password
        self.logins.append("ok" if ok else "refused")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 235 or 535

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for _, rcpts, message in self.messages if address in rcpts]

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class WebhookReceiver:
    """http.server in a thread: records JSON POSTs by path; answers ``status`` (or stalls ``delay`` s)."""

    def __init__(self):
        self.posts: list[tuple[float, str, dict, dict]] = []
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.delay:
                    time.sleep(receiver.delay)
                    return
                if receiver.status == 200:
                    receiver.posts.append((time.monotonic(), self.path, dict(self.headers), json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def to(self, path: str) -> list[dict]:
        return [body for _, p, _, body in self.posts if p == f"/{path}"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


