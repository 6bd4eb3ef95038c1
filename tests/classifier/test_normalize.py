"""normalize(): folded text for matching, and offsets back to the original."""

import re
import string
import unicodedata
from unittest import mock

import ftfy.bad_codecs  # noqa: F401 - registers the codec sloppy-windows-1252
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from socialwatch.classifier import normalize as normalize_module
from socialwatch.classifier.lexicon import load_lexicon
from socialwatch.classifier.matcher import PACKAGED_LEXICONS, Matcher
from socialwatch.classifier.normalize import LEET, normalize

VOCABULARY = frozenset({"kill", "kys", "killyourself", "suicide"})


@pytest.mark.parametrize(
    ("original", "normalized"),
    [
        ("ｋｉｌｌ", "kill"),  # NFKC: full-width letters
        ("KILL Yourself", "kill yourself"),  # casefold
        ("Straße", "strasse"),  # casefold can lengthen: ß -> ss
        ("ﬁne", "fine"),  # NFKC: ligature
        ("you’re", "youre"),  # typographic apostrophe, then apostrophes inside words go
        ("don't", "dont"),
        ("'quoted'", "'quoted'"),  # ... but not at the ends of a word
        ("kill \t\n  yourself", "kill yourself"),  # one space per whitespace run
        ("a\u00a0\u3000b", "a b"),  # no-break and ideographic spaces are whitespace
        ("  kys  ", " kys "),  # runs at the edges collapse too, they are not removed
        ("", ""),
        ("mátate", "matate"),  # accents
        ("mate\u0301", "mate"),  # a decomposed accent
        ("kіll", "kill"),  # Cyrillic і
        ("ΚΙLL", "kill"),  # Greek capitals
        ("уоu", "you"),  # Cyrillic у and о
        ("k\u200bys", "kys"),  # zero-width space
        ("⚰️", "⚰"),  # emoji variation selector
        ("👍🏽", "👍"),  # skin tone
        ("k1ll", "kill"),  # leetspeak inside a word
        ("$uicide", "suicide"),
        ("h@te", "hate"),
        ("l0s3r", "loser"),
        ("ki11", "kill"),  # a "1" is "l" where only that spelling is a word of the vocabulary
        ("k1ll", "kill"),
        ("1uck", "iuck"),
        ("kiII", "kill"),  # a capital I after a small letter reads "l" where only that spelling is a word
        ("KiII", "kill"),
        ("kiIl", "kill"),
        ("iPhone", "iphone"),
        ("hiII", "hi"),  # ("hill" is not a word of the vocabulary: three i's, collapsed)
        ("I KILL", "i kill"),
        ("ᴋɪʟʟ", "kill"),  # small capitals
        ("🅺🅸🅻🅻 🆈🅾🆄", "kill you"),  # letters of "fancy text": negative squared,
        ("🅚🅨🅢", "kys"),  # ... negative circled,
        ("⒦⒴⒮", "kys"),  # ... parenthesized (NFKC alone would make "(k)(y)(s)")
        ("🇰🇮🇱🇱", "kill"),  # regional indicators: a run of three or more that spells a word,
        ("🇰 🇾 🇸", "kys"),  # ... one alone (then joined as any separated letters are)
        ("i hate 🇲🇪", "i hate 🇲🇪"),  # ... but two in a row are a flag (Montenegro, not "me"),
        ("🇺🇸🇲🇽", "🇺🇸🇲🇽"),  # ... and so are flags side by side
        ("ʞᴉll ɹɐ", "kill ra"),  # upside down, turned only: the reading that spells a word,
        ("ɔᴉʞ llᴉʞ", "kill kic"),  # ... turned and written backwards
        ("ʞᴉʞᴉ", "ʞᴉʞᴉ"),  # ... neither reading a word: left as written
        ("ɐ ʞ", "ɐ ʞ"),
        ("k*ll", "kill"),  # letters starred out: the one word of the vocabulary they spell
        ("su**ide", "suicide"),
        ("k***", "k***"),  # ... not three stars
        ("*kill*", "*kill*"),  # ... nor stars around a word
        ("sl*t", "sl*t"),  # ... nor a starred word that spells no word (or several)
        ("x*x " * 16 + "k*ll", "x*x " * 16 + "k*ll"),  # ... nor one after the first 16
        ("@j0hn", "@j0hn"),  # a mention is left as written
        ("2024 and 911", "2024 and 911"),  # numbers are not words
        ("kill!!", "kill!!"),  # a trailing "!" stays punctuation
        ("sooooo", "so"),  # three or more of one letter become one
        ("diiiiie", "die"),
        ("good", "good"),  # two stay two
        ("k.i.l.l", "kill"),  # separators inside a word of the vocabulary
        ("k i l l", "kill"),
        ("k-y-s", "kys"),
        ("k i l l y o u r s e l f", "killyourself"),
        ("k💀y💀s", "kys"),  # ... or an emoji
        ("k 🔪 i 🔪 l 🔪 l", "kill"),
        ("u r a b", "u r a b"),  # ... only when the letters join into a vocabulary word
        ("a a k.y.s", "a a kys"),  # ... wherever the word starts
        ("x k y s", "x kys"),
        ("a.m.", "a.m."),
        ("&amp; &lt;3 &#39;", "& <3 '"),  # HTML entities
        ("<b>kys</b> now", " kys now"),  # markup becomes a space
        ("i <3 you", "i <3 you"),  # not markup
        ("kill-you", "kill you"),  # words joined by a connector are words
        ("i.will.kill.you", "i will kill you"),
        ("kill_you", "kill you"),
        ("ki.ll", "kill"),  # ... but a word of the vocabulary split in parts that are not, one word
        ("su-ici.de", "suicide"),
        ("k-ys", "kys"),
        ("kill-yourself", "killyourself"),  # (a phrase: matched as its form without spaces)
        ("quero matar-me", "quero matar me"),
        ("a-hole", "a-hole"),  # ... but one word with a letter is one word
        ("t-shirt", "t-shirt"),
        ("@kill_me_now", "@kill_me_now"),  # ... and a mention, a link, "or" stay
        ("x.com/kill-yourself", "x.com/kill-yourself"),
        ("0A.0A/.A", "oa oa/.a"),  # (found by hypothesis: one edit, not two)
        ("https://kill-yourself.example", "https://kill-yourself.example"),
        ("suicidal/depressed", "suicidal/depressed"),
        ("KILL. YOURSELF.", "kill yourself."),  # one-word sentences in a row are one sentence
        ("I. Will. Kill. You", "i will kill you"),
        ("omg. no. way!! ok then", "omg no way!! ok then"),
        ("Ugh. Kill yourself", "ugh. kill yourself"),  # ... not a word and a sentence
        ("thats it. Bye.", "thats it. bye."),  # ... nor a sentence's last word and a word
        ("you 👏 are 👏 ugly 👏", "you are ugly 👏"),  # claps between words
        ("you👏are", "you are"),
        ("llᴉʞ lol", "kill lol"),  # upside-down text: each end of a run a word with a turned letter
        ("I donâ€™t", "i dont"),  # mojibake: UTF-8 read as Windows-1252 ...
        ("iâ\x80\x99m", "im"),  # ... or Latin-1
        ("canciÃ³n ðŸ˜‚", "cancion 😂"),
        ("São ¿Qué? ação Ñandú", "sao ¿que? acao nandu"),  # text written right stays
    ],
)
def test_normalized_text(original, normalized):
    assert normalize(original, VOCABULARY).text == normalized


