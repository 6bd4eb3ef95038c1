"""What the classifier says about a text: matches, and flags built from them."""

from __future__ import annotations

import dataclasses

SEVERITIES = ("low", "medium", "high", "critical")
"""Severity levels, least to most urgent. ``critical`` means a counselor should act now."""


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    phrase: str
    """The lexicon phrase that matched (as written in the lexicon)."""
    category: str
    """Lexicon category: ``bullying``, ``selfharm``, ``impersonation``, ..."""
    subcategory: str
    """Finer label within the category, e.g. ``ideation`` or ``targeted_insult``."""
    severity: str
    """Severity the lexicon gives this phrase (one of SEVERITIES)."""
    weight: float
    """How much this phrase adds to its category's score."""
    start: int
    """Offset of the first matched character in the original (un-normalized) text."""
    end: int
    """Offset one past the last matched character in the original text."""


@dataclasses.dataclass(frozen=True, slots=True)
class Flag:
    category: str
    """The category flagged."""
    severity: str
    """The highest severity among the category's matches (one of SEVERITIES)."""
    score: float
    """Sum of the category's match weights; the flag is raised when it reaches the threshold."""
    threshold: float
    """The threshold the score was compared with."""
    matches: tuple[Match, ...]
    """Every match that contributed, in text order."""
    explanation: str
    """One human sentence: which phrases, with which weights, against which threshold."""
