"""The classifier stage: flags bullying, self-harm, impersonation and violence signals.

>>> from socialwatch.classifier import Classifier
>>> clf = Classifier.load()                    # the packaged lexicons, threshold 1.0
>>> flags = clf.classify("nobody likes you")   # [] when nothing is flagged
"""

from .flags import SEVERITIES, Flag, Match
from .lexicon import LexiconError
from .matcher import MAX_TEXT_CHARS, Classifier

__all__ = ["Classifier", "Flag", "LexiconError", "MAX_TEXT_CHARS", "Match", "SEVERITIES"]
