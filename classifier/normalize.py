"""Normalization: fold text so that lexicon phrases match, and keep the way back.

``normalize(text)`` returns the folded text together with, for every folded
character, the index of the original character it came from; a match found in
the folded text therefore maps back to exact offsets in what the student wrote.

Normalization is two lists of small steps, applied in order:

- ``CHAR_STEPS``: functions ``str -> str`` applied to each original character
  alone (so every output character has exactly one source character).
- ``TEXT_STEPS``: functions ``Normalized -> Normalized`` over the whole folded
  text (collapsing whitespace, and later separators), which keep the offsets.

A deeper step (homoglyphs, leetspeak, separators inside words) is one more
function in one of these lists. Lexicon phrases go through the same function.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Sequence


@dataclasses.dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    """The normalized text."""
    offsets: Sequence[int]
    """For each character of ``text``, the index of the original character it came from."""

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``text[start:end]`` (``end > start``) to ``(start, end)`` in the original."""
        return self.offsets[start], self.offsets[end - 1] + 1


def _nfkc(char: str) -> str:
    # Compatibility forms: full-width "ｋ" -> "k", ligature "ﬁ" -> "fi", NBSP -> " ".
    return unicodedata.normalize("NFKC", char)


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})


def _ascii_apostrophe(char: str) -> str:
    # Phones type "you’re"; the lexicon writes "you're".
    return char.translate(_APOSTROPHES)


CHAR_STEPS: tuple[Callable[[str], str], ...] = (_nfkc, str.casefold, _ascii_apostrophe)
"""Per-character steps, in order."""


# Whitespace runs that start with a character other than " ", or have two or more
# characters: a lone " " already is its own replacement, and most text has nothing else.
_WHITESPACE_TO_REWRITE = re.compile(r"[^\S ]\s*| \s+")


def _collapse_whitespace(norm: Normalized) -> Normalized:
    """Replace each run of whitespace with one space, kept at the run's first character."""
    return _substitute(norm, _WHITESPACE_TO_REWRITE, " ")


TEXT_STEPS: tuple[Callable[[Normalized], Normalized], ...] = (_collapse_whitespace,)
"""Whole-text steps, in order, applied after the per-character steps."""


def normalize(text: str) -> Normalized:
    """Normalize ``text`` for matching (NFKC, casefold, one space per whitespace run).

    >>> n = normalize("ＫＩＬＬ  me")
    >>> n.text, list(n.offsets)
    ('kill me', [0, 1, 2, 3, 4, 6, 7])
    """
    norm = _fold_chars(text)
    for step in TEXT_STEPS:
        norm = step(norm)
    return norm


class _FoldTable(dict):
    """Code point -> its folded string, computed on first use for ``str.translate``."""

    _LIMIT = 65_536
    """Most code points kept; past this, folds are computed each time (memory stays bounded)."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()
        """Characters whose fold is not exactly one character (they shift the offsets)."""

    def __missing__(self, code_point: int) -> str:
        char = chr(code_point)
        folded = char
        for step in CHAR_STEPS:
            folded = step(folded)
        if len(folded) != 1:
            self.irregular.add(char)
        if len(self) < self._LIMIT:
            self[code_point] = folded
        return folded


_FOLD = _FoldTable()


def _fold_chars(text: str) -> Normalized:
    folded = text.translate(_FOLD)
    if _FOLD.irregular.isdisjoint(text):
        # Every character folded to exactly one: the offsets are the identity.
        return Normalized(folded, range(len(text)))
    offsets = [index for index, char in enumerate(text) for _ in range(len(_FOLD[ord(char)]))]
    return Normalized(folded, offsets)


def _substitute(norm: Normalized, pattern: re.Pattern[str], replacement: str) -> Normalized:
    """Replace each (non-empty) match of ``pattern`` with ``replacement``.

    The replacement's characters come from the first original character of the match.
    """
    if pattern.search(norm.text) is None:
        return norm
    parts: list[str] = []
    offsets: list[int] = []
    kept_from = 0
    for found in pattern.finditer(norm.text):
        start, end = found.span()
        parts.append(norm.text[kept_from:start])
        offsets.extend(norm.offsets[kept_from:start])
        parts.append(replacement)
        offsets.extend([norm.offsets[start]] * len(replacement))
        kept_from = end
    parts.append(norm.text[kept_from:])
    offsets.extend(norm.offsets[kept_from:])
    return Normalized("".join(parts), offsets)
