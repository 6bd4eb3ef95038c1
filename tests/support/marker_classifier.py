"""The real classifier with a one-phrase lexicon, for the storage and pipeline tests.

Those tests are about what reaches ClickHouse and the spool, not about
lexicons (tests/classifier/ covers those), so they load the real Classifier
from a lexicon of their own: a change to the shipped lexicons cannot move
their numbers.
"""

from __future__ import annotations

import pathlib
import tempfile

from socialwatch.classifier import Classifier

FLAGGED_PHRASE = "i want to die"
_LEXICON = "phrase,category,subcategory,severity,weight,language,rules\n" \
           f"{FLAGGED_PHRASE},self_harm,ideation,high,2.0,en,\n"


def marker_classifier() -> Classifier:
    """A Classifier that flags FLAGGED_PHRASE (self_harm, high) and nothing else."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="marker-lexicon-"))
    (directory / "en.csv").write_text(_LEXICON)
    (directory / "identity_terms.txt").write_text("gay\ntrans\n")
    return Classifier.load(directory)
