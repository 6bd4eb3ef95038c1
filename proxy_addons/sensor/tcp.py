"""Bounded reassembly of the first bytes of TCP streams (client to server).

A ClientHello, an HTTP request head or a DNS-over-TCP message can span several
segments, arrive out of order or be retransmitted. Only the start of a stream
matters, so each stream keeps at most `max_bytes` and a few out-of-order
segments, and the table keeps at most `max_streams` (least recently used first
out). Every bound hit is reported through `on_limit(name)`.

Hand-written: scapy's `TCPSession` reassembles by dissecting every packet with
its full layers, far too slow for a mirror port, and has no per-stream bounds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

SYN, FIN, RST = 0x02, 0x01, 0x04
_MOD = 1 << 32


class _Stream:
    __slots__ = ("data", "next_seq", "pending")

    def __init__(self, next_seq: int):
        self.next_seq = next_seq
        self.data = b""
        self.pending: dict[int, bytes] = {}


class StreamStarts:
    """The contiguous first bytes of client-to-server streams.

    >>> starts = StreamStarts(max_streams=2, max_bytes=100, on_limit=print)
    >>> starts.feed("k", seq=1000, flags=0, payload=b"world", new=True)
    b'world'
    >>> starts.feed("k", seq=995, flags=0, payload=b"xx", new=False)
    """

    def __init__(self, *, max_streams: int, max_bytes: int, max_pending: int = 16,
                 on_limit: Callable[[str], None] = lambda name: None):
        self.max_streams = max_streams
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self.on_limit = on_limit
        self._streams: OrderedDict[object, _Stream] = OrderedDict()

    def __len__(self) -> int:
        return len(self._streams)

    def feed(self, key: object, seq: int, flags: int, payload: bytes, new: bool) -> bytes | None:
        """Add a segment; the stream's contiguous start when it grew, else None.

        `new`: whether a stream may start at this segment when none is tracked (the
        caller's cheap check that the payload looks like the start of what it reads).
        """
        stream = self._streams.get(key)
        if flags & SYN:
            stream = self._open(key, (seq + 1) % _MOD)
            seq = (seq + 1) % _MOD
        elif stream is None:
            if not payload or not new:
                return None
            stream = self._open(key, seq)
        else:
            self._streams.move_to_end(key)
        if flags & (FIN | RST) and not payload:
            self.close(key)
            return None
        if not payload:
            return None
        delta = (seq - stream.next_seq) % _MOD
        if delta >= _MOD // 2:  # starts before what we have: a retransmission, maybe with new bytes
            old = _MOD - delta
            if old >= len(payload):
                return None
            payload = payload[old:]
        elif delta > 0:  # a gap: hold the segment until the gap is filled
            room = self.max_bytes - len(stream.data)
            if delta >= room:
                return None  # beyond the bytes a stream keeps anyway
            payload = payload[:room - delta]
            if len(stream.pending) >= self.max_pending or \
                    sum(map(len, stream.pending.values())) + len(payload) > self.max_bytes:
                self.on_limit("tcp_pending")
                return None
            stream.pending.setdefault(seq, payload)
            return None
        self._append(stream, payload)
        while stream.pending:
            ahead = stream.pending.pop(stream.next_seq, None)
            if ahead is None:
                # Retransmitted or overlapping segments left behind are dropped once passed.
                for pending_seq in [s for s in stream.pending if (s - stream.next_seq) % _MOD >= _MOD // 2]:
                    segment = stream.pending.pop(pending_seq)
                    old = (stream.next_seq - pending_seq) % _MOD
                    if old < len(segment):
                        self._append(stream, segment[old:])
                        break
                else:
                    break
                continue
            self._append(stream, ahead)
        return stream.data

    def close(self, key: object) -> None:
        """Forget a stream: its start has been read (or it is not ours)."""
        self._streams.pop(key, None)

    def _open(self, key: object, next_seq: int) -> _Stream:
        self._streams.pop(key, None)
        if len(self._streams) >= self.max_streams:
            self._streams.popitem(last=False)
            self.on_limit("tcp_streams")
        stream = self._streams[key] = _Stream(next_seq)
        return stream

    def _append(self, stream: _Stream, payload: bytes) -> None:
        room = self.max_bytes - len(stream.data)  # a full buffer its parser cannot use is the caller's bound hit
        if room > 0:
            stream.data += payload[:room]
        stream.next_seq = (stream.next_seq + len(payload)) % _MOD
