"""Suppressions: counselor feedback, accepted by an administrator, that a lexicon phrase must not
count when a context word is in the same text ("loser" at a "board game").

The review application appends them to a CSV file (append_suppression), the classifier cancels
matching phrases (Classifier.set_suppressions), and the running pipeline picks up a changed file
within about two seconds, keeping what it had when the new file is bad.
"""

import csv
import logging
import os
import threading
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry
from socialwatch.classifier import Classifier, LexiconError
from socialwatch.classifier.matcher import PACKAGED_LEXICONS
from socialwatch.classifier.suppressions import (
    COLUMNS,
    MAX_CONTEXT_CHARS,
    Suppression,
    append_suppression,
    load_suppressions,
)
from socialwatch.dashboards.metrics import Metrics
from socialwatch.storage import open_storage

from socialwatch import pipeline as pipeline_module
from socialwatch.config import load_config
from socialwatch.events import ActivityEvent, utcnow
from socialwatch.pipeline import Pipeline, load_classifier

HEADER = ",".join(COLUMNS) + "\n"
BOARD_GAME = Suppression("bullying", "loser", "board game", reference="p-1", note="family game night")
ROMEO = Suppression("self_harm", "i want to die", "romeo", reference="p-2", note="drama class")


@pytest.fixture(scope="module")
def packaged():
    return Classifier.load()


@pytest.fixture
def suppressed():
    return Classifier.load(suppressions=[BOARD_GAME, ROMEO])


def summary(flags):
    return [(f.category, f.subcategory, f.severity) for f in flags]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# -- the file ------------------------------------------------------------------------------------

def test_a_missing_file_holds_no_suppression(tmp_path):
    assert load_suppressions(tmp_path / "absent.csv") == ()


