"""Classifier.classify(): which posts are flagged, how, and that nothing makes it raise."""

import math
import re

import pytest

from socialwatch.classifier import MAX_TEXT_CHARS, Classifier, Flag, Match
from socialwatch.classifier.matcher import PACKAGED_LEXICONS

HEADER = "phrase,category,subcategory,severity,weight,language\n"


@pytest.fixture(scope="module")
def packaged():
    return Classifier.load()


def classifier_with(directory, rows, threshold=1.0):
    """A classifier over exactly ``rows`` (CSV lines without the header)."""
    (directory / "en.csv").write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    (directory / "identity_terms.txt").write_text("gay\ntrans\n", encoding="utf-8")
    return Classifier.load(directory, threshold=threshold)


@pytest.mark.parametrize(
    ("post", "category", "phrase", "severity"),
    [
        ("kys", "bullying", "kys", "high"),
        ("lol just kill yourself already", "bullying", "kill yourself", "high"),
        ("KILL YOURSELF", "bullying", "kill yourself", "high"),
        ("ｋｉｌｌ　　ｙｏｕｒｓｅｌｆ", "bullying", "kill yourself", "high"),
        ("kill \n\t yourself", "bullying", "kill yourself", "high"),
        ("nobody likes you, seriously", "bullying", "nobody likes you", "medium"),
        ("you’re worthless", "bullying", "you're worthless", "medium"),
        ("I want to die", "selfharm", "i want to die", "critical"),
        ("i'm going to kill myself tonight", "selfharm", "kill myself", "critical"),
        ("I cut myself again", "selfharm", "cut myself", "critical"),
        ("me quiero morir", "selfharm", "me quiero morir", "critical"),
        ("hey guys this is my new account!!", "impersonation", "this is my new account", "medium"),
        ("This is Mr. Jones, class is cancelled", "impersonation", "this is mr", "medium"),
        ("posting on behalf of the district", "impersonation", "on behalf of the district", "high"),
        ("i will shoot everyone", "violence", "i will shoot", "high"),
        ("gonna bring a gun to school monday", "violence", "bring a gun to school", "critical"),
    ],
)
def test_posts_that_must_be_flagged(packaged, post, category, phrase, severity):
    flags = packaged.classify(post)
    assert [(f.category, f.severity) for f in flags] == [(category, severity)]
    assert phrase in [m.phrase for m in flags[0].matches]


@pytest.mark.parametrize(
    "post",
    [
        "",
        "   \n\t ",
        "I'm gay",
        "she is trans and proud",
        "my best friend is muslim and black",
        "skill yourself up before the exam",  # "kill yourself" only on word boundaries
        "Skys the limit",  # "kys" inside a word
        "I killed it at the recital",
        "you’re ugly",  # one mild insult (0.5) stays under the threshold
        "i need help with my homework",  # help-seeking alone is low weight (0.25)
    ],
)
def test_posts_that_must_not_be_flagged(packaged, post):
    assert packaged.classify(post) == []


def test_no_identity_term_alone_or_in_a_plain_sentence_raises_a_flag(packaged):
    lines = (PACKAGED_LEXICONS / "identity_terms.txt").read_text(encoding="utf-8").splitlines()
    terms = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    flagged = [term for term in terms
               if packaged.classify(term) or packaged.classify(f"I am {term}.") or packaged.classify(term.upper())]
    assert flagged == []


@pytest.mark.parametrize(
    ("post", "highlighted"),
    [
        ("ok ｋｉｌｌ　　ｙｏｕｒｓｅｌｆ!!", ["ｋｉｌｌ　　ｙｏｕｒｓｅｌｆ"]),
        ("🙂🙂 Kill   Yourself 🙂", ["Kill   Yourself"]),
        ("Straße kys ﬁne kys", ["kys", "kys"]),  # after characters that fold to two
        ("\x00kys\x00", ["kys"]),
    ],
)
def test_match_offsets_highlight_the_exact_original_substring(packaged, post, highlighted):
    (flag,) = packaged.classify(post)
    assert [post[m.start:m.end] for m in flag.matches] == highlighted


def test_the_explanation_names_phrase_subcategory_weight_severity_score_and_threshold(packaged):
    (flag,) = packaged.classify("I want to kill myself")
    assert flag.explanation == (
        'selfharm: matched "kill myself" (ideation, weight 1.0, critical); score 1.0 >= threshold 1.0')


def test_a_flag_records_its_score_threshold_and_matches(tmp_path):
    clf = classifier_with(tmp_path, ["loser,bullying,targeted_insult,medium,0.5,en",
                                     "ugly,bullying,targeted_insult,low,0.5,en"])
    post = "ugly loser"
    assert clf.classify(post) == [Flag(
        category="bullying", severity="medium", score=1.0, threshold=1.0,
        matches=(Match("ugly", "bullying", "targeted_insult", "low", 0.5, 0, 4),
                 Match("loser", "bullying", "targeted_insult", "medium", 0.5, 5, 10)),
        explanation='bullying: matched "ugly" (targeted_insult, weight 0.5, low), '
                    '"loser" (targeted_insult, weight 0.5, medium); score 1.0 >= threshold 1.0')]


