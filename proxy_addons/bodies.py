"""Extract the words a person wrote from an outgoing request body.

Request bodies are hostile input: they may be malformed, not UTF-8, larger than
we are willing to read, or a compression bomb. Every such body raises
`BodySkipped` with a short reason that the caller counts; nothing here lets an
exception other than `BodySkipped` escape for any input.
"""

from __future__ import annotations

import io
import json
import urllib.parse
import zlib
from collections.abc import Iterator

import brotli
import zstandard

MAX_FORM_FIELDS = 1000
"""A form with more fields than this is skipped (parse_qsl's own bound)."""
MAX_JSON_DEPTH = 32
"""JSON nested deeper than this is not searched for text."""


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


def extract_text(raw: bytes, content_type: str, content_encoding: str, fields: frozenset[str], limit: int) -> str:
    """The text under `fields` in a form or JSON body, one value per line.

    Other content types carry no text we read and give "".
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    is_json = media_type == "application/json" or media_type.endswith("+json")
    is_form = media_type == "application/x-www-form-urlencoded"
    if not (is_json or is_form) or not raw:
        return ""
    body = decode_content(raw, content_encoding, limit)
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodySkipped("invalid_utf8") from None
    values = _json_text(decoded, fields) if is_json else _form_text(decoded, fields)
    text = "\n".join(v for v in values if v.strip())
    # JSON may escape lone surrogates ("\\ud800"): no store accepts them, so they become "?".
    return text.encode("utf-8", "replace").decode("utf-8")


def _form_text(body: str, fields: frozenset[str]) -> list[str]:
    try:
        pairs = urllib.parse.parse_qsl(
            body, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise BodySkipped("invalid_utf8") from None
    except ValueError:
        raise BodySkipped("malformed_form") from None
    return [value for key, value in pairs if key in fields]


def _json_text(body: str, fields: frozenset[str]) -> list[str]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BodySkipped("malformed_json") from None
    return list(_strings_under(document, fields, depth=0))


def _strings_under(node: object, fields: frozenset[str], depth: int) -> Iterator[str]:
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key in fields and isinstance(value, str):
                yield value
            elif isinstance(value, (dict, list)):
                yield from _strings_under(value, fields, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _strings_under(item, fields, depth + 1)