@pytest.mark.parametrize(
    ("original", "starts", "ends"),
    [
        ("abc", [0, 1, 2], [1, 2, 3]),
        ("ｋｉｌｌ", [0, 1, 2, 3], [1, 2, 3, 4]),
        ("Straße!", [0, 1, 2, 3, 4, 4, 5, 6], [1, 2, 3, 4, 5, 5, 6, 7]),  # both s of "ss" come from "ß"
        ("a  \t b", [0, 1, 5], [1, 5, 6]),  # the space stands for the whole run
        ("\n\nx", [0, 2], [2, 3]),
        ("sooo!", [0, 1, 4], [1, 4, 5]),  # the one "o" stands for the whole run
        ("&amp;x", [0, 5], [5, 6]),  # the "&" stands for the whole entity
        ("k.y.s", [0, 2, 4], [1, 3, 5]),  # the separators are dropped
        ("no. way.", [0, 1, 3, 4, 5, 6, 7], [1, 2, 4, 5, 6, 7, 8]),  # the beat between the words too
        ("a 👏 b", [0, 1, 4], [1, 4, 5]),  # the space stands for the clap and its spaces
        ("ab-cd", [0, 1, 2, 3, 4], [1, 2, 3, 4, 5]),  # a connector becomes a space in its place
        ("ki-ll", [0, 1, 3, 4], [1, 2, 4, 5]),  # ... or goes
    ],
)
def test_each_normalized_character_points_at_its_original_characters(original, starts, ends):
    norm = normalize(original, VOCABULARY)
    assert (list(norm.starts), list(norm.ends)) == (starts, ends)