def test_a_file_is_read_row_by_row_with_fields_trimmed_and_quoted_notes_kept(tmp_path):
    path = write(tmp_path / "s.csv", "\ufeff" + HEADER
                 + "bullying, loser ,board game,p-1,\n"
                 + "\n"
                 + 'self_harm,i want to die,romeo,p-2,"drama class, act 5: ""Romeo""\nsecond line"\n'
                 + "violence,shoot,basketball,,\n")
    assert load_suppressions(path) == (
        Suppression("bullying", "loser", "board game", "p-1", ""),
        Suppression("self_harm", "i want to die", "romeo", "p-2", 'drama class, act 5: "Romeo"\nsecond line'),
        Suppression("violence", "shoot", "basketball", "", ""),
    )


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("selfharm,kill myself,macbeth,,", "category"),   # not a category
        ("context,not,macbeth,,", "category"),            # cues are not flag categories
        ("self_harm,  ,macbeth,,", "phrase"),
        ("self_harm,kill myself,   ,,", "context"),
        (f"self_harm,kill myself,{'x' * (MAX_CONTEXT_CHARS + 1)},,", "context"),
        ("self_harm,kill myself,macbeth,", "row"),         # four fields
        ("self_harm,kill myself,macbeth,,,extra", "row"),  # six
    ],
)
def test_a_bad_row_is_refused_naming_file_line_and_field(tmp_path, row, field):
    path = write(tmp_path / "s.csv", HEADER + "bullying,loser,board game,,\n\n" + row + "\n")
    with pytest.raises(LexiconError) as caught:
        load_suppressions(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (path, 4, field)
    assert str(caught.value).startswith(f"{path}:4: {field}: ")


def test_a_context_of_exactly_the_longest_length_is_accepted(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + f"bullying,loser,{'x' * MAX_CONTEXT_CHARS},,\n")
    assert len(load_suppressions(path)) == 1


def test_the_line_named_is_where_the_bad_row_starts_after_a_note_of_several_lines(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + 'bullying,loser,board game,,"one\ntwo\nthree"\n'
                 + 'nonsense,loser,chess,,"a\nb"\n')
    with pytest.raises(LexiconError) as caught:
        load_suppressions(path)
    assert (caught.value.line, caught.value.field) == (5, "category")


@pytest.mark.parametrize("header", ["", "phrase,category,context,reference,note\n", "category,phrase,context\n"])
def test_a_file_without_the_header_is_refused(tmp_path, header):
    path = write(tmp_path / "s.csv", header + "bullying,loser,board game,,\n")
    with pytest.raises(LexiconError) as caught:
        load_suppressions(path)
    assert (caught.value.line, caught.value.field) == (1, "header")


def test_a_file_that_is_not_utf8_is_refused_at_the_bad_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(HEADER.encode() + b"bullying,loser,board game,,\nbullying,loser,caf\xe9,,\n")
    with pytest.raises(LexiconError) as caught:
        load_suppressions(path)
    assert (caught.value.line, caught.value.field) == (3, "encoding")


# -- appending -----------------------------------------------------------------------------------

def test_the_first_append_creates_the_directory_and_the_file_with_its_header(tmp_path):
    path = tmp_path / "var" / "suppressions.csv"
    assert append_suppression(path, BOARD_GAME) is True
    assert path.read_text(encoding="utf-8") == HEADER + "bullying,loser,board game,p-1,family game night\n"
    assert append_suppression(path, ROMEO) is True
    assert load_suppressions(path) == (BOARD_GAME, ROMEO)


@pytest.mark.parametrize(
    "same",
    [
        BOARD_GAME,
        Suppression("bullying", "LOSER", "Board  Game", reference="p-9", note="another counselor"),
        Suppression("bullying", " l0ser ", "board game"),  # leetspeak, spaces: the same once normalized
    ],
)
def test_the_same_suppression_twice_is_refused_and_the_file_left_alone(tmp_path, same):
    path = tmp_path / "s.csv"
    append_suppression(path, BOARD_GAME)
    before, inode = path.read_bytes(), path.stat().st_ino
    assert append_suppression(path, same) is False
    assert (path.read_bytes(), path.stat().st_ino) == (before, inode)


def test_the_same_phrase_with_another_context_or_category_is_another_suppression(tmp_path):
    path = tmp_path / "s.csv"
    append_suppression(path, BOARD_GAME)
    assert append_suppression(path, Suppression("bullying", "loser", "chess")) is True
    assert append_suppression(path, Suppression("impersonation", "loser", "board game")) is True
    assert len(load_suppressions(path)) == 3


def test_commas_quotes_and_new_lines_in_a_note_survive_the_round_trip(tmp_path):
    path = tmp_path / "s.csv"
    tricky = Suppression("bullying", "loser", 'the "board, game"', reference="p,3",
                         note='he said "loser", then laughed;\nsee flag 12,\r\nok')
    append_suppression(path, tricky)
    append_suppression(path, ROMEO)
    assert load_suppressions(path) == (tricky, ROMEO)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["note"] for row in rows] == [tricky.note, ROMEO.note]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (Suppression("coppa", "loser", "board game"), "category"),
        (Suppression("bullying", "", "board game"), "phrase"),
        (Suppression("bullying", "loser", " "), "context"),
        (Suppression("bullying", "loser", "x" * (MAX_CONTEXT_CHARS + 1)), "context"),
        (Suppression("bullying", "loser", "board game", reference=None), "reference"),
    ],
)
def test_an_invalid_suppression_is_refused_and_nothing_is_written(tmp_path, bad, field):
    path = tmp_path / "s.csv"
    with pytest.raises(LexiconError) as caught:
        append_suppression(path, bad)
    assert (caught.value.file, caught.value.field) == (path, field)
    assert not path.exists()


def test_a_broken_file_is_not_appended_to(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + "nonsense,loser,chess,,\n")
    with pytest.raises(LexiconError) as caught:
        append_suppression(path, BOARD_GAME)
    assert (caught.value.line, caught.value.field) == (2, "category")
    assert path.read_text(encoding="utf-8") == HEADER + "nonsense,loser,chess,,\n"


def test_a_hand_edited_file_without_a_final_new_line_is_appended_to_on_a_new_line(tmp_path):
    path = write(tmp_path / "s.csv", HEADER + "violence,shoot,basketball,,")
    append_suppression(path, BOARD_GAME)
    assert load_suppressions(path) == (Suppression("violence", "shoot", "basketball"), BOARD_GAME)


def test_an_append_replaces_the_file_whole_keeps_its_permissions_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "s.csv"
    append_suppression(path, BOARD_GAME)
    path.chmod(0o640)
    inode = path.stat().st_ino
    append_suppression(path, ROMEO)
    assert path.stat().st_ino != inode, "a new file renamed over the old one, not the old one rewritten"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.csv.lock"]


def test_a_failed_append_leaves_the_old_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    append_suppression(path, BOARD_GAME)
    before = path.read_bytes()

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        append_suppression(path, ROMEO)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.csv.lock"]


