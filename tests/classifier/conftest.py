"""Fixtures of the classifier's tests."""

import pytest
from socialwatch.classifier import Classifier


@pytest.fixture(scope="session")
def packaged():
    """The classifier with the packaged lexicons, loaded once: tests must not change its roster
    or suppressions (build their own for that)."""
    return Classifier.load()
