"""Normalization: fold text so that lexicon phrases match, and keep the way back.

``normalize(text)`` returns the folded text together with, for every folded
character, the span of original characters it came from; a match found in the
folded text therefore maps back to exact offsets in what the student wrote.

First, text decoded with the wrong encoding on its way (mojibake, ``donâ€™t``) is read back
(``don’t``), and a capital ``I`` inside a word read ``l`` where that spells a word. Then
normalization is two lists of small steps, applied in order:

- ``CHAR_STEPS``: functions ``str -> str`` applied to each original character
  alone (so every output character has exactly one source character): NFKC
  (full-width ``ｋ`` -> ``k``, ligatures), homoglyphs, casefold, accents removed (``é`` -> ``e``,
  a lone combining mark -> nothing), invisible format characters and emoji
  variation selectors / skin tones removed, typographic apostrophes -> ``'``, and
  homoglyphs (Cyrillic ``о``, Greek ``ο`` -> ``o``) from Unicode's confusables
  table as packaged by ``confusable-homoglyphs`` (small capitals, ``ᴋ`` -> ``k``, by name).
- ``TEXT_STEPS``: functions ``(text, vocabulary) -> edits`` over the whole
  folded text: HTML markup and entities, whitespace runs, leetspeak inside words
  (``k1ll``, ``$uicide``, ``h@te``, ``ki11``), apostrophes inside words (``don't`` ->
  ``dont``), runs of three or more of one letter (``sooooo`` -> ``so``), letters starred
  out where they spell one word of the vocabulary (``k*ll``), single letters split by
  separators when they join into a word of the vocabulary (``k.i.l.l``, ``k i l l``),
  words joined by ``-``, ``_`` or ``.`` read apart (``kill-yourself``) or a word split by
  one joined (``su.icide``), and the beats between one-word sentences and claps between
  words dropped (``KILL. YOURSELF.``, ``you 👏 are 👏 ugly``).

The edits that move characters are kept, step by step, and offsets are computed
from them on demand: a text with nothing to flag pays for no offset map.

Lexicon phrases go through the same function (without a vocabulary).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import html
import itertools
import re
import string
import unicodedata
from collections.abc import Callable, Collection, Sequence

import ftfy.badness

Edit = tuple[int, int, str]
"""``(start, end, replacement)``: ``text[start:end]`` becomes ``replacement``; every character
of the replacement stands for the whole span."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Layer:
    """The edits of one step that move characters, for mapping its output back to its input."""

    new_starts: list[int]
    """Where each replacement starts in the output (ascending)."""
    new_ends: list[int]
    """Where each replacement ends in the output."""
    old_starts: list[int]
    """Where each replaced span starts in the input."""
    old_ends: list[int]
    """Where each replaced span ends in the input."""

    def back(self, position: int, last: bool) -> int:
        """The input character that output character ``position`` comes from; inside a
        replacement, the first character of the span it replaced (``last``: the last one)."""
        at = bisect.bisect_right(self.new_starts, position) - 1
        if at < 0:
            return position
        if position < self.new_ends[at]:
            return self.old_ends[at] - 1 if last else self.old_starts[at]
        return position - self.new_ends[at] + self.old_ends[at]


def _layer(edits: list[Edit]) -> _Layer | None:
    """The layer of ``edits`` (in text order, not overlapping); None when they move nothing."""
    layer = _Layer([], [], [], [])
    shift = 0
    for start, end, replacement in edits:
        if end - start != 1 or len(replacement) != 1:  # one character for one moves nothing
            layer.new_starts.append(start + shift)
            layer.new_ends.append(start + shift + len(replacement))
            layer.old_starts.append(start)
            layer.old_ends.append(end)
        shift += len(replacement) - (end - start)
    return layer if layer.old_starts else None


