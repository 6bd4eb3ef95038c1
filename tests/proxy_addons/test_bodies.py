import base64
import gzip
import json
import random
import urllib.parse
import zlib

import brotli
import pytest
import zstandard

from socialwatch.proxy_addons.bodies import (
    BodySkipped,
    ProtobufBody,
    clean_text,
    first_under,
    parse_body,
    protobuf_id,
    protobuf_strings,
    strings_under,
)

FIELDS = frozenset({"comment_text", "text", "caption"})
JSON_FIELDS = frozenset({"variables"})
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
LIMIT = 4096


def extract(raw: bytes, content_type: str = JSON, encoding: str = "") -> str:
    """The text under FIELDS, one value per line, as the generic recognizer reads it."""
    return clean_text("\n".join(strings_under(parse_body(raw, content_type, encoding, LIMIT, JSON_FIELDS), FIELDS)))


@pytest.mark.parametrize("raw, content_type, expected", [
    (b"comment_text=you+are+great&media_id=31&csrftoken=abc", FORM, "you are great"),
    (b"comment_text=ol%C3%A1%20amigo", FORM, "olá amigo"),
    (b'{"text": "hello", "id": "31", "password": "hunter2"}', JSON, "hello"),
    (b'{"data": {"items": [{"caption": "first"}, {"caption": "second"}]}}', JSON, "first\nsecond"),
    (b'{"text": 42, "caption": null}', JSON, ""),
    (b'{"text": "hi"}', "application/vnd.api+json; charset=utf-8", "hi"),
    (b'{"text": "hi"}', "text/plain", ""),
    (b"", JSON, ""),
], ids=["form", "form-utf8", "json-ignores-other-fields", "json-nested", "json-non-strings", "json-suffix", "other-type", "empty"])
def test_text_comes_only_from_the_listed_fields(raw, content_type, expected):
    assert extract(raw, content_type) == expected


def test_passwords_and_tokens_are_never_extracted():
    body = b"username=kid&password=hunter2&enc_password=x&comment_text=hi"
    assert "hunter2" not in extract(body, FORM)


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: _raw_deflate(b)),
    ("br", brotli.compress),
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_compressed_bodies_are_read(encoding, compress):
    assert extract(compress(b'{"text": "hello"}'), JSON, encoding) == "hello"


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("raw, content_type, encoding, reason", [
    (b'{"text": "unterminated', JSON, "", "malformed_json"),
    (b"[" * 100_000, JSON, "", "too_large"),
    (b"[" * 4000, JSON, "", "malformed_json"),
    (b"text&&=", FORM, "", "malformed_form"),
    (b"text=%FF%FE", FORM, "", "invalid_utf8"),
    (b'{"text": "\xff"}', JSON, "", "invalid_utf8"),
    (b"x" * (LIMIT + 1), JSON, "", "too_large"),
    (gzip.compress(b'{"text": "' + b"a" * 10_000_000 + b'"}'), JSON, "gzip", "too_large"),
    (b"not gzip at all", JSON, "gzip", "bad_encoding"),
    (brotli.compress(b'{"text": "' + b"a" * 10_000_000 + b'"}'), JSON, "br", "too_large"),
    (brotli.compress(b'{"text": "hello"}')[:-3], JSON, "br", "bad_encoding"),
    (b"not brotli", JSON, "br", "bad_encoding"),
    (zstandard.ZstdCompressor().compress(b'{"text": "' + b"a" * 10_000_000 + b'"}'), JSON, "zstd", "too_large"),
    (b"not zstd", JSON, "zstd", "bad_encoding"),
    (b"anything", JSON, "compress", "unsupported_encoding"),
], ids=["json", "huge", "deep-nesting", "form", "form-utf8", "json-utf8", "over-limit", "gzip-bomb", "bad-gzip",
        "brotli-bomb", "brotli-truncated", "bad-brotli", "zstd-bomb", "bad-zstd", "unknown-encoding"])
def test_bad_bodies_are_skipped_with_a_reason(raw, content_type, encoding, reason):
    with pytest.raises(BodySkipped) as skipped:
        extract(raw, content_type, encoding)
    assert skipped.value.reason == reason


def test_lone_surrogates_from_json_escapes_become_storable_text():
    text = extract(json.dumps({"text": "a\ud800b"}).encode())
    assert text == "a?b"
    text.encode("utf-8")


def test_too_many_form_fields_are_refused():
    body = "&".join(f"f{i}=x" for i in range(1001)).encode()
    with pytest.raises(BodySkipped) as skipped:
        parse_body(body, FORM, "", 1_000_000)
    assert skipped.value.reason == "malformed_form"


MULTIPART = "multipart/form-data; boundary=XyZ"


def multipart(*parts: bytes) -> bytes:
    return b"".join(b"--XyZ\r\n" + part + b"\r\n" for part in parts) + b"--XyZ--\r\n"


