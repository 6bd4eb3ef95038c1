"""Read an outgoing request body: decode it within bounds and parse it into a document to search.

Request bodies are hostile input: they may be malformed, not UTF-8, larger than
we are willing to read, or a compression bomb. Every such body raises
`BodySkipped` with a short reason that the caller counts; nothing here lets an
exception other than `BodySkipped` escape for any input.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email.parser
import email.policy
import io
import json
import urllib.parse
import uuid
import zlib
from collections.abc import Iterator

import brotli
import zstandard

MAX_FORM_FIELDS = 1000
"""A form with more fields than this is skipped (parse_qsl's own bound)."""
MAX_JSON_DEPTH = 32
"""JSON nested deeper than this is not searched for text."""
MAX_PROTOBUF_FIELDS = 10_000
"""A protobuf message level with more fields than this is not read."""
PROTOBUF_TYPES = frozenset({"application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text",
                            "application/grpc-web-text+proto", "application/x-protobuf", "application/protobuf"})


@dataclasses.dataclass(frozen=True, slots=True)
class ProtobufBody:
    """A protobuf request body, gRPC-web framing removed. Without its schema a length-delimited
    field may be text, bytes or a message, so it is read only along the field paths a
    recognizer names (``protobuf_strings``), never searched."""

    message: bytes


class BodySkipped(Exception):
    """The body was not read; `reason` is a short label for the skip counter."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode_content(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding, never producing more than `limit` bytes."""
    if len(raw) > limit:
        raise BodySkipped("too_large")
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        if "gzip" in encoding:
            wbits = 16 + zlib.MAX_WBITS
        elif raw[:1] == b"\x78":  # zlib-wrapped deflate, as the RFC says
            wbits = zlib.MAX_WBITS
        else:  # raw deflate, as some clients send it
            wbits = -zlib.MAX_WBITS
        decompressor = zlib.decompressobj(wbits)
        try:
            out = decompressor.decompress(raw, limit + 1)
        except zlib.error:
            raise BodySkipped("bad_encoding") from None
        if len(out) > limit or decompressor.unconsumed_tail:
            raise BodySkipped("too_large")
        return out
    if encoding == "br":
        return _brotli(raw, limit)
    if encoding == "zstd":
        return _zstd(raw, limit)
    raise BodySkipped("unsupported_encoding")


def _brotli(raw: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    try:
        out = decompressor.process(raw, output_buffer_limit=limit + 1)
    except brotli.error:
        raise BodySkipped("bad_encoding") from None
    if len(out) > limit:
        raise BodySkipped("too_large")
    if not decompressor.is_finished():
        raise BodySkipped("bad_encoding")  # truncated stream
    return out


def _zstd(raw: bytes, limit: int) -> bytes:
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)) as reader:
            while len(out) <= limit:
                chunk = reader.read(limit + 1 - len(out))
                if not chunk:
                    break
                out += chunk
    except zstandard.ZstdError:
        raise BodySkipped("bad_encoding") from None
    if len(out) > limit:
        raise BodySkipped("too_large")
    return bytes(out)


