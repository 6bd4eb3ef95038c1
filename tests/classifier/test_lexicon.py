"""Lexicon loading: every bad row is refused with its file, line and field."""

import pytest
from socialwatch.classifier import LexiconError
from socialwatch.classifier.lexicon import (
    CATEGORIES,
    CONTEXT,
    Rules,
    load_lexicon,
    parse_rules,
)
from socialwatch.classifier.matcher import PACKAGED_LEXICONS
from socialwatch.classifier.normalize import normalize

HEADER = "phrase,category,subcategory,severity,weight,language,rules\n"
GOOD_ROW = "kill yourself,bullying,harassment,high,1.0,en,\n"  # line 2; the row under test is line 3


def write_lexicon(directory, text, name="en.csv", identity_terms="gay\ntrans\n"):
    path = directory / name
    path.write_text(text, encoding="utf-8")
    (directory / "identity_terms.txt").write_text(identity_terms, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ("mean words,insults,targeted_insult,high,1.0,en,", "category"),
        ("mean words,bullying,ideation,high,1.0,en,", "subcategory"),
        ("mean words,bullying,threat,urgent,1.0,en,", "severity"),
        ("mean words,bullying,threat,high,0,en,", "weight"),  # a phrase that weighs nothing is a mistake
        ("mean words,bullying,threat,high,heavy,en,", "weight"),
        ("mean words,bullying,threat,high,,en,", "weight"),
        ("mean words,bullying,threat,high,nan,en,", "weight"),
        ("mean words,bullying,threat,high,inf,en,", "weight"),
        ("mean words,bullying,threat,high,1.0,EN,", "language"),
        ("mean words,bullying,threat,high,1.0,en", "row"),
        ("mean words,bullying,threat,high,1.0,en,,extra", "row"),
        ("mean words,bullying,threat,high,1.0,en,sometimes", "rules"),
        ("mean words,bullying,threat,high,1.0,en,target=0", "rules"),
        ("mean words,bullying,threat,high,1.0,en,target=x", "rules"),
        ("mean words,bullying,threat,high,1.0,en,near=weather:3", "rules"),
        ("mean words,bullying,threat,high,1.0,en,near=time", "rules"),
        ("mean words,bullying,threat,high,1.0,en,after=address:51", "rules"),
        ("mean words,bullying,threat,high,1.0,en,after=greeting:1", "rules"),
        ("mean words,bullying,threat,high,1.0,en,only=sports", "rules"),
        ("lol,context,hyperbole,low,0.5,en,", "weight"),  # a context cue can only lower a score
        ("not,context,negation,low,-0.5,en,", "weight"),  # a marker weighs 0
        ("burn myself cooking,self_harm,behaviour,low,-1.0,en,idiom", "weight"),  # an idiom weighs 0
        ("lol,context,hyperbole,low,0,en,idiom", "weight"),  # an idiom hides phrases of a flag category
        ("not,context,mood,low,0,en,", "subcategory"),
        ("just,context,filler,low,-0.1,en,", "weight"),  # a filler weighs 0 ...
        ("just,context,filler,low,0,en,negatable", "weight"),  # ... and takes no rules
        ("gay,context,target,low,0,en,", "phrase"),  # identity terms are refused as cues, except as group markers
        ("mean words,selfharm,ideation,high,1.0,en,", "category"),  # the old id is gone
        ("  ,bullying,threat,high,1.0,en,", "phrase"),
        ("gay,bullying,targeted_insult,high,1.0,en,", "phrase"),  # identity term
        ("GAY,bullying,targeted_insult,high,1.0,en,", "phrase"),  # ... in any case
        ("ｔｒａｎｓ,bullying,targeted_insult,high,1.0,en,", "phrase"),  # ... in any width
        ("#trans!,bullying,targeted_insult,high,1.0,en,", "phrase"),  # ... with punctuation at its ends
        ("Kill  Yourself,bullying,threat,medium,0.5,en,", "phrase"),  # duplicate of line 2 once normalized
        ("* is a loser,bullying,targeted_insult,medium,1.0,en,", "phrase"),  # a slot comes after a word
        ("make * cry and * leave,bullying,harassment,medium,1.0,en,", "phrase"),  # one slot at most
        ("anti-* page,bullying,harassment,medium,1.0,en,", "phrase"),  # a slot is a word of its own
        ("everyone hates *'s page,bullying,harassment,medium,1.0,en,", "phrase"),
        ("ignore *,context,target,low,0,en,", "phrase"),  # a cue holds no slot
        ("everyone hates her,bullying,exclusion,medium,1.0,en,name", "rules"),  # 'name' is of a slot
        ("everyone {hates|} you,bullying,exclusion,medium,1.0,en,", "phrase"),  # an empty alternative
        ("everyone {hates you,bullying,exclusion,medium,1.0,en,", "phrase"),  # a group left open
        ("everyone hates|likes you,bullying,exclusion,medium,1.0,en,", "phrase"),  # a bar outside a group
        ("{kill|stab} yourself,bullying,harassment,high,1.0,en,", "phrase"),  # an alternative duplicates line 2
        ("{gay|loser},bullying,targeted_insult,high,1.0,en,", "phrase"),  # an alternative is an identity term
        ("{a|b|c|d} {a|b|c|d} {a|b|c|d} {a|b|c|d} {a|b},bullying,threat,high,1.0,en,", "phrase"),  # over 256
    ],
)
def test_a_bad_row_is_refused_naming_file_line_and_field(tmp_path, bad_row, field):
    path = write_lexicon(tmp_path, HEADER + GOOD_ROW + bad_row + "\n")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    error = caught.value
    assert (error.file, error.line, error.field) == (path, 3, field)
    assert str(error).startswith(f"{path}:3: {field}: ")


