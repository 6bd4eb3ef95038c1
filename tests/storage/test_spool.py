"""The on-disk spool by itself: order, acknowledgement, restarts, checksums, bounds."""

import dataclasses
import datetime
import uuid

import pytest
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage.spool import (
    HEADER_SIZE,
    MAGIC,
    Spool,
    SpoolError,
    SpoolFull,
    decode_batch,
    encode_batch,
)

from socialwatch.events import ActivityEvent

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)


def payloads(spool: Spool) -> list[bytes]:
    """Read everything in order, acknowledging as the writer would."""
    seen = []
    while (record := spool.peek()) is not None:
        seen.append(record.payload)
        spool.ack(record)
    return seen


def fill(directory, n: int, **options) -> Spool:
    spool = Spool(directory, max_bytes=1 << 20, **options)
    for i in range(n):
        spool.append(f"record {i}".encode(), oldest=1000.0 + i)
    return spool


def test_records_come_back_in_order_across_segments_and_the_directory_empties(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=100)
    for i in range(10):
        spool.append(f"record {i}".encode() * 3, oldest=1000.0 + i)
    assert spool.segments > 3
    assert spool.pending == 10
    assert spool.oldest == 1000.0
    assert spool.bytes == sum(p.stat().st_size for p in tmp_path.glob("*.seg"))
    assert payloads(spool) == [f"record {i}".encode() * 3 for i in range(10)]
    assert (spool.pending, spool.bytes, spool.segments, spool.oldest) == (0, 0, 0, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine"]


def test_a_reopened_spool_resumes_after_the_last_acknowledged_record(tmp_path):
    spool = fill(tmp_path, 5, segment_bytes=60)
    for _ in range(2):
        spool.ack(spool.peek())
    spool.close()  # as if the process had been killed here
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=60)
    assert again.pending == 3
    again.append(b"after restart", oldest=2000.0)
    assert payloads(again) == [b"record 2", b"record 3", b"record 4", b"after restart"]
    assert again.quarantined == 0


def test_records_must_be_acknowledged_in_order(tmp_path):
    spool = fill(tmp_path, 2)
    first = spool.peek()
    spool.ack(first)
    with pytest.raises(SpoolError, match="in order"):
        spool.ack(first)


def test_flipped_bytes_are_quarantined_and_the_rest_is_replayed(tmp_path):
    fill(tmp_path, 5).close()
    [segment] = tmp_path.glob("*.seg")
    data = bytearray(segment.read_bytes())
    record_size = HEADER_SIZE + len(b"record 0")
    data[2 * record_size + HEADER_SIZE + 2] ^= 0xFF  # a payload byte of record 2
    data[3 * record_size + 5] ^= 0x01  # the length of record 3
    segment.write_bytes(bytes(data))
    quarantined = []
    spool = Spool(tmp_path, max_bytes=1 << 20, on_quarantine=quarantined.append)
    assert payloads(spool) == [b"record 0", b"record 1", b"record 4"]
    assert spool.quarantined == 1, "two adjacent bad records are one corrupt chunk"
    [bad] = (tmp_path / "quarantine").iterdir()
    assert bad.read_bytes() == bytes(data[2 * record_size:4 * record_size])
    assert quarantined == [1]


def test_a_truncated_tail_is_quarantined(tmp_path):
    fill(tmp_path, 3).close()
    [segment] = tmp_path.glob("*.seg")
    data = segment.read_bytes()
    segment.write_bytes(data[:-3])
    spool = Spool(tmp_path, max_bytes=1 << 20)
    assert spool.quarantined == 1
    assert payloads(spool) == [b"record 0", b"record 1"]
    [bad] = (tmp_path / "quarantine").iterdir()
    assert bad.read_bytes().startswith(MAGIC) and len(bad.read_bytes()) == HEADER_SIZE + len(b"record 2") - 3


def test_a_quarantined_chunk_is_counted_once_across_restarts(tmp_path):
    fill(tmp_path, 3).close()
    [segment] = tmp_path.glob("*.seg")
    segment.write_bytes(segment.read_bytes()[:-1])
    assert Spool(tmp_path, max_bytes=1 << 20).quarantined == 1
    assert Spool(tmp_path, max_bytes=1 << 20).quarantined == 0


def test_a_full_spool_refuses_the_record_and_keeps_the_rest(tmp_path):
    spool = Spool(tmp_path, max_bytes=65536)
    big = b"x" * 30000
    spool.append(big, oldest=1.0)
    spool.append(big, oldest=2.0)
    with pytest.raises(SpoolFull, match="full"):
        spool.append(big, oldest=3.0)
    assert spool.pending == 2
    assert payloads(spool) == [big, big]


def test_an_unknown_fsync_policy_is_refused(tmp_path):
    with pytest.raises(SpoolError, match="fsync"):
        Spool(tmp_path, max_bytes=1 << 20, fsync="sometimes")


def test_an_unwritable_directory_is_a_spool_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(tmp_path / "file" / "spool", max_bytes=1 << 20)


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_both_fsync_policies_write_the_same_records(tmp_path, fsync):
    fill(tmp_path, 3, fsync=fsync).close()
    assert payloads(Spool(tmp_path, max_bytes=1 << 20)) == [b"record 0", b"record 1", b"record 2"]


FLAG = Flag(category="self_harm", severity="high", score=2.0, threshold=1.0,
            matches=(Match("i want to die", "self_harm", "ideation", "high", 2.0, 0, 13),),
            explanation="'i want to die' (2.0) >= 1.0")


BASE = {"time": T0, "device": "10.0.0.1", "person": "u", "platform": "instagram", "host": "www.instagram.com", "method": "POST",
            "path": "/p", "action": "comment", "status": 200, "request_bytes": 5, "response_bytes": 18446744073709551615}


def event(text: str, **changes) -> ActivityEvent:
    return ActivityEvent(event_id=uuid.uuid4(), text=text, **BASE, **changes)


def test_a_batch_round_trips_through_its_encoding():
    every_field = {"source": "sensor", "protocol": "quic", "school": "north-high", "age_band": "13_17",
                       "policy": (FLAG,), "target": "12345", "professional": True}
    assert set(every_field) | {"text"} | set(BASE) | {"event_id"} == {f.name for f in dataclasses.fields(ActivityEvent)}, \
        "a new event field: add it here with a value that is not its default"
    batch = [(event("i want to die", **every_field), [FLAG]), (event(""), [])]
    assert decode_batch(encode_batch(batch)) == batch


def test_the_encoding_never_holds_the_text_of_an_unflagged_event():
    encoded = encode_batch([(event("see you zq-unflagged"), [])])
    assert b"zq-unflagged" not in encoded
    assert decode_batch(encoded)[0][0].text == ""


def test_the_magic_cannot_occur_in_a_payload():
    encoded = encode_batch([(event("\xff\xfe é ☃ 😀"), [FLAG])])
    assert MAGIC not in encoded  # the payload is UTF-8 JSON: 0xFF never appears in UTF-8