@pytest.mark.parametrize(
    ("original", "phrase", "expected_original"),
    [
        ("please ｋｉｌｌ　ｙｏｕｒｓｅｌｆ now", "kill yourself", "ｋｉｌｌ　ｙｏｕｒｓｅｌｆ"),
        ("so   KILL \t yourself!!", "kill yourself", "KILL \t yourself"),
        ("die Straße ist leer", "strasse", "Straße"),
        ("x ﬁne y", "fine", "ﬁne"),  # both "f" and "i" come from one ligature
        ("omg kiiiiill me", "kil", "kiiiiil"),
        ("just k.y.s lol", "kys", "k.y.s"),
        ("so &lt;3 u", "<3", "&lt;3"),
        ("k1ll y0u", "kill you", "k1ll y0u"),
        ("KILL. YOURSELF.", "kill yourself", "KILL. YOURSELF"),
        ("ok you 👏 are 👏 ugly", "you are ugly", "you 👏 are 👏 ugly"),
        ("just kill_you", "kill you", "kill_you"),
        ("just ki-ll", "kill", "ki-ll"),
        ("I donâ€™t want to die", "dont want to die", "donâ€™t want to die"),
    ],
)
def test_a_span_of_normalized_text_maps_back_to_the_exact_original_substring(original, phrase, expected_original):
    norm = normalize(original, VOCABULARY)
    start = norm.text.index(phrase)
    original_start, original_end = norm.original_span(start, start + len(phrase))
    assert original[original_start:original_end] == expected_original


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_every_normalized_character_maps_into_the_original_in_order(text):
    norm = normalize(text, VOCABULARY)
    assert len(norm.text) == len(norm.starts) == len(norm.ends)
    assert all(0 <= s < e <= len(text) for s, e in zip(norm.starts, norm.ends))
    assert list(norm.starts) == sorted(norm.starts)


LETTERS_AND_MARKS = st.text(alphabet="abc XYZ.,!?'0áéíóúñüçãõâêôàÀÉÑ¿¡’“”…😂💀🔪—–€ß", max_size=30)


@settings(max_examples=300, deadline=None)
@given(LETTERS_AND_MARKS, st.sampled_from(["sloppy-windows-1252", "latin-1"]))
def test_text_decoded_with_the_wrong_encoding_normalizes_as_the_text_itself(text, wrong_encoding):
    """Windows-1252 as browsers decode it (a byte it leaves undefined read as Latin-1: ftfy's
    codec), or Latin-1. (Text that has the shape of mojibake as written, "ß€", is another case:
    it is left as it is where ftfy's heuristic says it is no mojibake, below.)"""
    assume(normalize_module._MOJIBAKE.search(text) is None)
    mangled = text.encode("utf-8").decode(wrong_encoding)
    assert normalize(mangled, VOCABULARY).text == normalize(text, VOCABULARY).text


