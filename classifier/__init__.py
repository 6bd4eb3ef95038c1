"""The classifier stage: flags bullying, self-harm, violence, impersonation and personal information.

>>> from socialwatch.classifier import Classifier
>>> clf = Classifier.load()                    # the packaged lexicons, threshold 1.0
>>> flags = clf.classify("nobody likes you")   # [] when nothing is flagged
>>> stored = clf.redact("call me (212) 555-0134")  # personal information -> "•", same length

Categories, subcategories and severities are documented in docs/classifier.md.
"""

from .flags import SEVERITIES, Flag, Match
from .lexicon import CATEGORIES, LexiconError
from .matcher import MAX_TEXT_CHARS, Classifier
from .suppressions import Suppression, append_suppression, load_suppressions

__all__ = ["CATEGORIES", "MAX_TEXT_CHARS", "SEVERITIES", "Classifier", "Flag", "LexiconError", "Match",
           "Suppression", "append_suppression", "load_suppressions"]