def test_line_numbers_count_blank_lines(tmp_path):
    path = write_lexicon(tmp_path, HEADER + GOOD_ROW + "\n\n" + "x,bullying,threat,high,1.0,en,,extra\n")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert (caught.value.file, caught.value.line) == (path, 5)


@pytest.mark.parametrize("header", [
    "",
    "phrase,category,subcategory,severity,weight,language\n",  # the rules column missing
    "kys,bullying,harassment,high,1.0,en,\n",  # a row where the header should be
])
def test_a_file_without_the_header_is_refused(tmp_path, header):
    path = write_lexicon(tmp_path, header + GOOD_ROW)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (path, 1, "header")


def test_a_file_that_is_not_utf8_is_refused_at_the_bad_line(tmp_path):
    path = tmp_path / "en.csv"
    write_lexicon(tmp_path, "")
    path.write_bytes((HEADER + GOOD_ROW).encode() + b"caf\xe9,bullying,threat,high,1.0,en\n")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (path, 3, "encoding")


def test_a_directory_without_identity_terms_is_refused(tmp_path):
    write_lexicon(tmp_path, HEADER + GOOD_ROW)
    (tmp_path / "identity_terms.txt").unlink()
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert caught.value.file == tmp_path / "identity_terms.txt"


@pytest.mark.parametrize(("name", "text"), [("notes.txt", GOOD_ROW), ("en.csv", HEADER)])
def test_a_directory_without_any_phrase_is_refused(tmp_path, name, text):
    write_lexicon(tmp_path, text, name=name)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert caught.value.file == tmp_path


def test_the_same_phrase_may_appear_once_per_language(tmp_path):
    write_lexicon(tmp_path, HEADER + "kys,bullying,harassment,high,1.0,en,\n", name="en.csv")
    write_lexicon(tmp_path, HEADER + "kys,bullying,harassment,high,1.0,es,\n", name="es.csv")
    assert [entry.source for entry in load_lexicon(tmp_path).entries] == ["en.csv:2", "es.csv:2"]


def test_a_row_with_groups_of_alternatives_stands_for_each_phrase_they_make(tmp_path):
    write_lexicon(tmp_path, HEADER + "{everyone|the whole class} {is laughing|laughs} at {you|u},bullying,harassment,"
                                     "medium,1.0,en,negatable\n"
                                     "{you're|youre} a loser,bullying,targeted_insult,medium,1.0,en,\n")
    entries = load_lexicon(tmp_path).entries
    assert [entry.phrase for entry in entries] == [
        "everyone is laughing at you", "everyone is laughing at u", "everyone laughs at you", "everyone laughs at u",
        "the whole class is laughing at you", "the whole class is laughing at u", "the whole class laughs at you",
        "the whole class laughs at u", "you're a loser"]  # "youre a loser" normalizes alike: one phrase
    assert {(e.category, e.weight, e.source, e.rules.negatable) for e in entries[:8]} == {
        ("bullying", 1.0, "en.csv:2", True)}


def test_an_entry_keeps_the_phrase_as_written_and_matches_on_its_normalized_form(tmp_path):
    write_lexicon(tmp_path, HEADER + " Kill  Yourself , bullying , harassment , high , 0.75 , en , negatable target=3\n")
    (entry,) = load_lexicon(tmp_path).entries
    assert (entry.phrase, entry.key, entry.category, entry.subcategory, entry.severity, entry.weight,
            entry.language, entry.source, entry.rules) == (
        "Kill  Yourself", "kill yourself", "bullying", "harassment", "high", 0.75, "en", "en.csv:2",
        Rules(negatable=True, target=3))


def test_identity_terms_file_allows_comments_and_blank_lines(tmp_path):
    write_lexicon(tmp_path, HEADER + GOOD_ROW, identity_terms="# a comment\n\n  Queer  \nnon-binary\n")
    assert load_lexicon(tmp_path).identity_terms == {"queer", "non binary"}  # normalized as posts are


def test_the_version_changes_with_the_files_and_only_with_them(tmp_path):
    path = write_lexicon(tmp_path, HEADER + GOOD_ROW)
    first = load_lexicon(tmp_path).version
    assert load_lexicon(tmp_path).version == first
    path.write_text(HEADER + GOOD_ROW.replace("1.0", "0.9"), encoding="utf-8")
    assert load_lexicon(tmp_path).version != first
    assert len(first) == 12 and int(first, 16) >= 0


