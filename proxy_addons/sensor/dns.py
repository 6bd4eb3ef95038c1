"""DNS query names from a request message (RFC 1035 section 4.1), hostile-input safe.

Hand-written rather than scapy's `DNS` layer: the sensor needs only the question
section, and scapy dissects every record (and, on bad input, raises or loops
through its own limits). Compression pointers must point backwards and are
followed at most MAX_POINTERS times, so a pointer loop ends in a counted error.
"""

from __future__ import annotations

from socialwatch.proxy_addons.sensor.observation import ParseError

MAX_QUESTIONS = 8
MAX_POINTERS = 16
MAX_NAME = 255
_PRINTABLE = frozenset(range(0x21, 0x7F)) - {ord(".") , ord("\\")}


def query_names(message: bytes) -> list[str]:
    """The names asked in a DNS query message; [] for a message that is not a standard query.

    >>> query_names(bytes.fromhex("1234010000010000000000000377777706746964746f6b03636f6d0000010001"))
    ['www.tidtok.com']
    """
    if len(message) < 12:
        raise ParseError("dns_malformed")
    flags = message[2]
    if flags & 0x80:  # QR: a response sent to port 53 (server-to-server, or forged)
        raise ParseError("dns_not_a_query")
    if (flags >> 3) & 0x0F != 0:  # opcode other than QUERY (NOTIFY, UPDATE, ...): no name asked
        return []
    count = int.from_bytes(message[4:6], "big")
    if count > MAX_QUESTIONS:
        raise ParseError("dns_malformed")
    names = []
    offset = 12
    for _ in range(count):
        name, offset = _name(message, offset)
        if offset + 4 > len(message):
            raise ParseError("dns_malformed")
        offset += 4  # type, class
        names.append(name)
    return names


def _name(message: bytes, offset: int) -> tuple[str, int]:
    """Read the name at `offset`; (name, offset after it in the original position)."""
    labels: list[str] = []
    length = 0
    end = None
    pointers = 0
    while True:
        if offset >= len(message):
            raise ParseError("dns_malformed")
        size = message[offset]
        if size == 0:
            offset += 1
            break
        if size & 0xC0 == 0xC0:
            if offset + 1 >= len(message):
                raise ParseError("dns_malformed")
            target = ((size & 0x3F) << 8) | message[offset + 1]
            pointers += 1
            if target >= offset or pointers > MAX_POINTERS:
                raise ParseError("dns_compression_loop")
            if end is None:
                end = offset + 2
            offset = target
            continue
        if size & 0xC0:
            raise ParseError("dns_malformed")  # extended label types (0x40, 0x80) are obsolete
        label = message[offset + 1:offset + 1 + size]
        if len(label) != size:
            raise ParseError("dns_malformed")
        length += size + 1
        if length > MAX_NAME:
            raise ParseError("dns_malformed")
        labels.append(_presentation(label))
        offset += 1 + size
    return (".".join(labels) or "."), (end if end is not None else offset)


def _presentation(label: bytes) -> str:
    """Lower case; bytes that are not printable ASCII as \\DDD (RFC 4343), so output stays one line."""
    label = label.lower()
    if all(b in _PRINTABLE for b in label):
        return label.decode("ascii")
    return "".join(chr(b) if b in _PRINTABLE else f"\\{b:03d}" for b in label)
