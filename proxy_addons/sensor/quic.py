"""The server name from QUIC Initial packets (client to server), QUIC v1 and v2.

A client's Initial packets are encrypted with keys anyone can derive from the
packet's Destination Connection ID (RFC 9001 section 5.2; v2: RFC 9369 section
3.3). Reading the server name takes: removing header protection (AES-ECB over a
sample, section 5.4), decrypting the payload (AES-128-GCM), collecting CRYPTO
frames (which Chrome shuffles and spreads over several Initials) by offset, and
reading the ClientHello once its first bytes are contiguous.

Hand-written over `cryptography` (HKDF, AES): scapy has no QUIC decryption, and
aioquic's packet layer is built for an endpoint, not a passive reader of many
connections. State is bounded: at most `max_connections` connections (least
recently used first out), each with at most MAX_CRYPTO bytes of CRYPTO data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from socialwatch.proxy_addons.sensor import clienthello
from socialwatch.proxy_addons.sensor.observation import NEED_MORE, ParseError

VERSION_1, VERSION_2 = 0x00000001, 0x6B3343CF
_VERSIONS = {
    # version: (initial salt, label prefix, Initial packet type bits)
    VERSION_1: (bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), b"quic ", 0b00),
    VERSION_2: (bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), b"quicv2 ", 0b01),
}
MAX_CRYPTO = 16 * 1024
"""CRYPTO bytes kept per connection; a frame beyond this is counted as quic_crypto_bounds."""
MAX_KEYS = 1024
"""Derived key sets cached (by version and connection ID)."""


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


class _Keys:
    __slots__ = ("aead", "hp", "iv")

    def __init__(self, version: int, dcid: bytes):
        salt, prefix, _ = _VERSIONS[version]
        extract = HMAC(salt, hashes.SHA256())
        extract.update(dcid)
        client = _expand_label(extract.finalize(), b"client in", 32)
        self.aead = AESGCM(_expand_label(client, prefix + b"key", 16))
        self.iv = _expand_label(client, prefix + b"iv", 12)
        self.hp = Cipher(algorithms.AES(_expand_label(client, prefix + b"hp", 16)), modes.ECB())

    def mask(self, sample: bytes) -> bytes:
        encryptor = self.hp.encryptor()
        return encryptor.update(sample) + encryptor.finalize()


class _Connection:
    __slots__ = ("chunks", "done", "keys", "size")

    def __init__(self, keys: _Keys):
        self.chunks: dict[int, bytes] = {}
        self.size = 0
        self.done = False
        self.keys = keys

    def add(self, offset: int, data: bytes) -> None:
        if offset + len(data) > MAX_CRYPTO:
            raise ParseError("quic_crypto_bounds")
        if len(data) > len(self.chunks.get(offset, b"")):
            self.size += len(data) - len(self.chunks.get(offset, b""))
            self.chunks[offset] = data

    def contiguous(self) -> bytes:
        buffer = bytearray()
        while True:
            best = b""
            for offset, data in self.chunks.items():
                if offset <= len(buffer) < offset + len(data) and offset + len(data) > len(buffer) + len(best):
                    best = data[len(buffer) - offset:]
            if not best:
                return bytes(buffer)
            buffer += best


def _varint(data: bytes, p: int) -> tuple[int, int]:
    if p >= len(data):
        raise ParseError("quic_malformed")
    first = data[p]
    size = 1 << (first >> 6)
    if p + size > len(data):
        raise ParseError("quic_malformed")
    value = first & 0x3F
    for b in data[p + 1:p + size]:
        value = (value << 8) | b
    return value, p + size


class InitialReader:
    """Server names from client Initial packets; `feed` one UDP payload at a time.

    Connections are keyed by the caller's flow key (the client's address and port
    to the server's), so a client that changes its Destination Connection ID after
    the server's first Initial still decrypts with the keys of its first one.
    """

    def __init__(self, *, max_connections: int, on_limit: Callable[[str], None] = lambda name: None):
        self.max_connections = max_connections
        self.on_limit = on_limit
        self._connections: OrderedDict[object, _Connection] = OrderedDict()
        self._keys: OrderedDict[tuple[int, bytes], _Keys] = OrderedDict()

    def __len__(self) -> int:
        return len(self._connections)

    def feed(self, flow: object, datagram: bytes) -> list[str | None]:
        """Server names completed by this datagram (None for a ClientHello without one)."""
        names = []
        p = 0
        while p < len(datagram):
            first = datagram[p]
            if not first & 0x80:
                if p == 0 and not first & 0x40:
                    # Neither a long header nor the fixed bit: not QUIC as RFC 9000 defines it
                    # (or a peer that negotiated greasing the bit, RFC 9287, which is rare).
                    raise ParseError("quic_unrecognized")
                break  # a short-header packet: 1-RTT data, never an Initial
            if len(datagram) < p + 7:
                raise ParseError("quic_malformed")
            version = int.from_bytes(datagram[p + 1:p + 5], "big")
            if version == 0:
                break  # version negotiation
            if version not in _VERSIONS:
                # Drafts, future versions, greased versions (RFC 9000 15): counted, so that a new
                # version taking over shows up as a rising count rather than as silence.
                raise ParseError("quic_unknown_version")
            p, name = self._packet(flow, datagram, p, version)
            if name is not NEED_MORE:
                names.append(name)
        return names

    def _packet(self, flow: object, datagram: bytes, start: int, version: int):
        first = datagram[start]
        p = start + 5
        dcid_len = datagram[p]
        if dcid_len > 20:
            raise ParseError("quic_malformed")
        dcid = datagram[p + 1:p + 1 + dcid_len]
        p += 1 + dcid_len
        if p >= len(datagram):
            raise ParseError("quic_malformed")
        scid_len = datagram[p]
        if scid_len > 20:
            raise ParseError("quic_malformed")
        p += 1 + scid_len
        packet_type = (first >> 4) & 0x03
        is_initial = packet_type == _VERSIONS[version][2]
        if is_initial:
            token_len, p = _varint(datagram, p)
            p += token_len
        if packet_type == (_VERSIONS[version][2] + 3) % 4:  # Retry: no length, fills the datagram
            return len(datagram), NEED_MORE
        length, pn_offset = _varint(datagram, p)
        end = pn_offset + length
        if end > len(datagram) or length < 20:
            raise ParseError("quic_malformed")
        if not is_initial:
            return end, NEED_MORE
        connection = self._connections.get(flow)
        if connection is not None:
            self._connections.move_to_end(flow)
            if connection.done:
                return end, NEED_MORE
        payload = self._decrypt(datagram, start, pn_offset, end, version, dcid, connection)
        if payload is None:
            raise ParseError("quic_decrypt")
        payload, keys = payload
        if connection is None:
            connection = self._open(flow, keys)
        self._frames(payload, connection)
        hello = connection.contiguous()
        name = clienthello.from_handshake(hello)
        if name is not NEED_MORE:
            connection.done = True
            connection.chunks.clear()
        return end, name

    def _decrypt(self, datagram, start, pn_offset, end, version, dcid, connection):
        candidates = [self._keys_for(version, dcid)]
        if connection is not None and connection.keys is not candidates[0]:
            candidates.append(connection.keys)
        sample = datagram[pn_offset + 4:pn_offset + 20]
        for keys in candidates:
            mask = keys.mask(sample)
            first = datagram[start] ^ (mask[0] & 0x0F)
            pn_len = (first & 0x03) + 1
            pn = bytes(b ^ m for b, m in zip(datagram[pn_offset:pn_offset + pn_len], mask[1:1 + pn_len]))
            header = bytes([first]) + datagram[start + 1:pn_offset] + pn
            nonce = bytearray(keys.iv)
            for i, b in enumerate(pn):
                nonce[12 - pn_len + i] ^= b
            try:
                return keys.aead.decrypt(bytes(nonce), datagram[pn_offset + pn_len:end], header), keys
            except InvalidTag:
                continue
        return None

    def _keys_for(self, version: int, dcid: bytes) -> _Keys:
        key = (version, dcid)
        keys = self._keys.get(key)
        if keys is None:
            keys = self._keys[key] = _Keys(version, dcid)
            if len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        return keys

    def _open(self, flow: object, keys: _Keys) -> _Connection:
        if len(self._connections) >= self.max_connections:
            self._connections.popitem(last=False)
            self.on_limit("quic_connections")
        connection = self._connections[flow] = _Connection(keys)
        return connection

    @staticmethod
    def _frames(payload: bytes, connection: _Connection) -> None:
        p = 0
        while p < len(payload):
            kind = payload[p]
            if kind == 0x00 or kind == 0x01:  # PADDING
                p += 1
            elif kind in (0x02, 0x03):  # ACK
                p += 1
                _, p = _varint(payload, p)  # largest acknowledged
                _, p = _varint(payload, p)  # delay
                ranges, p = _varint(payload, p)
                _, p = _varint(payload, p)  # first range
                if ranges > 256:
                    raise ParseError("quic_malformed")
                for _ in range(2 * ranges):
                    _, p = _varint(payload, p)
                if kind == 0x03:
                    for _ in range(3):
                        _, p = _varint(payload, p)
            elif kind == 0x06:  # CRYPTO
                offset, p = _varint(payload, p + 1)
                size, p = _varint(payload, p)
                if p + size > len(payload):
                    raise ParseError("quic_malformed")
                connection.add(offset, payload[p:p + size])
                p += size
            elif kind in (0x1C, 0x1D):  # CONNECTION_CLOSE
                return
            else:
                raise ParseError("quic_malformed")  # no other frame is allowed in an Initial
