"""The on-disk spool: batches that storage could not take, kept until it can.

When ClickHouse is unreachable or refuses a batch (after a few retries), the
writer appends the batch here and goes on reading the queue, so the proxy is
never held up. When storage answers again, the spool is replayed oldest first,
and each record is acknowledged only after its insert succeeded. Replaying a
record twice (a crash between insert and acknowledgement) is harmless: event
and flag ids are stable and the tables collapse duplicates (docs/storage.md).

    spool = Spool("var/socialwatch.spool", max_bytes=1 << 30)
    spool.append(encode_batch(batch), oldest=batch[0][0].time.timestamp())
    while (record := spool.peek()) is not None:
        storage.write(decode_batch(record.payload))
        spool.ack(record)

On disk, a directory of append-only segment files ``NNNNNNNNNNNN.seg``
(numbered in write order) of records::

    magic  b"\\xff\\xfeSW"  4 bytes, never valid UTF-8, so a reader can find the next record
    length uint32 BE        payload length
    oldest float64 BE       capture time (Unix seconds) of the oldest event in the payload
    crc    uint32 BE        CRC-32 (zlib) of length, oldest and payload
    payload                 the batch as UTF-8 JSON (``encode_batch``)

plus ``cursor`` (the first unacknowledged record: segment number and offset,
replaced atomically) and ``quarantine/`` (bytes that failed their checksum).
A segment is never appended to after a restart: new records go to a new
segment, so a torn tail stays where it was found.

fsync policy (``fsync``): ``always`` — each appended record, each new or
deleted segment and each cursor update is fsynced before ``append``/``ack``
returns, so a spooled batch survives a power cut; ``never`` — the kernel writes
back when it likes: a killed process loses nothing (the data is in the page
cache), a power cut may lose the last seconds of spool and replay some
already-written records again (which readers never see twice).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import pathlib
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Sequence

from socialwatch.classifier.flags import Flag, Match

from socialwatch.events import ActivityEvent

log = logging.getLogger(__name__)

MAGIC = b"\xff\xfeSW"
_HEADER = struct.Struct(">4sIdI")
HEADER_SIZE = _HEADER.size
_SEGMENT = re.compile(r"(\d{12})\.seg")
FSYNC_POLICIES = ("always", "never")
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024


class SpoolError(Exception):
    """The spool cannot take a record (disk full, I/O error) or cannot be opened."""


class SpoolFull(SpoolError):
    """The spool has reached its configured size; the record was not written."""


@dataclasses.dataclass(frozen=True)
class SpoolRecord:
    segment: int
    """Number of the segment file holding the record."""
    offset: int
    """Offset of the record's header in the segment."""
    size: int
    """Header and payload, in bytes."""
    oldest: float
    """Capture time (Unix seconds) of the oldest event in the record."""
    payload: bytes = dataclasses.field(default=b"", repr=False)


