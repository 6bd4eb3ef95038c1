"""Suppressions: accepted counselor feedback that a lexicon phrase must not count in a context.

A counselor who marks a flag as a false positive in the review application may propose
a suppression: *this phrase, of this category, does not count when this word or phrase
is in the same text* (``self_harm`` "kill myself" with "macbeth"; ``bullying`` "loser"
with "board game"). When an administrator accepts the proposal, the review application
appends it to the suppressions file with ``append_suppression``; the classifier reads it
(``load_suppressions``, ``Classifier.set_suppressions``) and cancels such matches.

The file is CSV, UTF-8, one suppression per row::

    category,phrase,context,reference,note
    self_harm,kill myself,macbeth,6f1c0a52-...,"homework on Macbeth, act 5"

``reference`` (the review proposal's id) and ``note`` are free text and may be empty.
Any problem raises ``LexiconError`` naming the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import io
import os
import pathlib

from socialwatch.files import write_atomically

from .lexicon import CATEGORIES, LexiconError
from .normalize import normalize

COLUMNS = ("category", "phrase", "context", "reference", "note")
"""The header every suppressions file starts with."""

MAX_CONTEXT_CHARS = 100
"""Longest context (after surrounding whitespace is removed)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Suppression:
    category: str
    """The category of the lexicon phrase, one of CATEGORIES."""
    phrase: str
    """The lexicon phrase that must not count (compared after normalization)."""
    context: str
    """The word or phrase whose presence in the text cancels it (after normalization, on word
    boundaries), at most ``MAX_CONTEXT_CHARS`` characters."""
    reference: str = ""
    """Where it comes from, e.g. the review application's proposal id."""
    note: str = ""
    """Free text: why."""


def normalized_key(text: str) -> str:
    """``text`` as the classifier compares it: exactly how the lexicon builds ``Entry.key``
    (``normalize(phrase).text.strip()``) and the form matched in normalized text."""
    return normalize(text).text.strip()


def comparison_key(suppression: Suppression) -> tuple[str, str, str]:
    """What makes two suppressions the same: category, normalized phrase, normalized context."""
    return suppression.category, normalized_key(suppression.phrase), normalized_key(suppression.context)


def problem(suppression: Suppression) -> tuple[str, str] | None:
    """``(field, reason)`` of the first thing wrong with ``suppression``, or None."""
    for name in COLUMNS:
        if not isinstance(getattr(suppression, name), str):
            return name, f"must be text, not {type(getattr(suppression, name)).__name__}"
    if suppression.category not in CATEGORIES:
        return "category", f"unknown category {suppression.category!r}; known: {', '.join(CATEGORIES)}"
    for name in ("phrase", "context"):
        if not getattr(suppression, name).strip():
            return name, f"empty {name}"
        if not normalized_key(getattr(suppression, name)):
            return name, f"{getattr(suppression, name)!r} is empty once normalized"
    if len(suppression.context.strip()) > MAX_CONTEXT_CHARS:
        return "context", f"longer than {MAX_CONTEXT_CHARS} characters ({len(suppression.context.strip())})"
    return None


def load_suppressions(path: os.PathLike | str) -> tuple[Suppression, ...]:
    """Every suppression of the file at ``path``, in file order; () when there is no file.

    Raises ``LexiconError`` (file, line, field) for an unreadable file, a wrong header, a
    row without five fields, an unknown category, an empty phrase or context, or a
    context longer than ``MAX_CONTEXT_CHARS``.
    """
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as error:
        raise LexiconError(path, None, "file", error.strerror or str(error)) from error
    return _parse(path, data)


def append_suppression(path: os.PathLike | str, suppression: Suppression) -> bool:
    """Add ``suppression`` to the file at ``path``; False when the file already has the same one
    (same category, phrase and context once normalized), True when it was added.

    The file (and its directory) is created, with its header, when missing. The new file is
    written whole to a temporary file in the same directory, fsynced and renamed over the old
    one, so a reader sees the old file or the new one, never half of it; concurrent appends
    are serialized with a lock on ``<path>.lock``. Raises ``LexiconError`` when
    ``suppression`` is invalid or the existing file is (it is then left as it is).
    """
    path = pathlib.Path(path)
    found = problem(suppression)
    if found is not None:
        raise LexiconError(path, None, *found)
    row = Suppression(*(getattr(suppression, name).strip() for name in COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        try:
            existing = path.read_bytes()
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            existing, mode = b"", None
        except OSError as error:
            raise LexiconError(path, None, "file", error.strerror or str(error)) from error
        if not existing.strip():
            existing = b""
        if existing:
            wanted = comparison_key(row)
            if any(comparison_key(known) == wanted for known in _parse(path, existing)):
                return False
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not existing:
            writer.writerow(COLUMNS)
        writer.writerow([getattr(row, name) for name in COLUMNS])
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
        write_atomically(path, existing + out.getvalue().encode("utf-8"), mode)
    return True


def _parse(path: pathlib.Path, data: bytes) -> tuple[Suppression, ...]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LexiconError(path, data[: error.start].count(b"\n") + 1, "encoding", "not UTF-8") from error
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    suppressions = []
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            return ()
        if tuple(field.strip() for field in header) != COLUMNS:
            raise LexiconError(path, 1, "header", f"expected {','.join(COLUMNS)}")
        while True:
            line = reader.line_num + 1  # where the row starts (a quoted note may span lines)
            row = next(reader, None)
            if row is None:
                break
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(COLUMNS):
                raise LexiconError(path, line, "row", f"expected {len(COLUMNS)} fields, found {len(row)}")
            suppression = Suppression(*(field.strip() for field in row))
            found = problem(suppression)
            if found is not None:
                raise LexiconError(path, line, *found)
            suppressions.append(suppression)
    except csv.Error as error:
        raise LexiconError(path, line, "row", str(error)) from error
    return tuple(suppressions)


@contextlib.contextmanager
def _locked(lock_path: pathlib.Path):
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