def _apply(text: str, edits: list[Edit]) -> str:
    parts: list[str] = []
    kept_from = 0
    for start, end, replacement in edits:
        parts += (text[kept_from:start], replacement)
        kept_from = end
    parts.append(text[kept_from:])
    return "".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    """The normalized text."""
    layers: tuple[_Layer, ...] = ()
    """The steps' edits that moved characters, in order (none: each character is where it was)."""

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``text[start:end]`` (``end > start``) to ``(start, end)`` in the original."""
        first, last = start, end - 1
        for layer in reversed(self.layers):
            first, last = layer.back(first, last=False), layer.back(last, last=True)
        return first, last + 1

    @property
    def starts(self) -> Sequence[int]:
        """For each character of ``text``, the index of the first original character it came from."""
        return [self.original_span(index, index + 1)[0] for index in range(len(self.text))]

    @property
    def ends(self) -> Sequence[int]:
        """For each character of ``text``, one past the last original character it came from."""
        return [self.original_span(index, index + 1)[1] for index in range(len(self.text))]

    @property
    def offsets(self) -> Sequence[int]:
        """Alias of ``starts``."""
        return self.starts


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
    # Small capitals, as "fancy text" generators write them ("ᴋɪʟʟ"): the table above has
    # only those shaped like another letter.
    for char, letter in _letters_named(("LATIN LETTER SMALL CAPITAL", "MODIFIER LETTER SMALL CAPITAL")).items():
        table.setdefault(char, letter)
    return table


def _letters_named(families: Sequence[str]) -> dict[str, str]:
    """Each character Unicode names ``f"{family} {letter}"`` (letter A to Z, where it has one)
    -> that letter in lower case."""
    table = {}
    for family in families:
        for letter in string.ascii_uppercase:
            try:
                table[unicodedata.lookup(f"{family} {letter}")] = letter.lower()
            except KeyError:
                continue
    return table


def _homoglyph(text: str) -> str:
    table = _homoglyph_table()
    return "".join(table.get(c, c) for c in text) if not text.isascii() else text


LETTER_SYMBOLS = ("PARENTHESIZED LATIN SMALL LETTER", "PARENTHESIZED LATIN CAPITAL LETTER",
                  "NEGATIVE CIRCLED LATIN CAPITAL LETTER", "NEGATIVE SQUARED LATIN CAPITAL LETTER")
"""Families of symbols that "fancy text" generators use as letters (``⒦``, ``🅚``, ``🅺``) and
that NFKC leaves alone or wraps in parentheses (``⒦`` -> ``(k)``). Found by their Unicode names."""


@functools.cache
def _letter_symbol_table() -> dict[str, str]:
    return _letters_named(LETTER_SYMBOLS)


def _letter_symbol(char: str) -> str:
    return _letter_symbol_table().get(char, char)


CHAR_STEPS: tuple[Callable[[str], str], ...] = (
    _letter_symbol, _nfkc, _homoglyph, str.casefold, _strip_accents, _drop_invisible, _ascii_apostrophe,
    _homoglyph)
"""Per-character steps, in order."""


def _replacements(text: str, pattern: re.Pattern[str],
                  replace: Callable[[re.Match[str]], str | None]) -> list[Edit]:
    """An edit for each match of ``pattern`` that ``replace`` rewrites (None: keep it)."""
    edits = []
    for found in pattern.finditer(text):
        replacement = replace(found)
        if replacement is not None:
            edits.append((found.start(), found.end(), replacement))
    return edits


Vocabulary = Collection[str]

_MARKUP = re.compile(r"<[a-z/!][^<>]{0,200}>|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});?")


def _html(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """A tag becomes one space; an entity (``&amp;``, ``&#39;``) the character it names, folded."""
    def replace(found: re.Match[str]) -> str | None:
        token = found.group()
        if token.startswith("<"):
            return " "
        decoded = html.unescape(token)
        if decoded == token:
            return None
        return "".join(_fold_one(c) for c in decoded)
    if "<" not in text and "&" not in text:
        return []
    return _replacements(text, _MARKUP, replace)


# Whitespace runs that start with a character other than " ", or have two or more
# characters: a lone " " already is its own replacement, and most text has nothing else.
_WHITESPACE_TO_REWRITE = re.compile(r"[^\S ]\s*| \s+")


def _collapse_whitespace(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """Replace each run of whitespace with one space."""
    # Every whitespace character but " " is unprintable: the common case is told in C.
    if text.isprintable() and "  " not in text:
        return []
    return _replacements(text, _WHITESPACE_TO_REWRITE, lambda found: " ")


# Regional indicator symbols (U+1F1E6..U+1F1FF) are letters: two in a row make a flag
# ("🇺🇸"), and "fancy text" spells words with them ("🇰🇮🇱🇱", "🇰 🇾 🇸").
_REGIONAL_INDICATORS = re.compile("[\U0001F1E6-\U0001F1FF]+")


def _spell_regional_indicators(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """Regional indicators read as their letters: one alone (``🇰 🇾 🇸`` -> ``k y s``, joined
    later if it spells a word), or three or more in a row that spell a word of the vocabulary
    (``🇰🇮🇱🇱`` -> ``kill``). Two in a row are a flag and stay one (``🇲🇪``, Montenegro, is not
    "me"); so do flags side by side (``🇺🇸🇲🇽``)."""
    if text.isascii():
        return []
    edits = []
    for found in _REGIONAL_INDICATORS.finditer(text):
        letters = "".join(chr(ord(char) - 0x1F1E6 + ord("a")) for char in found.group())
        if len(letters) == 1 or (len(letters) > 2 and letters in vocabulary):
            edits += [(found.start() + index, found.start() + index + 1, letter) for index, letter in enumerate(letters)]
    return edits


# Upside-down text ("ɟlǝsɹnoʎ llᴉʞ"): letters turned over, as generators write them, in the
# form per-character folding leaves them (ɯ is folded to "w", ı to "i"), and the letter each
# one is turned from. A text turned over is also written backwards; some generators only turn.
_TURNED = dict(zip("ɐqɔpǝɟƃɥᴉiɾʞlwuodbɹsʇnʌʍxʎz∀ᗺᗡⅎ⅁˥ᴚ⊥∩λm⅄¡¿",
                   "abcdefghiijklmnopqrstuvwxyzabdfglrtuvwy!?"))
_TURNED_ONLY = "ɐɔǝɟƃɥᴉɾʞɹʇʌʍʎ∀ᗺᗡⅎ⅁˥ᴚ⊥∩λ⅄"
"""Turned letters that are no letter of the alphabet as they stand: two of them in a run say
that it is upside down."""
_MAYBE_TURNED = re.compile(f"[{_TURNED_ONLY}]")
# A run is whole words, the first and the last with a turned letter: "kys ʇʇ" has none ("s ʇʇ"
# read would be "tt s", and "kys" lost), and in "ǝʇ i want" or "llᴉʞ lol" the plain "i" and
# "lol" are no part of it.
_TURNED_RUN = re.compile(f"(?<![^\\W\\d_])[{''.join(_TURNED)}]+(?:[ .,!?'\"]+[{''.join(_TURNED)}]+)*(?![^\\W\\d_])")
_TURNED_WORD = re.compile(f"[{''.join(_TURNED)}]*[{_TURNED_ONLY}][{''.join(_TURNED)}]*")


def _read_upside_down(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """A run of upside-down text read the right way up (``ɟlǝsɹnoʎ llᴉʞ`` -> ``kill yourself``),
    backwards or not, whichever spells more words of the vocabulary; left as written where
    neither spells one. The run is one edit: a match inside it highlights all of it."""
    if text.isascii() or not vocabulary or not _MAYBE_TURNED.search(text):
        return []
    edits = []
    for run in _TURNED_RUN.finditer(text):
        turned_words = list(_TURNED_WORD.finditer(run.group()))
        if not turned_words:
            continue
        start, end = run.start() + turned_words[0].start(), run.start() + turned_words[-1].end()
        if sum(char in _TURNED_ONLY for char in text[start:end]) < 2:
            continue
        turned = "".join(_TURNED.get(char, char) for char in text[start:end])
        readings = [turned[::-1], turned]
        words = [sum(word in vocabulary for word in re.findall(r"[a-z]+", reading)) for reading in readings]
        if max(words):
            edits.append((start, end, readings[words.index(max(words))]))
    return edits


LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "l"}
"""Leetspeak characters read as letters inside a word that has a letter: ``k1ll`` -> ``kill``.
A ``1`` reads ``l`` where only that spelling is a word of the vocabulary: ``ki11``, ``yourse1f``."""
_AS_I = str.maketrans(LEET)
_AS_L = str.maketrans({**LEET, "1": "l"})

# A word with a leet character (a trailing "!" stays punctuation; "@name" stays a mention);
# only those with a letter are rewritten. A word is a run of [\w@$!|].
_LEET_CHARS = re.compile(r"[0134578@$!|]")
_WORD_REST = re.compile(r"[\w@$!|]*")
_WORD_PUNCTUATION = frozenset("_@$!|")


def _leetspeak(text: str, vocabulary: Vocabulary) -> list[Edit]:
    edits = []
    word_end = 0
    # From each leet character (rare: a fast search finds them) to the word around it:
    # ``[\w@$!|]*[0134578@$!|][\w@$!|]*`` tried at every word start costs more.
    for found in _LEET_CHARS.finditer(text):
        if found.start() < word_end:  # in the word just looked at
            continue
        word_start = found.start()
        while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] in _WORD_PUNCTUATION):
            word_start -= 1  # str.isalnum() and "_" are what \w matches
        word_end = _WORD_REST.match(text, found.start()).end()
        core = text[word_start:word_end].rstrip("!")  # "kill!!" keeps its exclamation marks
        if core.startswith("@"):  # a mention
            continue
        if not _LEET_CHARS.search(core) or not any(c.isalpha() for c in core):
            continue
        one = "l" if "1" in core and core.translate(_AS_I) not in vocabulary and core.translate(_AS_L) in vocabulary else "i"
        edits += [(word_start + offset, word_start + offset + 1, one if c == "1" else LEET[c])
                  for offset, c in enumerate(core) if c in LEET]
    return edits


# Runs of three or more of one character; those of a letter are rewritten. (Testing the
# letter once per run is several times faster than ``([^\W\d_])\1{2,}``, which tests it at
# every position, and finds the same runs.)
_REPEATED = re.compile(r"(.)\1{2,}")
_LETTER = re.compile(r"[^\W\d_]")


def _collapse_repeats(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """Three or more of one letter become one: ``sooooo`` -> ``so``, ``diiiie`` -> ``die``."""
    def replace(found: re.Match[str]) -> str | None:
        return found.group(1) if _LETTER.match(found.group(1)) else None
    return _replacements(text, _REPEATED, replace)


def has_run(text: str) -> bool:
    """Whether ``text`` has a run that normalization collapses (three or more of one letter)."""
    return bool(_collapse_repeats(text, ()))


# Three or more single letters joined by one kind of separator: "k.i.l.l", "k i l l", "k-y-s",
# an emoji ("k💀y💀s", "k 🔪 i 🔪 l 🔪 l").
_SEPARATOR = "[ .\\-_*·/+~,\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]"
_SEPARATED = re.compile(rf"(?<![^\W_])[^\W\d_](?:(?P<sep>{_SEPARATOR}{{1,3}})[^\W\d_])"
                        r"(?:(?P=sep)[^\W\d_]){1,38}(?![^\W_])")
# What every such run holds from its first separator on (a separator, a single letter,
# separators, a letter not followed by a letter or digit): rare, and quick to look for.
_MAYBE_SEPARATED = re.compile(rf"{_SEPARATOR}[^\W\d_]{_SEPARATOR}{{1,3}}[^\W\d_](?![^\W_])")


def _join_separated(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """Join single letters split by separators when the joined word is in the vocabulary."""
    if not vocabulary or not _MAYBE_SEPARATED.search(text):
        return []
    edits = []
    position = 0
    # A run that spells no word is tried again from its next letter ("a a k.y.s": "k.y.s");
    # runs are at most 40 letters, so this stays linear.
    while (found := _SEPARATED.search(text, position)) is not None:
        letters = found.group().replace(found.group("sep"), "")
        if letters not in vocabulary:
            position = found.start() + 1
            continue
        edits += [(index, index + 1, "") for index in range(found.start(), found.end()) if not text[index].isalpha()]
        position = found.end()
    return edits


# Starts with the apostrophe (then looks behind it), so that the search skips to apostrophes.
_INNER_APOSTROPHE = re.compile(r"'(?<=[^\W\d_]')(?=[^\W\d_])")


def _drop_inner_apostrophes(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """``don't`` -> ``dont``, ``you're`` -> ``youre``: one lexicon row matches both spellings."""
    if "'" not in text:
        return []
    return _replacements(text, _INNER_APOSTROPHE, lambda found: "")


# Words joined by a connector and no space ("kill-yourself", "i.will.kill.you", "kill_yourself"):
# the connectors become spaces, so that a phrase matches across them. A word split by one
# ("su.icide", "ki-ll": the whole a word of the vocabulary, a part not) is joined instead;
# "lo-ser" is not, its parts being Spanish words, as Portuguese "matar-me"'s are. Left as
# written: runs of single letters ("a.m.": ``_join_separated``'s), one word with a letter
# ("a-hole", "t-shirt", "e-mail"), mentions, e-mail addresses, and links (after a "/" or a
# scheme). Other marks between words say something of their own: "/" is "or"
# ("suicidal/depressed"), "*" censors ("sl*t").
_JOINED_WORDS = re.compile(r"(?<![\w@/.\-:])[^\W\d_]+(?:[-_.][^\W\d_]+)+(?![\w@]|[-_.]\w)")
_CONNECTOR = re.compile(r"[-_.]")
# A connector before a letter (rare: a fast search finds them; the token around is then read).
_CONNECTOR_BEFORE_A_LETTER = re.compile(r"[-_.](?=[^\W\d_])")
_TOKEN_CHARS = re.compile(r"[\w@/.\-:]*")


def _separate_joined_words(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """A connector between two words becomes a space (``kill-yourself`` -> ``kill yourself``),
    or goes when it splits a word (``su.icide`` -> ``suicide``)."""
    edits = []
    token_end = 0
    for connector in _CONNECTOR_BEFORE_A_LETTER.finditer(text):
        if connector.start() < token_end:  # in the token just read
            continue
        token_start = connector.start()
        while token_start > 0 and (text[token_start - 1].isalnum() or text[token_start - 1] in "_@/.-:"):
            token_start -= 1  # back to where _JOINED_WORDS could start: no later start is one
        found = _JOINED_WORDS.match(text, token_start)
        if found is None or found.end() <= connector.start():  # "ab/.cd": no word joined by this one
            token_end = _TOKEN_CHARS.match(text, connector.end()).end()
            continue
        token_end = found.end()
        parts = _CONNECTOR.split(found.group())
        joined = "".join(parts) in vocabulary and not all(part in vocabulary for part in parts)
        if not joined and (all(len(part) == 1 for part in parts) or (len(parts) == 2 and min(map(len, parts)) == 1)):
            continue
        edits += [(token_start + at.start(), token_start + at.end(), "" if joined else " ")
                  for at in _CONNECTOR.finditer(found.group())]
    return edits


# One-word sentences in a row ("I. Will. Kill. You.", "NOBODY. LIKES. YOU!"), the first at the
# start of the text or of a sentence, each ended by "." or "!" (the last may end the text):
# the marks between them go, so that a phrase matches across its words. Each match is a
# one-word sentence with, looked ahead at, its marks (the beat) and a one-word sentence.
_BEAT_AFTER = r"[^\W\d_]+(?=([.!]+) [^\W\d_]+(?:[.!]|\Z))"
_FIRST_BEAT = re.compile(_BEAT_AFTER)
_BEATS = re.compile(r"[.!?] " + _BEAT_AFTER)  # starts with what it looks for: a fast search

# Claps between words ("you 👏 are 👏 so 👏 ugly"), with a space or none on either side.
_CLAPS = re.compile(r"(?<=[^\W\d_]) ?\U0001f44f+ ?(?=[^\W\d_])")


def _drop_beats(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """The beats of emphatic writing between words: ``kill. yourself.`` -> ``kill yourself.``,
    ``you 👏 are 👏 ugly`` -> ``you are ugly``."""
    first = _FIRST_BEAT.match(text)
    edits = [(found.start(1), found.end(1), "") for found in ([first] if first else []) + list(_BEATS.finditer(text))]
    if "\U0001f44f" in text:
        edits = sorted(edits + _replacements(text, _CLAPS, lambda found: " "))
    return edits


# A word with one or two letters starred out, as students write to get past a filter ("k*ll",
# "su*cide", "unal*ve"): the stars become the letters of the one word of the vocabulary that it
# can spell. Left as written: a starred word of the vocabulary itself ("sl*t", a lexicon row),
# one that spells no word or more than one ("d*e": "die", "dye"), a star at a word's edge
# ("*sigh*"), three stars or more, and any after a text's first ``MOST_STARRED_WORDS``.
_STARRED = re.compile(r"(?<![\w*])[^\W\d_]+(?:\*{1,2}[^\W\d_]+)+(?![\w*])")
MOST_STARRED_WORDS = 16
"""Starred words filled in per text: each may cost 676 lookups (two stars), and a hostile text
of 20,000 characters holds 4,000 of them (0.7 s to fill them all, 3 ms to fill 16)."""


def _fill_stars(text: str, vocabulary: Vocabulary) -> list[Edit]:
    """A starred-out word becomes the one word of the vocabulary it spells: ``k*ll`` -> ``kill``."""
    if "*" not in text or not vocabulary:
        return []
    edits = []
    for found in itertools.islice(_STARRED.finditer(text), MOST_STARRED_WORDS):
        word = found.group()
        stars = [index for index, char in enumerate(word) if char == "*"]
        if len(stars) > 2 or word in vocabulary:
            continue
        template = word.replace("*", "{}")
        spelled = [letters for letters in itertools.product(string.ascii_lowercase, repeat=len(stars))
                   if template.format(*letters) in vocabulary]
        if len(spelled) == 1:
            edits += [(found.start() + index, found.start() + index + 1, letter)
                      for index, letter in zip(stars, spelled[0])]
    return edits


TEXT_STEPS: tuple[Callable[[str, Vocabulary], list[Edit]], ...] = (
    _html, _collapse_whitespace, _spell_regional_indicators, _read_upside_down, _leetspeak, _drop_inner_apostrophes,
    _collapse_repeats, _fill_stars, _join_separated, _separate_joined_words, _drop_beats)
"""Whole-text steps, in order, applied after the per-character steps: each returns its edits
(in text order, not overlapping) of the text it is given."""


# Text decoded with the wrong encoding somewhere on its way, as a post pasted from a mangled
# page or an old export arrives ("mojibake": "donâ€™t", "iâ\x80\x99m", "canciÃ³n"): each
# character's UTF-8 bytes read one by one as Windows-1252 or Latin-1 characters, a lead byte
# and one to three continuation bytes. Each such sequence is read back as the one character it
# spells where ftfy's heuristic says it is mojibake: "Ã©" is, "JOSÉ…" (a capital letter and an
# ellipsis, the same bytes as "Ʌ") is not. Most text written right has no such sequence ("São",
# "¿Qué?", "canción").
_CONTINUATION_BYTE = ("\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
                      "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122")
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][{_CONTINUATION_BYTE}]{{1,3}}")  # a lead byte first: a fast search
_BYTE_READ_AS = {char: byte for byte in range(256)
                 for char in (chr(byte), bytes([byte]).decode("cp1252", errors="ignore")) if char}
"""The byte each character stands for, read as Latin-1 or as Windows-1252."""


def _repair_mojibake(text: str) -> list[Edit]:
    """The edits that read mojibake back: ``donâ€™t`` -> ``don’t``."""
    edits = []
    for found in _MOJIBAKE.finditer(text):
        lead = found.group()[0]
        length = 2 if lead <= "\u00df" else 3 if lead <= "\u00ef" else 4  # the bytes its lead byte says
        sequence = found.group()[:length]
        if len(sequence) == length and ftfy.badness.is_bad(sequence):
            try:
                edits.append((found.start(), found.start() + length,
                              bytes(map(_BYTE_READ_AS.get, sequence)).decode("utf-8")))
            except UnicodeDecodeError:  # not UTF-8 after all ("à€€")
                pass
    return edits


# A capital I after a small letter, where it reads as an l in most fonts ("kiII yourseIf"):
# looked for in the original text, before case is folded away; then the word around it.
_CAPITAL_I_AFTER_A_SMALL_LETTER = re.compile(r"[a-z]I")
_ASCII_LETTERS = re.compile(r"[A-Za-z]*")


def _has_capital_i_in_a_word(text: str) -> bool:
    """Whether ``text`` has a capital I after a small letter (a few "I"s to look at: quicker
    than a regular expression, which tries every letter)."""
    at = text.find("I", 1)
    while at != -1:
        if "a" <= text[at - 1] <= "z":
            return True
        at = text.find("I", at + 1)
    return False


def _capital_i_as_l(text: str, vocabulary: Vocabulary) -> str:
    """``text`` with each capital I after a small letter of a word made an ``l``, where only that
    spelling is a word of the vocabulary (``kiII`` -> ``kill``, ``yourseIf`` -> ``yourself``;
    ``iPhone`` stays). One character for one: offsets are unchanged."""
    parts: list[str] = []
    kept_from = word_end = 0
    for found in _CAPITAL_I_AFTER_A_SMALL_LETTER.finditer(text):
        if found.start() < word_end:  # in the word just looked at
            continue
        word_start = found.start()
        while word_start > 0 and text[word_start - 1].isascii() and text[word_start - 1].isalpha():
            word_start -= 1
        word_end = _ASCII_LETTERS.match(text, found.start()).end()
        word = text[word_start:word_end]
        as_l = word[0] + word[1:].replace("I", "l")
        if word.lower() not in vocabulary and as_l.lower() in vocabulary:
            parts += (text[kept_from:word_start], as_l)
            kept_from = word_end
    return "".join(parts) + text[kept_from:]


def normalize(text: str, vocabulary: Vocabulary = ()) -> Normalized:
    """Normalize ``text`` for matching.

    ``vocabulary``: words (normalized, without spaces) that letters split by separators
    may join into.

    >>> n = normalize("ＫＩＬＬ  me")
    >>> n.text, list(n.starts), list(n.ends)
    ('kill me', [0, 1, 2, 3, 4, 6, 7], [1, 2, 3, 4, 6, 7, 8])
    """
    layers = []
    if not text.isascii() and (edits := _repair_mojibake(text)):
        text = _apply(text, edits)
        layers.append(_layer(edits))
    if vocabulary and _has_capital_i_in_a_word(text):
        text = _capital_i_as_l(text, vocabulary)
    text, edits = _fold_chars(text)
    layers.append(_layer(edits))
    for step in TEXT_STEPS:
        if edits := step(text, vocabulary):
            text = _apply(text, edits)
            layers.append(_layer(edits))
    return Normalized(text, tuple(layer for layer in layers if layer is not None))


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


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_ascii(text: str) -> str:
    # What CHAR_STEPS do to ASCII (a test checks every character): lower case, "`" -> "'".
    return text.lower().replace("`", "'")


def _fold_chars(text: str) -> tuple[str, list[Edit]]:
    """``text`` with ``CHAR_STEPS`` applied to each character, and the edits of the characters
    that did not fold to exactly one."""
    if text.isascii():
        return _fold_ascii(text), []
    # str.translate costs about 0.1 us a character: only the non-ASCII runs go through it.
    parts: list[str] = []
    edits: list[Edit] = []
    kept_from = 0
    for found in _NON_ASCII.finditer(text):
        run = found.group()
        parts += (_fold_ascii(text[kept_from:found.start()]), run.translate(_FOLD))
        if not _FOLD.irregular.isdisjoint(run):
            edits += [(index, index + 1, _FOLD[ord(text[index])]) for index in range(*found.span())
                      if text[index] in _FOLD.irregular]
        kept_from = found.end()
    parts.append(_fold_ascii(text[kept_from:]))
    return "".join(parts), edits