def test_every_character_a_mojibake_sequence_may_hold_stands_for_a_byte():
    held = [chr(code) for code in range(0x3000) if normalize_module._MOJIBAKE.fullmatch("\u00c3" + chr(code))]
    assert len(held) == 64 + 27  # Latin-1's 0x80-0xBF, and Windows-1252's 27 characters for 0x80-0x9F
    assert all(char in normalize_module._BYTE_READ_AS for char in held)


@pytest.mark.parametrize("text", ["¿POR QUÉ… JOSÉ…?", "„Ö”", "ESPAÑA–PORTUGAL", "São Paulo, ação, coração",
                                  "canción ¡olé! ñandú", "één café, reünie", "Ã", "à€€"])
def test_text_that_only_looks_like_mojibake_is_left_as_it_is(text):
    assert normalize_module._repair_mojibake(text) == []


MATCHER = Matcher(load_lexicon(PACKAGED_LEXICONS).entries)
SPACE = st.sampled_from([" ", "\n", "  ", "\t"])


@pytest.mark.parametrize(("text", "normalized"), [("kys ʇʇ", "kys ʇʇ"), ("KYS ʇʇ", "kys ʇʇ"),
                                                  ("ǝʇ i want to die", "te i want to die")])
def test_a_run_of_upside_down_text_is_whole_words(text, normalized):
    """("s ʇʇ" read backwards is "tt s": "kys" was lost; "ǝʇ i" took the plain "i" along.)"""
    assert normalize(text, MATCHER.vocabulary).text == normalized