def test_the_packaged_lexicon_loads_and_holds_no_identity_term():
    lexicon = load_lexicon(PACKAGED_LEXICONS)
    lines = (PACKAGED_LEXICONS / "identity_terms.txt").read_text(encoding="utf-8").splitlines()
    identity_terms = {normalize(line.strip()).text for line in lines if line.strip() and not line.startswith("#")}
    assert {"gay", "lesbian", "bi", "bisexual", "trans", "transgender", "queer", "nonbinary", "muslim",
            "jewish", "black"} <= identity_terms
    offending = [entry.source for entry in lexicon.entries
                 if entry.key.strip("#@!?.,'\"-_ ") in identity_terms and entry.subcategory != "group"]
    assert offending == []


def test_the_packaged_lexicon_covers_every_category():
    lexicon = load_lexicon(PACKAGED_LEXICONS)
    # pii is found by pii.find, not by phrases
    assert {entry.category for entry in lexicon.entries} == set(CATEGORIES) - {"pii"} | {CONTEXT}
    assert {entry.language for entry in lexicon.entries} == {"en", "es", "nl", "pt"}


@pytest.mark.parametrize(
    ("rules", "parsed"),
    [
        ("", Rules()),
        ("negatable", Rules(negatable=True)),
        ("target=3", Rules(target=3)),
        ("near=method:3 near=time:6", Rules(near=(("method", 3), ("time", 6)))),
        ("only=self_harm+violence", Rules(only=("self_harm", "violence"))),
        ("negatable target=2 near=group:1", Rules(negatable=True, target=2, near=(("group", 1),))),
        ("negatable after=address:1", Rules(negatable=True, after=(("address", 1),))),
        ("after=address:0", Rules(after=(("address", 0),))),
        ("negatable name", Rules(negatable=True, name=True)),
    ],
)
def test_rules_are_parsed_from_the_rules_column(rules, parsed):
    assert parse_rules(rules) == parsed
    assert parse_rules(parsed.describe()) == parsed


@pytest.mark.parametrize("row", [
    "dying of laughter,bullying,harassment,low,-1.0,en,",  # a negative weight lowers the score
    "lol,context,hyperbole,low,-0.3,en,only=self_harm",
    "you,context,target,low,0,en,",
    "just,context,filler,low,0,en,",
    "muslims,context,group,low,0,en,",  # identity terms may name a group for near=group:N ...
    "everyone unfollow *,bullying,exclusion,medium,1.0,en,",  # a slot
    "anti * page,bullying,harassment,medium,1.0,en,",  # a slot between words
    "n****r,bullying,hate,high,1.0,en,",  # stars inside a word are no slot
    "glock,context,weapon,low,0,en,",  # a weapon cue, for near=weapon:N
    "bringing,violence,weapon,critical,1.0,en,near=weapon:3 near=school:10",
])
def test_rows_that_are_accepted(tmp_path, row):
    write_lexicon(tmp_path, HEADER + GOOD_ROW + row + "\n", identity_terms="gay\nmuslims\n")
    assert load_lexicon(tmp_path).entries[-1].source == "en.csv:3"


def test_a_phrase_may_have_several_rows_with_different_rules(tmp_path):
    write_lexicon(tmp_path, HEADER + "bullied,bullying,harassment,low,0.5,en,\n"
                  "bullied,bullying,harassment,low,1.0,en,near=school:8\n")
    assert [e.rules.describe() for e in load_lexicon(tmp_path).entries] == ["", "near=school:8"]
    write_lexicon(tmp_path, HEADER + "bullied,bullying,harassment,low,0.5,en,near=school:8\n"
                  "bullied,bullying,harassment,low,1.0,en,near=school:8\n")
    with pytest.raises(LexiconError, match="en.csv:3: phrase: 'bullied' duplicates en.csv:2"):
        load_lexicon(tmp_path)


def test_a_cue_may_be_of_several_kinds_but_each_once(tmp_path):
    write_lexicon(tmp_path, HEADER + "i,context,self,low,0,en,\ni,context,clause,low,0,en,\n")
    assert [e.subcategory for e in load_lexicon(tmp_path).entries] == ["self", "clause"]
    write_lexicon(tmp_path, HEADER + "i,context,self,low,0,en,\nI,context,self,low,0,en,\n")
    with pytest.raises(LexiconError, match="en.csv:3: phrase"):
        load_lexicon(tmp_path)


def test_the_same_phrase_may_appear_once_per_category(tmp_path):
    write_lexicon(tmp_path, HEADER + "worthless,bullying,targeted_insult,medium,1.0,en,target=3\n"
                  "worthless,self_harm,ideation,low,0.2,en,\n")
    assert [entry.category for entry in load_lexicon(tmp_path).entries] == ["bullying", "self_harm"]


def test_every_category_and_subcategory_id_of_the_issue_exists():
    assert set(CATEGORIES) == {"bullying", "self_harm", "violence", "impersonation", "pii"}
    assert CATEGORIES["self_harm"] == {"research", "ideation", "help_seeking", "behaviour", "active_planning"}