def test_multipart_text_parts_are_read_and_file_parts_are_not():
    body = multipart(
        b'Content-Disposition: form-data; name="caption"\r\n\r\nline one\r\nline two',
        b'Content-Disposition: form-data; name="text"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile text',
        b'Content-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8',
    )
    assert extract(body, MULTIPART) == "line one\r\nline two"


@pytest.mark.parametrize("body", [b"no boundary here", multipart(b"garbage without headers")[:20]])
def test_malformed_multipart_is_skipped(body):
    with pytest.raises(BodySkipped) as skipped:
        extract(body, MULTIPART)
    assert skipped.value.reason == "malformed_multipart"


def test_graphql_variables_in_a_form_field_are_searched_as_json():
    body = b"fb_api_req_friendly_name=CreateComment&variables=" + urllib.parse.quote(
        json.dumps({"input": {"message": {"text": "hi there"}, "feedback_id": 42}})).encode()
    document = parse_body(body, FORM, "", LIMIT, JSON_FIELDS)
    assert strings_under(document, FIELDS) == ["hi there"]
    assert first_under(document, "feedback_id") == "42"
    assert first_under(document, "fb_api_req_friendly_name") == "CreateComment"
    assert first_under(document, "absent") is None


# --- protobuf (gRPC-web) bodies, read along field paths ---------------------------------------

def varint(number: int) -> bytes:
    out = b""
    while True:
        low, number = number & 0x7F, number >> 7
        if not number:
            return out + bytes([low])
        out += bytes([low | 0x80])


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def grpc_web(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


MESSAGE = field(2, 7) + field(3, field(1, field(1, field(1, bytes(range(16)))))) + \
    field(4, field(4, field(2, field(1, "tu es nul \U0001f480".encode()))))


def test_a_grpc_web_message_is_read_along_its_field_paths():
    body = parse_body(grpc_web(MESSAGE), "application/grpc-web+proto", "", 65536)
    assert body == ProtobufBody(MESSAGE)
    assert protobuf_strings(body.message, (4, 4, 2, 1)) == ["tu es nul \U0001f480"]
    assert protobuf_id(body.message, (3, 1, 1, 1)) == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert protobuf_strings(body.message, (4, 9)) == [] and protobuf_id(body.message, (9,)) == ""


def test_grpc_web_text_and_plain_protobuf_are_read_too():
    text = parse_body(base64.b64encode(grpc_web(MESSAGE)), "application/grpc-web-text", "", 65536)
    plain = parse_body(MESSAGE, "application/x-protobuf", "", 65536)
    assert text == plain == ProtobufBody(MESSAGE)


def test_binary_and_encrypted_values_are_not_taken_for_words():
    encrypted = field(4, field(4, bytes(random.Random(7).randbytes(64))))
    control = field(4, field(4, field(2, field(1, b"\x01\x02 ids, not words"))))
    assert protobuf_strings(encrypted, (4, 4, 2, 1)) == []
    assert protobuf_strings(control, (4, 4, 2, 1)) == []


@pytest.mark.parametrize("raw, content_type", [
    (b"\x00\x00\x00\x00\x10" + b"\x0a\x05ab", "application/grpc-web+proto"),       # frame longer than the body
    (b"\x01\x00\x00\x00\x02\x08\x01", "application/grpc-web+proto"),            # a compressed frame
    (grpc_web(b"\x0a\xff\xff\xff\xff\x0f"), "application/grpc-web"),              # length far past the end
    (grpc_web(b"\x08" + b"\xff" * 11), "application/grpc-web"),                      # varint of 11 bytes
    (grpc_web(b"\x0b\x01"), "application/grpc-web"),                                # wire type 3 (groups)
    (grpc_web(b"\x00\x01"), "application/grpc-web"),                                # field number 0
    (grpc_web(b"\x08\x01" * 10_001), "application/grpc-web"),                       # too many fields
    (b"not base64!!", "application/grpc-web-text"),
])
def test_malformed_protobuf_is_skipped_with_a_reason(raw, content_type):
    with pytest.raises(BodySkipped) as skipped:
        parse_body(raw, content_type, "", 1 << 20)
    assert skipped.value.reason == "malformed_protobuf"


def test_deeply_nested_and_random_protobuf_never_raises():
    nested = b"nobody likes you"
    for _ in range(200):
        nested = field(1, nested)
    assert protobuf_strings(nested, (1,) * 200 + (1,)) == []  # the path ends on a message, not text
    assert protobuf_strings(nested, (1,) * 200) == ["nobody likes you"]
    generator = random.Random(11)
    for _ in range(2000):
        junk = generator.randbytes(generator.randrange(1, 64))
        try:
            body = parse_body(junk, "application/x-protobuf", "", 65536)
        except BodySkipped:
            continue
        protobuf_strings(body.message, (1, 2, 3))
        protobuf_id(body.message, (1, 1))
