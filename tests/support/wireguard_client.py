"""A WireGuard client in Python, for tests: the handshake, transport packets, and a small TCP on top.

No kernel WireGuard (the test machine's kernel has no wireguard module) and no wg-quick are
needed: this speaks the protocol of the WireGuard whitepaper (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s,
zero pre-shared key, no cookies) over a UDP socket, from a client configuration as a device would
import it. Inside the tunnel, `TcpConnection` is just enough TCP for one request on a lossless
loopback path: connect, send, receive in order, acknowledge, close. Scapy builds and parses the
IPv4/TCP packets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import socket
import struct
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"


def _hash(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2s).digest()


def _kdf(key: bytes, data: bytes, n: int) -> list[bytes]:
    t0 = _hmac(key, data)
    out, previous = [], b""
    for i in range(1, n + 1):
        previous = _hmac(t0, previous + bytes([i]))
        out.append(previous)
    return out


def _aead(key: bytes, counter: int, plain: bytes, auth: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(b"\0" * 4 + struct.pack("<Q", counter), plain, auth)


def _open(key: bytes, counter: int, sealed: bytes, auth: bytes) -> bytes:
    return ChaCha20Poly1305(key).decrypt(b"\0" * 4 + struct.pack("<Q", counter), sealed, auth)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key(private_b64: str) -> str:
    """The base64 public key of a base64 X25519 private key, as `wg pubkey` prints it."""
    key = X25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
    return base64.b64encode(_raw(key.public_key())).decode()


def parse_conf(text: str) -> dict[str, str]:
    """Keys of a wg-quick configuration (last one wins), e.g. {"PrivateKey": ..., "Endpoint": ...}."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


