"""Danger to others (the procedure's g6): threats against a person or the school, a weapon
brought to school, a list of people to hurt; the look-alikes of sport, games and tests."""

import pytest


def violence(classifier, text):
    return next((f for f in classifier.classify(text) if f.category == "violence"), None)


@pytest.mark.parametrize(
    ("post", "subcategory", "severity"),
    [
        ("bringing my dad's gun to school monday", "weapon", "critical"),
        ("they're all going to pay for what they did", "threat", "high"),
        ("i'm going to kill him", "threat", "high"),
        ("im gonna kill her tomorrow", "threat", "high"),
        ("i swear i'll stab her if she says that again", "threat", "high"),
        ("i have a list of people i'm going to hurt", "planning", "critical"),
        ("i want to hurt everyone who made fun of me", "threat", "high"),
        ("someone should shoot this school up", "threat", "critical"),
        ("vou matar ele amanhã na escola", "threat", "high"),
        ("la voy a matar si vuelve a hablar", "threat", "high"),
        ("ik ga morgen iedereen op school neerschieten", "threat", "critical"),
    ],
)
def test_flags_danger_to_others(packaged, post, subcategory, severity):
    flag = violence(packaged, post)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "we're going to shoot some hoops after school",
        "i'm going to kill this test",
        "i'm going to pay for lunch",
        "why did you bully kids into taking a gun to school",  # a discussion: no first person near
        "she thinks her enemy is gonna kill her",  # not the writer's threat
        "one day everyone will know my name",  # 0.5: not alone
        "he was gonna kill him self because i wasnt answering",
    ],
)
def test_does_not_flag_look_alikes(packaged, post):
    assert violence(packaged, post) is None, violence(packaged, post).explanation
