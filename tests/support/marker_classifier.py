"""A stand-in classifier for the storage fault tests: flags one fixed phrase.

The storage tests are about what reaches ClickHouse and the spool, not about
lexicons, so they use this instead of the real classifier (tests/classifier/
covers that): a lexicon change cannot move their numbers.
"""

from __future__ import annotations

from socialwatch.classifier.flags import Flag, Match

FLAGGED_PHRASE = "i want to die"


class MarkerClassifier:
    def classify(self, text: str) -> list[Flag]:
        start = text.find(FLAGGED_PHRASE)
        if start < 0:
            return []
        match = Match(FLAGGED_PHRASE, "self_harm", "ideation", "high", 2.0, start, start + len(FLAGGED_PHRASE))
        return [Flag("self_harm", "high", 2.0, 1.0, (match,), f"'{FLAGGED_PHRASE}' (2.0) >= 1.0")]