class WireGuardClient:
    def __init__(self, private_key: str, server_public_key: str, endpoint: tuple[str, int]):
        self.private = X25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
        self.server_public = X25519PublicKey.from_public_bytes(base64.b64decode(server_public_key))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(endpoint)
        self.sender = random.getrandbits(32)
        self.send_counter = 0

    def handshake(self, timeout: float = 10.0) -> None:
        """Initiation, then the responder's answer, which must authenticate: proves both keys."""
        server = _raw(self.server_public)
        chain = _hash(CONSTRUCTION)
        digest = _hash(_hash(chain + IDENTIFIER) + server)
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = _raw(ephemeral.public_key())
        chain = _kdf(chain, ephemeral_public, 1)[0]
        digest = _hash(digest + ephemeral_public)
        chain, key = _kdf(chain, ephemeral.exchange(self.server_public), 2)
        static = _aead(key, 0, _raw(self.private.public_key()), digest)
        digest = _hash(digest + static)
        chain, key = _kdf(chain, self.private.exchange(self.server_public), 2)
        now = time.time()
        tai64n = struct.pack(">QI", 0x400000000000000A + int(now), int((now % 1) * 1e9))
        timestamp = _aead(key, 0, tai64n, digest)
        digest = _hash(digest + timestamp)
        message = struct.pack("<I", 1) + struct.pack("<I", self.sender) + ephemeral_public + static + timestamp
        mac1 = hashlib.blake2s(message, digest_size=16, key=_hash(LABEL_MAC1 + server)).digest()
        self.sock.settimeout(timeout)
        self.sock.send(message + mac1 + b"\0" * 16)

        answer = self.sock.recv(2048)
        kind, = struct.unpack("<I", answer[:4])
        if kind != 2 or len(answer) != 92:
            raise ConnectionError(f"no handshake response (message type {kind}, {len(answer)} bytes)")
        responder, receiver = struct.unpack("<II", answer[4:12])
        if receiver != self.sender:
            raise ConnectionError("handshake response for another session")
        responder_ephemeral = X25519PublicKey.from_public_bytes(answer[12:44])
        empty = answer[44:60]
        chain = _kdf(chain, answer[12:44], 1)[0]
        digest = _hash(digest + answer[12:44])
        chain = _kdf(chain, ephemeral.exchange(responder_ephemeral), 1)[0]
        chain = _kdf(chain, self.private.exchange(responder_ephemeral), 1)[0]
        chain, tau, key = _kdf(chain, b"\0" * 32, 3)
        digest = _hash(digest + tau)
        _open(key, 0, empty, digest)  # raises InvalidTag unless the server holds the key we were given
        self.receiver = responder
        self.send_key, self.receive_key = _kdf(chain, b"", 2)

    def send(self, packet: bytes) -> None:
        padded = packet + b"\0" * (-len(packet) % 16)
        header = struct.pack("<II", 4, self.receiver) + struct.pack("<Q", self.send_counter)
        self.sock.send(header + _aead(self.send_key, self.send_counter, padded, b""))
        self.send_counter += 1

    def receive(self, timeout: float) -> bytes | None:
        """The next IP packet from the tunnel (keepalives skipped), None after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            kind, receiver = struct.unpack("<II", data[:8])
            if kind != 4 or receiver != self.sender:
                continue
            counter, = struct.unpack("<Q", data[8:16])
            plain = _open(self.receive_key, counter, data[16:], b"")
            if plain:
                length, = struct.unpack(">H", plain[2:4])
                return plain[:length]
        return None

    def close(self) -> None:
        self.sock.close()


class TcpConnection:
    """One TCP connection from the client's tunnel address, enough for a request and its answer."""

    def __init__(self, tunnel: WireGuardClient, source: str, destination: str, port: int):
        from scapy.layers.inet import IP, TCP  # noqa: F401  (imported once, here)

        self.tunnel, self.source, self.destination, self.port = tunnel, source, destination, port
        self.sport = random.randint(20000, 60000)
        self.snd_nxt = random.getrandbits(32)
        self.rcv_nxt = 0
        self.closed = False

    def _segment(self, flags: str, payload: bytes = b"", **options) -> None:
        from scapy.layers.inet import IP, TCP

        packet = IP(src=self.source, dst=self.destination, id=random.getrandbits(16)) / TCP(
            sport=self.sport, dport=self.port, seq=self.snd_nxt, ack=self.rcv_nxt if "A" in flags else 0,
            flags=flags, window=65535, **options) / payload
        self.tunnel.send(bytes(packet))
        self.snd_nxt = (self.snd_nxt + len(payload) + (1 if "S" in flags or "F" in flags else 0)) % 2**32

    def _next_segment(self, timeout: float):
        from scapy.layers.inet import IP, TCP

        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            raw = self.tunnel.receive(left)
            if raw is None:
                break
            packet = IP(raw)
            if TCP in packet and packet[TCP].dport == self.sport and packet[TCP].sport == self.port:
                return packet[TCP]
        raise TimeoutError(f"no TCP segment from {self.destination}:{self.port} within {timeout} s")

    def connect(self, timeout: float = 10.0) -> None:
        self._segment("S", options=[("MSS", 1200)])
        reply = self._next_segment(timeout)
        if reply.flags & 0x12 != 0x12:  # SYN+ACK
            raise ConnectionError(f"connection refused in the tunnel (flags {reply.flags})")
        self.rcv_nxt = (reply.seq + 1) % 2**32
        self._segment("A")

    def send(self, data: bytes) -> None:
        for start in range(0, len(data), 1000):
            self._segment("PA", data[start:start + 1000])

    def receive(self, timeout: float = 10.0) -> bytes:
        """The next in-order data, b"" once the peer has closed."""
        while not self.closed:
            segment = self._next_segment(timeout)
            payload = bytes(segment.payload)
            if segment.flags & 0x04:  # RST
                raise ConnectionResetError("reset in the tunnel")
            if segment.seq != self.rcv_nxt:
                self._segment("A")  # a duplicate or a gap: say what we have, the peer resends
                continue
            self.rcv_nxt = (self.rcv_nxt + len(payload)) % 2**32
            if segment.flags & 0x01:  # FIN
                self.rcv_nxt = (self.rcv_nxt + 1) % 2**32
                self.closed = True
            if payload or self.closed:
                self._segment("A")
            if payload:
                return payload
        return b""

    def close(self) -> None:
        self._segment("FA")


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