AROUND = st.text(alphabet=st.characters(blacklist_characters="<>&", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(AROUND, SPACE, st.sampled_from(["kill yourself", "KYS", "k1ll yourself", "ｎｏｂｏｄｙ likes you",
                                       "i want to die", "me quiero morir", "ik wil dood", "quero morrer",
                                       "k.y.s", "this is my new account", "kill-yourself", "i.want.to.die"]),
       SPACE, AROUND)
def test_a_phrase_anywhere_is_found_at_its_exact_original_offsets(before, space1, phrase, space2, after):
    text = before + space1 + phrase + space2 + after
    norm = normalize(text, MATCHER.vocabulary)
    spans = {norm.original_span(start, end) for start, end, _ in MATCHER.find(norm)}
    start = len(before) + len(space1)
    assert any(s <= start and start + len(phrase) <= e for s, e in spans)
    assert all(0 <= s < e <= len(text) for s, e in spans)


# Fast paths: each agrees with the plain definition it replaces.

@pytest.mark.parametrize("family", normalize_module.LETTER_SYMBOLS)
def test_every_letter_of_fancy_text_folds_to_its_letter(family):
    alphabet = "".join(unicodedata.lookup(f"{family} {letter}") for letter in string.ascii_uppercase)
    assert normalize(alphabet).text == string.ascii_lowercase


def test_ascii_folds_as_the_character_steps_say():
    for code in range(128):
        assert normalize_module._fold_ascii(chr(code)) == normalize_module._fold_one(chr(code))


MIXED = st.lists(st.sampled_from([*"aAbkKiIlosS019@$!|_'`’ .-*·/,\t\n\u00a0\u3000", "é", "e\u0301", "ß", "ı",
                                  "İ", "²", "ﬁ", "ｋ", "\u200b", "😀", "&amp;", "<b>", "ooo", "k.i.l.l", "k i l l",
                                  "@j0hn", "h@te", "kill-you", "no. ", "A. ", "!! ", "\U0001f44f", "://", "ab", "*", "k*ll",
                                  "kiII", "ʞ", "ᴉ", "ɔ", "🇰", "🇾", "🇸", "🇺🇸", "🅺", "⒦", "â€™", "â\x80\x99", "Ã©", "Ã",
                                  "€", "\x99", "ðŸ˜‚"])
                 | st.characters(blacklist_categories=("Cs",)), max_size=40).map("".join)
"""Text rich in what the steps rewrite."""


@settings(max_examples=300, deadline=None)
@given(st.text() | MIXED)
def test_folding_agrees_with_folding_each_character_alone(text):
    folded, edits = normalize_module._fold_chars(text)
    fold = normalize_module._fold_one
    assert folded == "".join(fold(c) for c in text)
    assert edits == [(i, i + 1, fold(c)) for i, c in enumerate(text) if len(fold(c)) != 1]


@given(st.text() | MIXED)
def test_the_quick_test_for_a_capital_i_in_a_word_is_its_pattern(text):
    assert normalize_module._has_capital_i_in_a_word(text) is bool(re.search(r"[a-z]I", text))


def _capital_i_as_first_written(text, vocabulary):
    def replace(found):
        word, as_l = found.group(), found.group()[0] + found.group()[1:].replace("I", "l")
        return as_l if word.lower() not in vocabulary and as_l.lower() in vocabulary else word
    return re.sub(r"[A-Za-z]*[a-z]I[A-Za-z]*", replace, text)


@settings(max_examples=300, deadline=None)
@given(MIXED | st.lists(st.sampled_from(["k", "i", "I", "l", "L", "K", " ", "é", "kiII", "-"]), max_size=20).map("".join))
def test_a_capital_i_as_an_l_agrees_with_its_plain_definition(text):
    assert normalize_module._capital_i_as_l(text, VOCABULARY) == _capital_i_as_first_written(text, VOCABULARY)


def _leetspeak_as_first_written(text, vocabulary):
    edits = []
    for found in re.finditer(r"(?<![\w@$!|])[\w@$!|]*[0134578@$!|][\w@$!|]*", text):
        core = found.group().rstrip("!")
        if core.startswith("@") or not re.search(r"[0134578@$!|]", core) or not any(c.isalpha() for c in core):
            continue
        as_i, as_l = ("".join({**LEET, "1": one}.get(c, c) for c in core) for one in "il")
        one = "l" if as_i not in vocabulary and as_l in vocabulary else "i"
        edits += [(found.start() + i, found.start() + i + 1, one if c == "1" else LEET[c])
                  for i, c in enumerate(core) if c in LEET]
    return edits


def _edits(pattern, replacement):
    return lambda text, vocabulary: [(m.start(), m.end(), m.expand(replacement))
                                     for m in re.finditer(pattern, text)]


def _joined_words_as_first_written(text, vocabulary):
    edits = []
    for found in normalize_module._JOINED_WORDS.finditer(text):
        parts = re.split(r"[-_.]", found.group())
        if "".join(parts) in vocabulary and not set(parts) <= vocabulary:
            edits += [(found.start() + m.start(), found.start() + m.end(), "") for m in re.finditer(r"[-_.]", found.group())]
        elif len(parts) > 2 and max(map(len, parts)) > 1 or len(parts) == 2 and min(map(len, parts)) > 1:
            edits += [(found.start() + m.start(), found.start() + m.end(), " ") for m in re.finditer(r"[-_.]", found.group())]
    return edits


def _stars_as_first_written(text, vocabulary):
    edits = []
    for found in list(normalize_module._STARRED.finditer(text))[:normalize_module.MOST_STARRED_WORDS]:
        pattern = re.compile(re.escape(found.group()).replace(r"\*", "[a-z]"))
        spelled = [word for word in vocabulary if pattern.fullmatch(word)]
        if found.group().count("*") <= 2 and found.group() not in vocabulary and len(spelled) == 1:
            edits += [(found.start() + i, found.start() + i + 1, spelled[0][i]) for i, c in enumerate(found.group())
                      if c == "*"]
    return edits


def _beats_as_first_written(text, vocabulary):
    runs = r"(?:\A|(?<=[.!?] ))[^\W\d_]+(?:[.!]+ [^\W\d_]+)+(?=[.!]|\Z)"
    edits = [(run.start() + m.start(), run.start() + m.end(), "")
             for run in re.finditer(runs, text) for m in re.finditer(r"[.!]+(?= )", run.group())]
    claps = [(m.start(), m.end(), " ") for m in re.finditer(r"(?<=[^\W\d_]) ?\U0001f44f+ ?(?=[^\W\d_])", text)]
    return sorted(edits + claps)


def _regional_indicators_as_first_written(text, vocabulary):
    letters = {chr(0x1F1E6 + i): chr(ord("a") + i) for i in range(26)}
    edits = []
    for run in re.finditer("[\U0001F1E6-\U0001F1FF]+", text):
        spelled = "".join(letters[c] for c in run.group())
        if len(spelled) == 1 or len(spelled) >= 3 and spelled in vocabulary:
            edits += [(run.start() + i, run.start() + i + 1, letter) for i, letter in enumerate(spelled)]
    return edits


STEPS_AS_FIRST_WRITTEN = [  # one regex tried at every position, no quick test before it
    (normalize_module._collapse_whitespace, _edits(r"[^\S ]\s*| \s+", " ")),
    (normalize_module._spell_regional_indicators, _regional_indicators_as_first_written),
    (normalize_module._leetspeak, _leetspeak_as_first_written),
    (normalize_module._drop_inner_apostrophes, _edits(r"(?<=[^\W\d_])'(?=[^\W\d_])", "")),
    (normalize_module._collapse_repeats, _edits(r"([^\W\d_])\1{2,}", r"\1")),
    (normalize_module._fill_stars, _stars_as_first_written),
    (normalize_module._separate_joined_words, _joined_words_as_first_written),
    (normalize_module._drop_beats, _beats_as_first_written),
]


@settings(max_examples=500, deadline=None)
@given(MIXED)
def test_each_text_step_agrees_with_its_plain_definition(text):
    for step, plain in STEPS_AS_FIRST_WRITTEN:
        assert step(text, VOCABULARY) == plain(text, VOCABULARY), step.__name__


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["k", "y", "s", "i", "l", "a", "x", "2", " ", ".", "-", "..", "_", "·", "é", "💀", "⭐"]),
                max_size=30).map("".join))
