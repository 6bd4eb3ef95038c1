"""Run inside the test namespace: a device's ordinary clients talking to SERVER.

    python sensor_clients.py SERVER_IP

DNS: a standard query over a UDP socket (as a stub resolver sends it) for www.tiktok.com.
TLS: Python's ssl client connecting to SERVER:443 for www.instagram.com.
QUIC: aioquic's client connecting to SERVER:443 (UDP) for www.snapchat.com.
HTTP: http.client GET with Host www.youtube.com to SERVER:80.
Failures after the first flight (no real platform answers here) are expected and ignored.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl
import struct
import sys


def dns(server: str, attempts: int = 3) -> None:
    """As a stub resolver does, the query is sent again when no answer comes (the first may be
    lost while the device resolves the server's address)."""
    question = b"".join(bytes([len(label)]) + label for label in b"www.tiktok.com".split(b".")) + b"\x00"
    query = struct.pack("!HHHHHH", os.getpid() & 0xFFFF, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for attempt in range(attempts):
            s.sendto(query, (server, 53))
            try:
                s.recvfrom(512)
                return
            except TimeoutError:
                if attempt == attempts - 1:
                    raise


def tls(server: str) -> None:
    context = ssl.create_default_context()
    try:
        with socket.create_connection((server, 443), timeout=2) as raw, \
                context.wrap_socket(raw, server_hostname="www.instagram.com"):
            pass
    except (ssl.SSLError, OSError):
        pass


async def quic(server: str) -> None:
    from aioquic.asyncio import connect
    from aioquic.quic.configuration import QuicConfiguration

    configuration = QuicConfiguration(is_client=True, server_name="www.snapchat.com", verify_mode=ssl.CERT_NONE)
    try:
        async with asyncio.timeout(1.0):
            async with connect(server, 443, configuration=configuration):
                pass
    except (TimeoutError, ConnectionError, OSError):
        pass


def http_request(server: str) -> None:
    connection = http.client.HTTPConnection(server, 80, timeout=2)
    connection.request("GET", "/", headers={"Host": "www.youtube.com"})
    connection.getresponse().read()
    connection.close()


if __name__ == "__main__":
    target = sys.argv[1]
    dns(target)
    tls(target)
    asyncio.run(quic(target))
    http_request(target)
    print("done")