def parse_body(raw: bytes, content_type: str, content_encoding: str, limit: int,
               json_fields: frozenset[str] = frozenset()) -> object:
    """A form, multipart or JSON body as a document to search, a protobuf or gRPC-web body as a
    ProtobufBody; None for other content types.

    Forms and multipart bodies become {field: value} (a list of values when a field
    repeats; file parts are left out). Form fields named in `json_fields` whose
    values are JSON documents (GraphQL variables) are parsed too.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in PROTOBUF_TYPES and raw:
        return _protobuf_body(decode_content(raw, content_encoding, limit), media_type)
    is_json = media_type == "application/json" or media_type.endswith("+json")
    is_form = media_type == "application/x-www-form-urlencoded"
    is_multipart = media_type == "multipart/form-data"
    if not (is_json or is_form or is_multipart) or not raw:
        return None
    body = decode_content(raw, content_encoding, limit)
    if is_multipart:
        return _with_json_fields(_multipart_fields(body, content_type), json_fields)
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodySkipped("invalid_utf8") from None
    if is_json:
        return _json(decoded, "malformed_json")
    return _with_json_fields(_form_fields(decoded), json_fields)


def strings_under(document: object, keys: frozenset[str]) -> list[str]:
    """Every string value under any of `keys`, at any depth, in document order."""
    return list(_strings_under(document, keys, depth=0))


def first_under(document: object, key: str) -> str | None:
    """The first scalar value under `key` at any depth, as a string; None if there is none."""
    for found_key, value in _items(document, depth=0):
        if found_key == key and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    return None


def first_of(document: object, keys: tuple[str, ...]) -> str:
    """The first non-empty ``first_under(document, key)`` of `keys`, in the order of `keys`; "" if none.

    One walk of the document instead of one per key.
    """
    found: dict[str, str] = {}
    for found_key, value in _items(document, depth=0):
        if (found_key in keys and found_key not in found and isinstance(value, (str, int, float))
                and not isinstance(value, bool)):
            found[found_key] = str(value)
            if found[found_key] and found_key == keys[0]:
                break
    return next(filter(None, (found.get(key) for key in keys)), "")


def string_values(document: object, limit: int = 200) -> tuple[str, ...]:
    """The first `limit` string values anywhere in the document (where the policy rules look for e-mail)."""
    found = []
    for _, value in _items(document, depth=0):
        values = value if isinstance(value, list) else [value]
        found += [v for v in values if isinstance(v, str)]
        if len(found) >= limit:
            break
    return tuple(found[:limit])


def protobuf_strings(message: bytes, path: tuple[int, ...]) -> list[str]:
    """The text at `path` (field numbers, outermost first; every repeat of each): length-delimited
    values that are UTF-8 made of printable characters and white space. Where a level does not
    parse (encrypted or not a message), nothing."""
    found = []
    for value in _protobuf_values(message, path):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if all(char.isprintable() or char.isspace() for char in text):
            found.append(text)
    return found


def protobuf_id(message: bytes, path: tuple[int, ...]) -> str:
    """The first value at `path` as an id: a 16-byte value as a UUID, printable text as it is,
    other bytes in hex; "" when there is none."""
    for value in _protobuf_values(message, path):
        if len(value) == 16:
            return str(uuid.UUID(bytes=value))
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return value.hex()
        return text if text.isprintable() else value.hex()
    return ""


def _protobuf_body(body: bytes, media_type: str) -> ProtobufBody:
    """The message of a protobuf or gRPC-web request (one data frame: flag 0, 4-byte length)."""
    if media_type.startswith("application/grpc-web-text"):
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodySkipped("malformed_protobuf") from None
    if media_type.startswith("application/grpc-web"):
        if len(body) < 5 or body[0] != 0:  # a compressed frame (flag 1) or none at all
            raise BodySkipped("malformed_protobuf")
        length = int.from_bytes(body[1:5], "big")
        if 5 + length > len(body):
            raise BodySkipped("malformed_protobuf")
        body = body[5:5 + length]
    try:
        for _ in _protobuf_fields(memoryview(body)):
            pass
    except ValueError:
        raise BodySkipped("malformed_protobuf") from None
    return ProtobufBody(body)


def _protobuf_values(message: bytes, path: tuple[int, ...]) -> list[bytes]:
    level = [memoryview(message)]
    for number in path:
        found = []
        for item in level:
            try:
                found += [value for field, wire_type, value in _protobuf_fields(item)
                          if field == number and wire_type == 2]
            except ValueError:
                continue  # not a message at this level
        level = found
    return [bytes(value) for value in level]


def _protobuf_fields(message: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of one level of a message; ValueError where it is not one."""
    position, end = 0, len(message)
    for _ in range(MAX_PROTOBUF_FIELDS):
        if position >= end:
            return
        key, position = _varint(message, position)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise ValueError("field 0")
        if wire_type == 0:
            value, position = _varint(message, position)
        elif wire_type == 2:
            length, position = _varint(message, position)
            value, position = message[position:position + length], position + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, position = message[position:position + size], position + size
        else:
            raise ValueError(f"wire type {wire_type}")
        if position > end:
            raise ValueError("truncated")
        yield field, wire_type, value
    if position < end:
        raise ValueError("too many fields")


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
    raise ValueError("varint longer than 10 bytes")


def clean_text(text: str) -> str:
    """Text fit for storage: JSON may carry lone surrogates ("\\ud800"), which become "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _form_fields(body: str) -> dict[str, str | list[str]]:
    try:
        pairs = urllib.parse.parse_qsl(
            body, keep_blank_values=True, strict_parsing=bool(body), errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise BodySkipped("invalid_utf8") from None
    except ValueError:
        raise BodySkipped("malformed_form") from None
    return _grouped(pairs)


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str | list[str]]:
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
        )
        if not message.is_multipart() or message.defects:
            raise BodySkipped("malformed_multipart")
        parts = [
            (str(name), part.get_payload(decode=True) or b"", part.get_content_charset() or "utf-8")
            for part in message.iter_parts()
            # uploads and binary parts are not words
            if (name := part.get_param("name", header="content-disposition")) is not None
            and part.get_filename() is None and part.get_content_maintype() == "text"
        ]
    except BodySkipped:
        raise
    except Exception:  # the email package is lenient, but this is hostile input: never let it escape
        raise BodySkipped("malformed_multipart") from None
    if len(parts) > MAX_FORM_FIELDS:
        raise BodySkipped("malformed_multipart")
    try:
        return _grouped([(name, payload.decode(charset)) for name, payload, charset in parts])
    except (UnicodeDecodeError, LookupError):
        raise BodySkipped("invalid_utf8") from None


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key not in fields:
            fields[key] = value
        elif isinstance(fields[key], list):
            fields[key].append(value)
        else:
            fields[key] = [fields[key], value]
    return fields


def _with_json_fields(fields: dict, json_fields: frozenset[str]) -> dict:
    for key in json_fields & fields.keys():
        value = fields[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            try:
                fields[key] = json.loads(value)
            except (ValueError, RecursionError):
                pass  # not JSON after all: searched as the string it is
    return fields


def _json(text: str, reason: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BodySkipped(reason) from None


def _items(node: object, depth: int) -> Iterator[tuple[str, object]]:
    """(key, value) pairs at any depth, depth-first in document order."""
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _items(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _items(item, depth + 1)


def _strings_under(node: object, keys: frozenset[str], depth: int) -> Iterator[str]:
    for key, value in _items(node, depth):
        if key in keys:
            if isinstance(value, str):
                yield value
            elif isinstance(value, list):
                yield from (item for item in value if isinstance(item, str))