def test_readers_never_see_half_a_file_and_concurrent_appends_are_all_kept(tmp_path):
    path = tmp_path / "s.csv"
    wanted = [Suppression("bullying", "loser", f"game {i}", reference=f"p-{i}", note="x" * 2000) for i in range(40)]
    failures, done = [], threading.Event()

    def read_while_appending():
        while not done.is_set():
            try:
                load_suppressions(path)
            except LexiconError as error:  # a torn read would be a bad row
                failures.append(error)

    def append(part):
        for suppression in part:
            assert append_suppression(path, suppression)

    reader = threading.Thread(target=read_while_appending)
    writers = [threading.Thread(target=append, args=(wanted[i::4],)) for i in range(4)]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    reader.join()
    assert failures == []
    assert sorted(load_suppressions(path), key=lambda s: s.reference) == sorted(wanted, key=lambda s: s.reference)


# -- classifying ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("post", "category"),
    [
        ("you are such a loser at this board game", "bullying"),
        ("you are such a LOSER at this BOARD   GAME", "bullying"),
        ("ur such a l0ser... board game night was a mess", "bullying"),
        ("romeo: i want to die", "self_harm"),
        ("I WANT TO DIE!!! — R0ME0, act 3", "self_harm"),
    ],
)
def test_a_post_that_flagged_no_longer_does_when_its_context_is_there(packaged, suppressed, post, category):
    assert category in [flag.category for flag in packaged.classify(post)], "flagged without the suppression"
    assert category not in [flag.category for flag in suppressed.classify(post)]


@pytest.mark.parametrize(
    ("post", "category"),
    [
        ("you are such a loser", "bullying"),                       # no context at all
        ("you are such a loser at this keyboard gamer meetup", "bullying"),  # "board game" inside words
        ("you are such a loser, boardgame or not", "bullying"),     # not the phrase as written
        ("i want to die", "self_harm"),
        ("romeos everywhere and i want to die", "self_harm"),
    ],
)
def test_the_same_phrase_still_flags_without_the_context_as_whole_words(suppressed, post, category):
    assert category in [flag.category for flag in suppressed.classify(post)]


def test_other_phrases_and_categories_in_the_same_text_still_count(packaged, suppressed):
    post = "you loser, I will kill you, nobody likes you. board game night, romeo"
    before = {flag.category: flag for flag in packaged.classify(post)}
    after = {flag.category: flag for flag in suppressed.classify(post)}
    assert after.keys() == before.keys() == {"violence", "bullying"}
    assert after["violence"] == before["violence"]
    assert [m.phrase for m in before["bullying"].matches] == ["loser", "nobody likes you"]
    assert [m.phrase for m in after["bullying"].matches] == ["nobody likes you"]
    assert (after["bullying"].score, after["bullying"].subcategory) == (1.0, "exclusion")


def test_a_suppression_applies_to_its_own_category_only(packaged):
    elsewhere = Classifier.load(suppressions=[Suppression("violence", "loser", "board game")])
    post = "you are such a loser at this board game"
    assert summary(elsewhere.classify(post)) == summary(packaged.classify(post)) != []


def test_the_explanation_says_what_was_suppressed_by_what_and_which_review(suppressed):
    (flag,) = suppressed.classify("you loser, and nobody likes you at the Board Game")
    assert flag.category == "bullying" and flag.score == 1.0
    assert '"loser" (targeted_insult, weight 1.0, counted 0.0, medium, suppressed by "board game" (review p-1))' \
        in flag.explanation
    assert [m.phrase for m in flag.matches] == ["nobody likes you"], "a suppressed match is not a match"


@pytest.mark.parametrize("post", ["you're a loser at this board game", "you are a loser at this board game",
                                  "ur such a loser at this board game"])
def test_a_suppression_covers_the_phrases_that_contain_its_phrase(suppressed, post):
    """"loser" accepted for board games also covers "you're a loser" there, however it is spelled."""
    assert [f for f in suppressed.classify(post) if f.category == "bullying"] == []


def test_without_a_reference_the_explanation_names_the_context_only():
    clf = Classifier.load(suppressions=[Suppression("bullying", "loser", "board game")])
    (flag,) = clf.classify("you are a loser and nobody likes you at the board game")
    assert 'suppressed by "board game")' in flag.explanation and "review" not in flag.explanation


