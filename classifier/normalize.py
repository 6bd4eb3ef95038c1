"""Normalization: fold text so that lexicon phrases match, and keep the way back.

``normalize(text)`` returns the folded text together with, for every folded
character, the span of original characters it came from; a match found in the
folded text therefore maps back to exact offsets in what the student wrote.

Normalization is two lists of small steps, applied in order:

- ``CHAR_STEPS``: functions ``str -> str`` applied to each original character
  alone (so every output character has exactly one source character): NFKC
  (full-width ``ｋ`` -> ``k``, ligatures), homoglyphs, casefold, accents removed (``é`` -> ``e``,
  a lone combining mark -> nothing), invisible format characters and emoji
  variation selectors / skin tones removed, typographic apostrophes -> ``'``, and
  homoglyphs (Cyrillic ``о``, Greek ``ο`` -> ``o``) from Unicode's confusables
  table as packaged by ``confusable-homoglyphs``.
- ``TEXT_STEPS``: functions ``(Normalized, vocabulary) -> Normalized`` over the
  whole folded text, which keep the offsets: HTML markup and entities, whitespace
  runs, leetspeak inside words (``k1ll``, ``$uicide``, ``h@te``), apostrophes inside
  words (``don't`` -> ``dont``), runs of three or
  more of one letter (``sooooo`` -> ``so``), and single letters split by separators
  when they join into a word of the vocabulary (``k.i.l.l``, ``k i l l``).

Lexicon phrases go through the same function (without a vocabulary).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence


@dataclasses.dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    """The normalized text."""
    starts: Sequence[int]
    """For each character of ``text``, the index of the first original character it came from."""
    ends: Sequence[int]
    """For each character of ``text``, one past the last original character it came from."""

    @property
    def offsets(self) -> Sequence[int]:
        """Alias of ``starts``."""
        return self.starts

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``text[start:end]`` (``end > start``) to ``(start, end)`` in the original."""
        return self.starts[start], self.ends[end - 1]


def _nfkc(char: str) -> str:
    # Compatibility forms: full-width "ｋ" -> "k", ligature "ﬁ" -> "fi", NBSP -> " ".
    return unicodedata.normalize("NFKC", char)


def _strip_accents(text: str) -> str:
    # "mátate" and "matate" are one phrase; a decomposed accent (e + U+0301) folds the same.
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_INVISIBLE = frozenset({"\ufe0e", "\ufe0f", "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff"})


def _drop_invisible(text: str) -> str:
    # Zero-width spaces and joiners hide "k\u200bys"; variation selectors and skin tones
    # make "⚰️" and "⚰" differ. All of them carry no letter.
    return "".join(c for c in text if c not in _INVISIBLE and not ("\U0001f3fb" <= c <= "\U0001f3ff")
                   and unicodedata.category(c) != "Cf")


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'"})


def _ascii_apostrophe(text: str) -> str:
    # Phones type "you’re"; the lexicon writes "you're".
    return text.translate(_APOSTROPHES)


