"""The Host of a plain-HTTP request (TCP port 80): the request head only, never the body."""

from __future__ import annotations

from socialwatch.proxy_addons.sensor.observation import NEED_MORE, ParseError

MAX_HEAD = 8192
"""A request head longer than this is not read (counted as http_too_large)."""
_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-._")


def looks_like_start(payload: bytes) -> bool:
    """A TCP payload that may begin an HTTP/1 request."""
    return payload.startswith(_METHODS)


def head_length(stream: bytes) -> int | None:
    end = stream.find(b"\r\n\r\n", 0, MAX_HEAD)
    return None if end < 0 else end + 4


def host(stream: bytes):
    """The Host header's name (lower case, no port): name, None (not HTTP or no Host) or NEED_MORE."""
    if not looks_like_start(stream[:8]) and len(stream) >= 8:
        return None
    end = head_length(stream)
    if end is None:
        if len(stream) >= MAX_HEAD:
            raise ParseError("http_too_large")
        return NEED_MORE
    lines = stream[:end].split(b"\r\n")
    if not lines[0].split(b" ")[-1].startswith(b"HTTP/1."):
        raise ParseError("http_malformed")
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"host":
            return _name(value.strip())
    return None


def _name(value: bytes) -> str:
    value = value.lower()
    if value.startswith(b"["):  # an IPv6 literal, [::1]:8080
        value = value[1:value.find(b"]")] if b"]" in value else b""
        if not value or not all(b in b"0123456789abcdef:." for b in value):
            raise ParseError("http_malformed")
        return value.decode("ascii")
    value = value.split(b":", 1)[0].rstrip(b".")
    if not value or len(value) > 255 or not all(b in _NAME_BYTES for b in value):
        raise ParseError("http_malformed")
    return value.decode("ascii")
