"""The server name (SNI) of a TLS ClientHello, from TLS records (TCP) or a bare handshake (QUIC).

Hand-written rather than scapy's TLS layer: that layer is slow (it dissects every
extension and cipher suite), needs the whole record at once, and raises on
unknown or hostile lengths. Here every length is checked against the enclosing
one, and a message is read only once it is complete (RFC 8446 section 4.1.2,
RFC 6066 section 3).
"""

from __future__ import annotations

from socialwatch.proxy_addons.sensor.observation import NEED_MORE, ParseError

MAX_CLIENT_HELLO = 32 * 1024
"""Larger ClientHellos are refused (counted as tls_too_large); real ones are 0.5-2 KiB."""
_HANDSHAKE, _CLIENT_HELLO, _SERVER_NAME, _HOST_NAME = 22, 1, 0, 0
_MAX_RECORD = 16384 + 2048
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*")


def looks_like_start(payload: bytes) -> bool:
    """A TCP payload that may begin a ClientHello: a handshake record of TLS 1.x."""
    return len(payload) >= 2 and payload[0] == _HANDSHAKE and payload[1] == 3


def from_records(stream: bytes):
    """The server name from the start of a client's TLS stream.

    Returns the name, None (a ClientHello without a server name, or not a
    ClientHello), or NEED_MORE. The handshake message may span several records.
    """
    handshake = b""
    offset = 0
    while True:
        if len(stream) < offset + 5:
            return NEED_MORE
        if stream[offset] != _HANDSHAKE:
            if offset == 0:
                return None
            raise ParseError("tls_malformed")  # a ClientHello cut short by another record
        if stream[offset + 1] != 3:
            raise ParseError("tls_malformed")
        length = int.from_bytes(stream[offset + 3:offset + 5], "big")
        if length == 0 or length > _MAX_RECORD:
            raise ParseError("tls_malformed")
        fragment = stream[offset + 5:offset + 5 + length]
        handshake += fragment
        result = from_handshake(handshake)
        if result is not NEED_MORE or len(fragment) < length:
            return result
        offset += 5 + length


def message_length(handshake: bytes) -> int | None:
    """Total bytes of the ClientHello at the start of `handshake` (header included), or None."""
    if len(handshake) < 4:
        return None
    return 4 + int.from_bytes(handshake[1:4], "big")


def from_handshake(handshake: bytes):
    """The server name from a ClientHello handshake message: name, None or NEED_MORE."""
    if len(handshake) < 4:
        return NEED_MORE
    if handshake[0] != _CLIENT_HELLO:
        return None  # e.g. a TLS 1.2 ClientKeyExchange record opening a stream we joined late
    total = message_length(handshake)
    if total > MAX_CLIENT_HELLO:
        raise ParseError("tls_too_large")
    if len(handshake) < total:
        return NEED_MORE
    return _server_name(handshake[4:total])


def _server_name(body: bytes) -> str | None:
    p = 2 + 32  # legacy_version, random
    p = _skip(body, p, 1)  # legacy_session_id
    p = _skip(body, p, 2)  # cipher_suites
    p = _skip(body, p, 1)  # legacy_compression_methods
    if p == len(body):
        return None  # no extensions (SSL 3.0 style)
    end = _vector_end(body, p, 2)
    if end != len(body):
        raise ParseError("tls_malformed")
    p += 2
    while p < end:
        if p + 4 > end:
            raise ParseError("tls_malformed")
        kind = int.from_bytes(body[p:p + 2], "big")
        size = int.from_bytes(body[p + 2:p + 4], "big")
        p += 4
        if p + size > end:
            raise ParseError("tls_malformed")
        if kind == _SERVER_NAME:
            return _host_name(body[p:p + size])
        p += size
    return None


def _host_name(extension: bytes) -> str | None:
    if not extension:
        return None
    end = _vector_end(extension, 0, 2)
    p = 2
    while p < end:
        if p + 3 > end:
            raise ParseError("tls_malformed")
        name_type = extension[p]
        size = int.from_bytes(extension[p + 1:p + 3], "big")
        name = extension[p + 3:p + 3 + size]
        if len(name) != size or p + 3 + size > end:
            raise ParseError("tls_malformed")
        if name_type == _HOST_NAME:
            if not name or size > 255 or not all(b in _NAME_BYTES for b in name):
                raise ParseError("tls_bad_name")
            return name.decode("ascii").lower().rstrip(".")
        p += 3 + size
    return None


def _vector_end(data: bytes, p: int, width: int) -> int:
    if p + width > len(data):
        raise ParseError("tls_malformed")
    end = p + width + int.from_bytes(data[p:p + width], "big")
    if end > len(data):
        raise ParseError("tls_malformed")
    return end


def _skip(data: bytes, p: int, width: int) -> int:
    if p > len(data):
        raise ParseError("tls_malformed")
    return _vector_end(data, p, width)
