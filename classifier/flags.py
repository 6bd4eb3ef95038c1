"""What the classifier says about a text: matches, and flags built from them."""

from __future__ import annotations

import dataclasses

SEVERITIES = ("low", "medium", "high", "critical")
"""Severity levels, least to most urgent (their meaning is in docs/classifier.md):
``low`` context for a review, ``medium`` review this week, ``high`` review today,
``critical`` a counselor should act now."""


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    phrase: str
    """The lexicon phrase that matched (as written in the lexicon)."""
    category: str
    """Category: ``bullying``, ``self_harm``, ``violence``, ``impersonation`` or ``pii``."""
    subcategory: str
    """Finer label within the category, e.g. ``ideation`` or ``targeted_insult``."""
    severity: str
    """Severity the lexicon gives this phrase (one of SEVERITIES)."""
    weight: float
    """The phrase's weight in the lexicon (its rules may have counted it less)."""
    start: int
    """Offset of the first matched character in the original (un-normalized) text."""
    end: int
    """Offset one past the last matched character in the original text."""
    rules: str = ""
    """Rules that fired on this match, e.g. ``target: "you" 1 token away``; "" when none."""


@dataclasses.dataclass(frozen=True, slots=True)
class Flag:
    category: str
    """The category flagged."""
    severity: str
    """The highest severity among the category's positively weighted matches, one level
    lower when a context cue or a quotation lowered the score (one of SEVERITIES)."""
    score: float
    """Sum of the weights of the category's distinct phrases (after their rules) and of the
    text's context cues; the flag is raised when it reaches the threshold."""
    threshold: float
    """The threshold the score was compared with."""
    matches: tuple[Match, ...]
    """Every match that added to the score, in text order (for ``pii``: one per finding, its
    phrase the kind in angle brackets, e.g. ``<phone>``, never the value)."""
    explanation: str
    """One human sentence: which phrases, with which weights and rules, against which threshold."""
    subcategory: str = ""
    """The subcategory of the most severe match (then the heaviest), e.g. ``active_planning``."""
    truncated: bool = False
    """True when the text was longer than ``MAX_TEXT_CHARS`` and only its start was read."""