@pytest.mark.parametrize(
    ("post", "score"),
    [
        ("loser", None),  # 0.5 < 1.0
        ("loser loser loser", None),  # a repeated phrase counts once
        ("loser and ugly", 1.0),  # two distinct phrases add up
        ("loser, ugly and a waste", 1.5),
    ],
)
def test_score_is_the_sum_of_distinct_phrase_weights(tmp_path, post, score):
    clf = classifier_with(tmp_path, ["loser,bullying,targeted_insult,medium,0.5,en",
                                     "ugly,bullying,targeted_insult,medium,0.5,en",
                                     "a waste,bullying,targeted_insult,medium,0.5,en"])
    assert [flag.score for flag in clf.classify(post)] == ([] if score is None else [score])


def test_a_repeated_phrase_is_highlighted_everywhere_and_said_to_count_once(tmp_path):
    clf = classifier_with(tmp_path, ["kys,bullying,harassment,high,1.0,en"])
    (flag,) = clf.classify("kys kys")
    assert [(m.start, m.end) for m in flag.matches] == [(0, 3), (4, 7)]
    assert '"kys" (harassment, weight 1.0, high; 2 times, counted once)' in flag.explanation


def test_weights_that_add_up_to_the_threshold_reach_it(tmp_path):
    clf = classifier_with(tmp_path, ["aa,bullying,threat,low,0.1,en", "bb,bullying,threat,low,0.7,en"], threshold=0.8)
    assert sum([0.1, 0.7]) < 0.8  # in floating point, which is why the score is rounded
    assert [flag.score for flag in clf.classify("aa bb")] == [0.8]


def test_of_overlapping_matches_in_one_category_only_the_longest_counts(tmp_path):
    clf = classifier_with(tmp_path, ["kill yourself,bullying,harassment,high,1.0,en",
                                     "go kill yourself,bullying,harassment,high,1.0,en",
                                     "yourself,selfharm,ideation,low,1.0,en"])
    flags = clf.classify("just go kill yourself")
    assert [(f.category, [m.phrase for m in f.matches], f.score) for f in flags] == [
        ("bullying", ["go kill yourself"], 1.0),
        ("selfharm", ["yourself"], 1.0),  # other categories are scored on their own
    ]


def test_flags_are_sorted_by_severity_then_category(tmp_path):
    clf = classifier_with(tmp_path, ["aa,violence,threat,medium,1.0,en",
                                     "bb,bullying,threat,medium,1.0,en",
                                     "cc,selfharm,ideation,critical,1.0,en",
                                     "dd,impersonation,fake_account,low,1.0,en"])
    assert [f.category for f in clf.classify("dd aa bb cc")] == ["selfharm", "bullying", "violence", "impersonation"]


@pytest.mark.parametrize(("threshold", "flagged"), [(0.25, True), (0.5, False)])
def test_the_threshold_decides(packaged, threshold, flagged):
    clf = Classifier.load(threshold=threshold)
    flags = clf.classify("i need help")
    assert bool(flags) is flagged
    assert all(f.threshold == threshold and f.explanation.endswith(f"threshold {threshold}") for f in flags)


@pytest.mark.parametrize("threshold", [0, -1, math.nan, math.inf])
def test_a_meaningless_threshold_is_refused(threshold):
    with pytest.raises(ValueError):
        Classifier.load(threshold=threshold)


@pytest.mark.parametrize(
    ("post", "categories"),
    [
        ("x" * (MAX_TEXT_CHARS - 4) + " kys", ["bullying"]),  # ends exactly at the cap
        ("x" * (MAX_TEXT_CHARS - 3) + " kys", []),  # cut by the cap: "ky"
        (" " * MAX_TEXT_CHARS + "kys", []),
    ],
)
def test_text_past_the_cap_is_ignored(packaged, post, categories):
    assert [flag.category for flag in packaged.classify(post)] == categories


@pytest.mark.parametrize(
    "hostile",
    [
        "\ud800",
        "kys\udfff",
        "\x00" * 1000,
        "a" * 1_000_000,
        "kys " * 250_000,
        "ﷺ" * MAX_TEXT_CHARS,  # folds to 18 characters each
        "\u200b".join("kill yourself"),
        "".join(chr(c) for c in range(0x110000) if c % 7 == 0),
    ],
)
def test_hostile_input_never_raises(packaged, hostile):
    flags = packaged.classify(hostile)
    assert all(isinstance(flag, Flag) for flag in flags)
    assert all(0 <= m.start < m.end <= len(hostile) for flag in flags for m in flag.matches)


def test_the_lexicon_version_is_a_sha256_prefix(packaged):
    assert re.fullmatch(r"[0-9a-f]{12}", packaged.lexicon_version)