def test_suppressions_never_make_an_identity_term_flag_nor_stop_identity_hate_without_their_context():
    terms = [line.strip() for line in (PACKAGED_LEXICONS / "identity_terms.txt").read_text(encoding="utf-8")
             .splitlines() if line.strip() and not line.startswith("#")]
    clf = Classifier.load(suppressions=[
        BOARD_GAME, ROMEO, Suppression("bullying", "are animals", "zoo trip"),
        Suppression("bullying", "loser", terms[0]),  # an identity term as a context
    ])
    for term in terms:
        for post in (term, f"I am {term}.", f"you are {term}", f"#{term} board game", f"soy {term}"):
            assert clf.classify(post) == [], post
    assert summary(clf.classify("gay people are animals")) == [("bullying", "hate", "high")]


def test_set_suppressions_replaces_them_and_says_whether_they_changed(packaged):
    clf = Classifier.load()
    post = "you are such a loser at this board game"
    assert clf.set_suppressions([BOARD_GAME]) is True
    assert clf.suppressions == (BOARD_GAME,) and clf.classify(post) == []
    assert clf.set_suppressions([BOARD_GAME]) is False
    with pytest.raises(ValueError, match="category"):
        clf.set_suppressions([Suppression("nonsense", "loser", "chess")])
    assert clf.suppressions == (BOARD_GAME,) and clf.classify(post) == [], "the previous ones are kept"
    assert clf.set_suppressions([]) is True
    assert summary(clf.classify(post)) == summary(packaged.classify(post)) != []


# -- configuration and the running pipeline ------------------------------------------------------

def event(text: str) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(), time=utcnow(), device="10.0.0.5", person="", platform="instagram",
        host="www.instagram.com", method="POST", path="/api/v1/web/comments/1/add/", action="comment",
        status=200, request_bytes=len(text), response_bytes=10, text=text,
    )


@pytest.fixture
def running(tmp_path):
    """A pipeline built from a configuration naming a suppressions file; events go through its
    classification step (its storage is never reached)."""
    path = tmp_path / "suppressions.csv"
    config = load_config(None, {"classifier.suppressions_file": str(path), "spool.directory": ""})
    store = open_storage("clickhouse://default:@127.0.0.1:9/never")
    p = Pipeline.from_config(load_classifier(config), store, Metrics(CollectorRegistry()), config)

    def categories(text):
        _, flags = p._classified(event(text))
        return [flag.category for flag in flags]

    yield path, p, categories
    store.close()


POST = "you are such a loser at this board game"


def test_a_suppression_accepted_while_running_applies_within_two_seconds(running):
    path, p, categories = running
    assert categories(POST) == ["bullying"]
    append_suppression(path, BOARD_GAME)
    assert categories(POST) == ["bullying"], "the file is not looked at for every event"
    time.sleep(pipeline_module.SUPPRESSIONS_CHECK_SECONDS + 0.1)
    assert categories(POST) == []
    assert p.classifier.suppressions == (BOARD_GAME,)


def test_a_bad_file_is_logged_and_the_previous_suppressions_are_kept(running, monkeypatch, caplog):
    path, p, categories = running
    monkeypatch.setattr(pipeline_module, "SUPPRESSIONS_CHECK_SECONDS", 0.0)
    append_suppression(path, BOARD_GAME)
    assert categories(POST) == []
    write(path, HEADER + "bullying,loser,board game,p-1,\nnonsense,loser,chess,,\n")
    with caplog.at_level(logging.ERROR, logger="socialwatch.pipeline"):
        assert categories(POST) == [], "still suppressed"
        assert categories(POST) == []
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"{path}:3: category" in record.getMessage() and "keeping the previous 1" in record.getMessage()
    write(path, HEADER + "bullying,loser,chess,,\n")  # fixed by hand: board game no longer suppressed
    assert categories(POST) == ["bullying"]
    path.unlink()
    assert p.classifier.suppressions == (Suppression("bullying", "loser", "chess"),)
    categories("hello")
    assert p.classifier.suppressions == (), "a removed file means no suppressions"


def test_the_configuration_names_the_file_and_a_bad_one_stops_the_start(tmp_path):
    path = tmp_path / "suppressions.csv"
    append_suppression(path, BOARD_GAME)
    config = load_config(None, {"classifier.suppressions_file": str(path)})
    assert load_classifier(config).suppressions == (BOARD_GAME,)
    assert load_config(None, {"classifier.suppressions_file": ""}).classifier.suppressions_file is None
    assert load_classifier(load_config(None)).suppressions == ()
    write(path, HEADER + "bullying,loser,,,\n")
    with pytest.raises(LexiconError, match=r"suppressions\.csv:2: context"):
        load_classifier(config)
