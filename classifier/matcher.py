"""Matching and scoring: find lexicon phrases in a text and turn them into flags.

The pipeline is normalize -> match -> score -> flag:

1. the text (its first ``MAX_TEXT_CHARS`` characters) is normalized;
2. one Aho-Corasick automaton finds every lexicon phrase in it; a match counts only
   on word boundaries (no letter or digit just before or just after it), and is
   mapped back to offsets in the original text;
3. per category, where matches overlap only the longest counts (on a tie, the
   earlier); the score is the sum of the weights of the *distinct* phrases
   matched: a phrase repeated in one text counts once;
4. a category whose score reaches the threshold is flagged, with the highest
   severity among its matches and a one-sentence explanation.
"""

from __future__ import annotations

import bisect
import collections
import math
import pathlib

import ahocorasick

from .flags import SEVERITIES, Flag, Match
from .lexicon import Entry, Lexicon, load_lexicon
from .normalize import normalize

MAX_TEXT_CHARS = 20_000
"""Characters of a text that are classified; the rest is ignored (bounds the work per text)."""

PACKAGED_LEXICONS = pathlib.Path(__file__).with_name("lexicons")
"""The lexicons shipped with socialwatch."""


class Matcher:
    """Every lexicon phrase in one Aho-Corasick automaton, built once."""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        by_key: dict[str, list[Entry]] = collections.defaultdict(list)
        for entry in entries:
            by_key[entry.key].append(entry)
        self._automaton = ahocorasick.Automaton()
        for key, same_key in by_key.items():
            self._automaton.add_word(key, (len(key), tuple(same_key)))
        self._automaton.make_automaton()

    def find(self, text: str) -> list[Match]:
        """Every match on word boundaries in ``text``, with offsets into ``text``."""
        norm = normalize(text)
        matches = []
        for last, (length, entries) in self._automaton.iter(norm.text):
            start, end = last - length + 1, last + 1
            if _is_alphanumeric_at(norm.text, start - 1) or _is_alphanumeric_at(norm.text, end):
                continue
            original_start, original_end = norm.original_span(start, end)
            for entry in entries:
                matches.append(Match(entry.phrase, entry.category, entry.subcategory, entry.severity,
                                     entry.weight, original_start, original_end))
        return matches


class Classifier:
    """Flags bullying, self-harm, impersonation and violence signals in a text.

    >>> clf = Classifier.load()
    >>> [flag.category for flag in clf.classify("nobody likes you, just kys")]
    ['bullying']
    >>> clf.classify("I'm gay and proud")
    []
    """

    def __init__(self, lexicon: Lexicon, threshold: float) -> None:
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold must be a finite number > 0, not {threshold!r}")
        self._lexicon = lexicon
        self._matcher = Matcher(lexicon.entries)
        self._threshold = float(threshold)

    @classmethod
    def load(cls, lexicon_dir: pathlib.Path | None = None, threshold: float = 1.0) -> Classifier:
        """Load the lexicons of ``lexicon_dir`` (None: the packaged ones); raises ``LexiconError``."""
        return cls(load_lexicon(PACKAGED_LEXICONS if lexicon_dir is None else lexicon_dir), threshold)

    @property
    def lexicon_version(self) -> str:
        """Identifies the lexicon files in use: 12 hex digits of their SHA-256."""
        return self._lexicon.version

    def classify(self, text: str) -> list[Flag]:
        """Flags for ``text``, most severe first, then by category; [] when nothing is flagged.

        Only the first ``MAX_TEXT_CHARS`` characters are read: a phrase past them is not
        seen. Never raises for a ``str``, whatever it holds (control characters, lone
        surrogates, megabytes).
        """
        by_category: dict[str, list[Match]] = collections.defaultdict(list)
        for match in self._matcher.find(text[:MAX_TEXT_CHARS]):
            by_category[match.category].append(match)
        flags = [_flag(category, matches, self._threshold) for category, matches in sorted(by_category.items())]
        raised = [flag for flag in flags if flag is not None]
        raised.sort(key=lambda flag: SEVERITIES.index(flag.severity), reverse=True)  # stable: category order kept
        return raised


def _is_alphanumeric_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()


def _longest_first(matches: list[Match]) -> list[Match]:
    """Drop every match that overlaps a longer (or equally long, earlier) one; text order."""
    kept: list[Match] = []
    kept_starts: list[int] = []
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        at = bisect.bisect_right(kept_starts, match.start)
        if (at > 0 and kept[at - 1].end > match.start) or (at < len(kept) and kept[at].start < match.end):
            continue
        kept.insert(at, match)
        kept_starts.insert(at, match.start)
    return kept


def _flag(category: str, matches: list[Match], threshold: float) -> Flag | None:
    kept = _longest_first(matches)
    times = collections.Counter((m.phrase, m.subcategory, m.severity, m.weight) for m in kept)
    # Rounded so that weights 0.1 + 0.7 (0.7999999999999999 in floating point) reach a threshold of 0.8.
    score = round(sum(weight for _, _, _, weight in times), 6)
    if score < threshold:
        return None
    severity = max((m.severity for m in kept), key=SEVERITIES.index)
    return Flag(category, severity, score, threshold, tuple(kept), _explain(category, times, score, threshold))


def _explain(category: str, times: collections.Counter, score: float, threshold: float) -> str:
    """``bullying: matched "kys" (harassment, weight 1.0, high); score 1.0 >= threshold 1.0``"""
    phrases = []
    for (phrase, subcategory, severity, weight), count in times.items():
        repeated = f"; {count} times, counted once" if count > 1 else ""
        phrases.append(f'"{phrase}" ({subcategory}, weight {weight}, {severity}{repeated})')
    return f"{category}: matched {', '.join(phrases)}; score {score} >= threshold {threshold}"