class Spool:
    """Append-only segments of checksummed records, replayed in order (see the module doc).

    ``max_bytes`` bounds the segment files together; an append that would pass
    it raises SpoolFull, and any I/O failure (a full disk) raises SpoolError
    after the partial record has been cut off again. Not thread-safe: the
    pipeline's writer thread is its only user (the size properties may be read
    from anywhere).
    """

    def __init__(self, directory: str | os.PathLike, *, max_bytes: int, fsync: str = "always",
                 segment_bytes: int | None = None, on_quarantine: Callable[[int], None] | None = None):
        if fsync not in FSYNC_POLICIES:
            raise SpoolError(f"unknown fsync policy {fsync!r}: use one of {', '.join(FSYNC_POLICIES)}")
        self.directory = pathlib.Path(directory).absolute()
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.segment_bytes = segment_bytes or max(64 * 1024, min(DEFAULT_SEGMENT_BYTES, max_bytes // 4))
        self.on_quarantine = on_quarantine
        self.quarantined = 0
        """Corrupt chunks found (and moved to quarantine/) by this Spool object."""
        self._records: list[SpoolRecord] = []  # unacknowledged, oldest first, payload not loaded
        self._sizes: dict[int, int] = {}  # segment number -> file size
        self._active: int | None = None  # segment being appended to
        self._active_fd: int | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.directory / "quarantine").mkdir(exist_ok=True)
            self._load()
        except OSError as exc:
            raise SpoolError(f"cannot open spool {self.directory}: {exc}") from exc

    # -- state ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records not yet acknowledged."""
        return len(self._records)

    @property
    def bytes(self) -> int:
        """Size of all segment files."""
        return sum(self._sizes.values())

    @property
    def segments(self) -> int:
        return len(self._sizes)

    @property
    def oldest(self) -> float | None:
        """Capture time of the oldest spooled event (Unix seconds), None when empty."""
        records = self._records
        return min((r.oldest for r in records[:64]), default=None) if records else None

    # -- writing -------------------------------------------------------------

    def append(self, payload: bytes, *, oldest: float) -> None:
        """Write one record at the end; durable on return under ``fsync = "always"``."""
        size = HEADER_SIZE + len(payload)
        if self.bytes + size > self.max_bytes:
            raise SpoolFull(f"spool {self.directory} is full: {self.bytes} of {self.max_bytes} bytes used, "
                            f"a {size}-byte record does not fit")
        body = struct.pack(">Id", len(payload), oldest) + payload
        record = _HEADER.pack(MAGIC, len(payload), oldest, zlib.crc32(body)) + payload
        try:
            if self._active is None or self._sizes[self._active] >= self.segment_bytes:
                self._open_new_segment()
            segment, start = self._active, self._sizes[self._active]
            try:
                _write_all(self._active_fd, record)
                if self.fsync == "always":
                    os.fsync(self._active_fd)
            except OSError:
                # Leave no torn record behind: cut the segment back to where it was.
                try:
                    os.ftruncate(self._active_fd, start)
                except OSError:
                    pass
                raise
        except OSError as exc:
            raise SpoolError(f"cannot write to spool {self.directory}: {exc.strerror or exc}") from exc
        self._sizes[segment] = start + size
        self._records.append(SpoolRecord(segment, start, size, oldest))

    def _open_new_segment(self) -> None:
        self._close_active()
        number = max(self._sizes, default=0) + 1
        path = self._path(number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._active, self._active_fd = number, fd
        self._sizes[number] = 0
        if self.fsync == "always":
            self._sync_directory()

    # -- replaying -----------------------------------------------------------

    def peek(self) -> SpoolRecord | None:
        """The oldest unacknowledged record, with its payload; None when the spool is empty."""
        if not self._records:
            return None
        record = self._records[0]
        with open(self._path(record.segment), "rb") as f:
            f.seek(record.offset + HEADER_SIZE)
            payload = f.read(record.size - HEADER_SIZE)
        return dataclasses.replace(record, payload=payload)

    def ack(self, record: SpoolRecord) -> None:
        """The record is stored: forget it; delete segments that hold nothing unacknowledged."""
        first = self._records[0]
        if (first.segment, first.offset) != (record.segment, record.offset):
            raise SpoolError("spool records must be acknowledged in order")
        self._records.pop(0)
        if not self._records:
            # Everything is stored: start again from an empty directory.
            self._close_active()
            for number in list(self._sizes):
                self._delete_segment(number)
            _unlink(self.directory / "cursor")
        else:
            following = self._records[0]
            for number in [n for n in self._sizes if n < following.segment]:
                self._delete_segment(number)
            self._write_cursor(following.segment, following.offset)
        if self.fsync == "always":
            self._sync_directory()

    def quarantine(self, record: SpoolRecord, reason: str) -> None:
        """Set a record aside that passed its checksum but cannot be used (e.g. undecodable)."""
        loaded = record if record.payload else self.peek()
        self._save_quarantine(record.segment, record.offset, loaded.payload, reason)
        self.ack(record)

    def close(self) -> None:
        self._close_active()

    # -- files ---------------------------------------------------------------

    def _load(self) -> None:
        cursor = self._read_cursor()
        numbers = sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _SEGMENT.fullmatch(p.name)))
        for number in numbers:
            path = self._path(number)
            if cursor and number < cursor[0]:
                path.unlink()  # acknowledged before a crash, not yet deleted
                continue
            start = cursor[1] if cursor and number == cursor[0] else 0
            data = path.read_bytes()
            self._sizes[number] = len(data)
            self._scan(number, data, start)
        if not self._records:
            for number in list(self._sizes):
                self._delete_segment(number)
            _unlink(self.directory / "cursor")

    def _scan(self, number: int, data: bytes, position: int) -> None:
        end = len(data)
        while position < end:
            record = _record_at(data, position)
            if record is not None:
                length, oldest = record
                self._records.append(SpoolRecord(number, position, HEADER_SIZE + length, oldest))
                position += HEADER_SIZE + length
                continue
            # Corrupt or torn: skip to the next record that passes its checksum.
            following = data.find(MAGIC, position + 1)
            while following != -1 and _record_at(data, following) is None:
                following = data.find(MAGIC, following + 1)
            bad_end = end if following == -1 else following
            reason = "truncated tail" if following == -1 and _torn_tail(data, position) else "checksum mismatch"
            self._save_quarantine(number, position, data[position:bad_end], reason)
            position = bad_end

    def _save_quarantine(self, number: int, offset: int, chunk: bytes, reason: str) -> None:
        target = self.directory / "quarantine" / f"{number:012d}.seg.{offset}.bad"
        if target.exists():
            return  # set aside by an earlier start; the segment is still waiting to be replayed
        target.write_bytes(chunk)
        self.quarantined += 1
        log.error("socialwatch spool: %s at %s offset %d (%d bytes) moved to %s",
                  reason, self._path(number).name, offset, len(chunk), target)
        if self.on_quarantine is not None:
            self.on_quarantine(1)

    def _read_cursor(self) -> tuple[int, int] | None:
        try:
            text = (self.directory / "cursor").read_text()
        except FileNotFoundError:
            return None
        try:
            segment, offset = (int(part) for part in text.split())
        except ValueError:
            log.error("socialwatch spool: unreadable cursor %r ignored; replaying every segment", text)
            return None
        return segment, offset

    def _write_cursor(self, segment: int, offset: int) -> None:
        temporary = self.directory / "cursor.tmp"
        with open(temporary, "w") as f:
            f.write(f"{segment} {offset}\n")
            if self.fsync == "always":
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, self.directory / "cursor")

    def _delete_segment(self, number: int) -> None:
        if number == self._active:
            self._close_active()
        _unlink(self._path(number))
        self._sizes.pop(number, None)

    def _close_active(self) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
        self._active = self._active_fd = None

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _path(self, number: int) -> pathlib.Path:
        return self.directory / f"{number:012d}.seg"


