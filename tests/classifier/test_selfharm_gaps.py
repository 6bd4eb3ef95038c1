"""Self-harm phrases added for issue #3 (the coverage gaps): self-injury other than cutting,
help-seeking and crisis lines, a method near an intent, and paraphrases of ideation.

Each addition has posts it must flag and look-alike posts it must not flag (or not at high or
above): a counselor is paged by these, so the negatives matter as much as the positives.
"""

import pytest
from socialwatch.classifier import Classifier

SEVERITIES = ("low", "medium", "high", "critical")


@pytest.fixture(scope="module")
def packaged():
    return Classifier.load()


def self_harm(classifier, text):
    """The self-harm flag of ``text``, or None."""
    return next((f for f in classifier.classify(text) if f.category == "self_harm"), None)


@pytest.mark.parametrize(
    ("post", "subcategory", "severity"),
    [
        # self-injury other than cutting
        ("i keep burning myself on purpose", "behaviour", "critical"),
        ("i hit myself on purpose when i mess up", "behaviour", "critical"),
        ("the urge to cut again is so strong tonight", "behaviour", "critical"),
        ("having really bad urges to self harm", "behaviour", "critical"),
        ("i want to hurt myself", "behaviour", "critical"),
        ("i scratch myself until i bleed", "behaviour", "critical"),
        ("cut my wrist again last night", "behaviour", "critical"),
        # method + intent
        ("i'm going to take all of the pills tonight", "active_planning", "critical"),
        ("gonna take all my meds and never wake up", "ideation", "high"),
        ("thinking of how to swallow all my pills without anyone noticing", "active_planning", "critical"),
        ("the rope is around my neck", "active_planning", "critical"),
        ("how many pills does it take to die", "active_planning", "critical"),
        ("is a bottle of pills enough to kill me", "active_planning", "critical"),
        ("i'm going to end it tonight", "active_planning", "critical"),
        # paraphrases of ideation
        ("i have nothing left to live for", "ideation", "high"),
        ("i want to end my own life", "ideation", "critical"),
        ("gonna blow my brains out", "ideation", "critical"),
        ("i just want to off myself", "ideation", "critical"),
        ("i wish i could just die", "ideation", "high"),
        # other languages
        ("voy a tomarme todas las pastillas", "active_planning", "critical"),
        ("vou tomar todos os remédios", "active_planning", "critical"),
        ("ik wil een einde aan mijn leven maken", "ideation", "critical"),
    ],
)
def test_flags(packaged, post, subcategory, severity):
    flag = self_harm(packaged, post)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "i burned myself on the stove",
        "ugh i burnt myself on the curling iron again",
        "stop hitting yourself lol",
        "i hit myself in the face with the door",
        "i have the urge to cut my hair short",
        "i'm so proud of myself",
        "i made a fool of myself at practice",
        "i have to take all these pills for my cold",
        "i took all my meds this morning like the doctor said",
        "my mom took all my meds away just in case",
        "she wore a necklace around my neck",
        "you have to jump off the diving board",
        "i'm not going to end my own life",
        "i don't want to hurt myself",
        "voy a cortarme el pelo mañana",
        "if you or someone you know is struggling, text 741741 or call 988",
    ],
)
def test_does_not_flag_high(packaged, post):
    flag = self_harm(packaged, post)
    assert flag is None or SEVERITIES.index(flag.severity) < SEVERITIES.index("high"), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "i called 988 last night",
        "can someone give me the crisis text line number",
        "should i call the suicide hotline",
        "how do i stop cutting",
    ],
)
def test_help_seeking_is_never_critical(packaged, post):
    """Asking for help is medium at most on its own: the flag points, it does not page."""
    flag = self_harm(packaged, post)
    assert flag is None or SEVERITIES.index(flag.severity) <= SEVERITIES.index("medium"), flag.explanation
    if flag is not None:
        assert flag.subcategory == "help_seeking"


@pytest.mark.parametrize("post", [
    "i want to kill myself. what is the hotline number",
    "i want to kill myself and i don't know if i should call a hotline",
])
def test_asking_for_a_hotline_never_lowers_a_first_person_statement(packaged, post):
    """A crisis line is help-seeking, not news: a student who says it beside an intent is at risk."""
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "critical", flag and flag.explanation