@functools.cache
def _homoglyph_table() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter or digit it is confusable with."""
    try:
        from confusable_homoglyphs import confusables
    except ImportError:  # pragma: no cover - a declared dependency; degrade rather than fail
        return {}
    table = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        candidates = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        # Of the ASCII look-alikes, the one of the same case: Greek capital iota is "I", not "l".
        same_case = [c for c in candidates if c.isupper() == char.isupper() or c.isdigit()]
        if candidates:
            target = (same_case or candidates)[0].lower()
            # Unicode's prototype of capital I look-alikes is "l"; a capital reads as "I".
            table[char] = "i" if target == "l" and char.isupper() else target
    return table


def _homoglyph(text: str) -> str:
    table = _homoglyph_table()
    return "".join(table.get(c, c) for c in text) if not text.isascii() else text


CHAR_STEPS: tuple[Callable[[str], str], ...] = (
    _nfkc, _homoglyph, str.casefold, _strip_accents, _drop_invisible, _ascii_apostrophe, _homoglyph)
"""Per-character steps, in order."""


def _substitute(norm: Normalized, pattern: re.Pattern[str],
                replace: Callable[[re.Match[str]], str | None]) -> Normalized:
    """Replace each (non-empty) match of ``pattern`` by ``replace(match)`` (None: keep it).

    Every replacement character stands for the whole original span of the match.
    """
    if pattern.search(norm.text) is None:
        return norm
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    kept_from = 0
    for found in pattern.finditer(norm.text):
        start, end = found.span()
        if start == end:
            continue
        replacement = replace(found)
        if replacement is None:
            continue
        parts.append(norm.text[kept_from:start])
        starts.extend(norm.starts[kept_from:start])
        ends.extend(norm.ends[kept_from:start])
        parts.append(replacement)
        starts.extend([norm.starts[start]] * len(replacement))
        ends.extend([norm.ends[end - 1]] * len(replacement))
        kept_from = end
    parts.append(norm.text[kept_from:])
    starts.extend(norm.starts[kept_from:])
    ends.extend(norm.ends[kept_from:])
    return Normalized("".join(parts), starts, ends)


def _keep_only(norm: Normalized, keep: Sequence[bool]) -> Normalized:
    return Normalized("".join(itertools.compress(norm.text, keep)), list(itertools.compress(norm.starts, keep)),
                      list(itertools.compress(norm.ends, keep)))


Vocabulary = Collection[str]

_MARKUP = re.compile(r"<[a-z/!][^<>]{0,200}>|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});?")


def _html(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    """A tag becomes one space; an entity (``&amp;``, ``&#39;``) the character it names, folded."""
    def replace(found: re.Match[str]) -> str | None:
        token = found.group()
        if token.startswith("<"):
            return " "
        decoded = html.unescape(token)
        if decoded == token:
            return None
        return "".join(_fold_one(c) for c in decoded)
    if "<" not in norm.text and "&" not in norm.text:
        return norm
    return _substitute(norm, _MARKUP, replace)


# Whitespace runs that start with a character other than " ", or have two or more
# characters: a lone " " already is its own replacement, and most text has nothing else.
_WHITESPACE_TO_REWRITE = re.compile(r"[^\S ]\s*| \s+")


def _collapse_whitespace(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    """Replace each run of whitespace with one space."""
    if not _WHITESPACE_TO_REWRITE.search(norm.text):
        return norm
    keep = [True] * len(norm.text)
    for found in _WHITESPACE_TO_REWRITE.finditer(norm.text):
        start, end = found.span()
        for index in range(start + 1, end):
            keep[index] = False
    text = list(norm.text)
    ends = list(norm.ends)
    for found in _WHITESPACE_TO_REWRITE.finditer(norm.text):
        text[found.start()] = " "
        ends[found.start()] = norm.ends[found.end() - 1]  # the space stands for the whole run
    return _keep_only(Normalized("".join(text), norm.starts, ends), keep)


LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "l"}
"""Leetspeak characters read as letters inside a word that has a letter: ``k1ll`` -> ``kill``."""

# A word with a leet character (a trailing "!" stays punctuation; "@name" stays a mention);
# only those with a letter are rewritten.
_LEET_WORD = re.compile(r"(?<![\w@$!|])[\w@$!|]*[0134578@$!|][\w@$!|]*")
_LEET_CHARS = re.compile(r"[0134578@$!|]")
_LEET_TABLE = str.maketrans(LEET)


def _leetspeak(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    if not _LEET_CHARS.search(norm.text):
        return norm
    chars = list(norm.text)
    changed = False
    for found in _LEET_WORD.finditer(norm.text):
        word = found.group()
        core = word.rstrip("!")  # "kill!!" keeps its exclamation marks
        if core.startswith("@"):  # a mention
            continue
        if not _LEET_CHARS.search(core) or not any(c.isalpha() for c in core):
            continue
        for offset, char in enumerate(core):
            if char in LEET:
                chars[found.start() + offset] = LEET[char]
                changed = True
    if not changed:
        return norm
    return Normalized("".join(chars), norm.starts, norm.ends)


_REPEATED = re.compile(r"([^\W\d_])\1{2,}")


def _collapse_repeats(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    """Three or more of one letter become one: ``sooooo`` -> ``so``, ``diiiie`` -> ``die``."""
    return _substitute(norm, _REPEATED, lambda found: found.group(1))


# Three or more single letters joined by one kind of separator: "k.i.l.l", "k i l l", "k-y-s".
_SEPARATED = re.compile(r"(?<![^\W_])[^\W\d_](?:(?P<sep>[ .\-_*·/+~,]{1,3})[^\W\d_])"
                        r"(?:(?P=sep)[^\W\d_]){1,38}(?![^\W_])")


def _join_separated(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    """Join single letters split by separators when the joined word is in the vocabulary."""
    if not vocabulary:
        return norm
    keep = [True] * len(norm.text)
    joined_any = False
    position = 0
    # A run that spells no word is tried again from its next letter ("a a k.y.s": "k.y.s");
    # runs are at most 40 letters, so this stays linear.
    while (found := _SEPARATED.search(norm.text, position)) is not None:
        letters = found.group().replace(found.group("sep"), "")
        if letters not in vocabulary:
            position = found.start() + 1
            continue
        joined_any = True
        for index in range(found.start(), found.end()):
            if not norm.text[index].isalpha():
                keep[index] = False
        position = found.end()
    return _keep_only(norm, keep) if joined_any else norm


_INNER_APOSTROPHE = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")


def _drop_inner_apostrophes(norm: Normalized, vocabulary: Vocabulary) -> Normalized:
    """``don't`` -> ``dont``, ``you're`` -> ``youre``: one lexicon row matches both spellings."""
    if "'" not in norm.text:
        return norm
    keep = [True] * len(norm.text)
    for found in _INNER_APOSTROPHE.finditer(norm.text):
        keep[found.start()] = False
    return _keep_only(norm, keep)


TEXT_STEPS: tuple[Callable[[Normalized, Vocabulary], Normalized], ...] = (
    _html, _collapse_whitespace, _leetspeak, _drop_inner_apostrophes, _collapse_repeats, _join_separated)
"""Whole-text steps, in order, applied after the per-character steps."""


def normalize(text: str, vocabulary: Vocabulary = ()) -> Normalized:
    """Normalize ``text`` for matching.

    ``vocabulary``: words (normalized, without spaces) that letters split by separators
    may join into.

    >>> n = normalize("ＫＩＬＬ  me")
    >>> n.text, list(n.starts), list(n.ends)
    ('kill me', [0, 1, 2, 3, 4, 6, 7], [1, 2, 3, 4, 6, 7, 8])
    """
    norm = _fold_chars(text)
    for step in TEXT_STEPS:
        norm = step(norm, vocabulary)
    return norm


def _fold_one(char: str) -> str:
    for step in CHAR_STEPS:
        char = step(char)
    return char


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
        folded = _fold_one(char)
        if len(folded) != 1:
            self.irregular.add(char)
        if len(self) < self._LIMIT:
            self[code_point] = folded
        return folded


_FOLD = _FoldTable()


def _fold_chars(text: str) -> Normalized:
    folded = text.translate(_FOLD)
    if len(folded) == len(text) and _FOLD.irregular.isdisjoint(text):
        # Every character folded to exactly one: the offsets are the identity.
        return Normalized(folded, range(len(text)), range(1, len(text) + 1))
    starts: list[int] = []
    for index, char in enumerate(text):
        starts.extend([index] * len(_FOLD[ord(char)]))
    return Normalized(folded, starts, [s + 1 for s in starts])