def test_joining_separated_letters_needs_no_more_than_its_quick_test_allows(text):
    with mock.patch.object(normalize_module, "_MAYBE_SEPARATED", re.compile("")):
        unfiltered = normalize_module._join_separated(text, VOCABULARY)
    assert normalize_module._join_separated(text, VOCABULARY) == unfiltered


def _offsets_computed_eagerly(text, vocabulary):
    """starts and ends carried through every edit, character by character."""
    def apply(text, starts, ends, edits):
        new_text, new_starts, new_ends, kept_from = "", [], [], 0
        for start, end, replacement in edits:
            new_text += text[kept_from:start] + replacement
            new_starts += starts[kept_from:start] + [starts[start]] * len(replacement)
            new_ends += ends[kept_from:start] + [ends[end - 1]] * len(replacement)
            kept_from = end
        return new_text + text[kept_from:], new_starts + starts[kept_from:], new_ends + ends[kept_from:]
    starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    text, starts, ends = apply(text, starts, ends, normalize_module._repair_mojibake(text))
    text = normalize_module._capital_i_as_l(text, vocabulary)  # one character for one
    folds = [normalize_module._fold_one(char) for char in text]
    starts = [start for start, fold in zip(starts, folds) for _ in fold]
    ends = [end for end, fold in zip(ends, folds) for _ in fold]
    text = "".join(folds)
    for step in normalize_module.TEXT_STEPS:
        text, starts, ends = apply(text, starts, ends, step(text, vocabulary))
    return text, starts, ends


@settings(max_examples=500, deadline=None)
@given(st.text() | MIXED)
def test_offsets_from_the_edits_agree_with_offsets_carried_eagerly(text):
    norm = normalize(text, VOCABULARY)
    assert (norm.text, list(norm.starts), list(norm.ends)) == _offsets_computed_eagerly(text, VOCABULARY)