def _record_at(data: bytes, position: int) -> tuple[int, float] | None:
    """(payload length, oldest) of a valid record at `position`, else None."""
    if position + HEADER_SIZE > len(data):
        return None
    magic, length, oldest, crc = _HEADER.unpack_from(data, position)
    end = position + HEADER_SIZE + length
    if magic != MAGIC or end > len(data):
        return None
    if zlib.crc32(data[position + 4:position + 16] + data[position + HEADER_SIZE:end]) != crc:
        return None
    return length, oldest


def _torn_tail(data: bytes, position: int) -> bool:
    """A record whose header or payload runs past the end of the file."""
    if position + HEADER_SIZE > len(data):
        return True
    magic, length, _oldest, _crc = _HEADER.unpack_from(data, position)
    return magic == MAGIC and position + HEADER_SIZE + length > len(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink(path: pathlib.Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# -- batches as spool payloads ------------------------------------------------

def encode_batch(batch: Sequence[tuple[ActivityEvent, Sequence[Flag]]]) -> bytes:
    """A batch as UTF-8 JSON, every field of every event (a field JSON cannot hold fails
    here, loudly). Holds an event's text only if it has flags (the pipeline strips
    unflagged text before batching; this is a second guard)."""
    items = []
    for event, flags in batch:
        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(ActivityEvent)}
        fields["event_id"] = str(event.event_id)
        fields["time"] = event.time.isoformat()
        fields["policy"] = [dataclasses.asdict(flag) for flag in event.policy]
        if not flags:
            fields["text"] = ""
        items.append({"event": fields, "flags": [dataclasses.asdict(flag) for flag in flags]})
    return json.dumps({"v": 1, "batch": items}, ensure_ascii=False, separators=(",", ":")).encode()


def decode_batch(payload: bytes) -> list[tuple[ActivityEvent, list[Flag]]]:
    document = json.loads(payload)
    if document.get("v") != 1:
        raise ValueError(f"unknown spool payload version {document.get('v')!r}")
    batch = []
    for item in document["batch"]:
        fields = dict(item["event"])
        fields["event_id"] = uuid.UUID(fields["event_id"])
        fields["time"] = datetime.datetime.fromisoformat(fields["time"])
        fields["policy"] = tuple(_flag(flag) for flag in fields.get("policy", ()))
        batch.append((ActivityEvent(**fields), [_flag(flag) for flag in item["flags"]]))
    return batch


def _flag(fields: dict) -> Flag:
    return Flag(**{**fields, "matches": tuple(Match(**match) for match in fields["matches"])})
