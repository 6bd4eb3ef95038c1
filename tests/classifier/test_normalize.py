"""normalize(): folded text for matching, and offsets back to the original."""

import pytest

from socialwatch.classifier.normalize import normalize


@pytest.mark.parametrize(
    ("original", "normalized"),
    [
        ("ｋｉｌｌ", "kill"),  # NFKC: full-width letters
        ("KILL Yourself", "kill yourself"),  # casefold
        ("Straße", "strasse"),  # casefold can lengthen: ß -> ss
        ("ﬁne", "fine"),  # NFKC: ligature
        ("you’re", "you're"),  # typographic apostrophe
        ("kill \t\n  yourself", "kill yourself"),  # one space per whitespace run
        ("a\u00a0\u3000b", "a b"),  # no-break and ideographic spaces are whitespace
        ("  kys  ", " kys "),  # runs at the edges collapse too, they are not removed
        ("", ""),
    ],
)
def test_normalized_text(original, normalized):
    assert normalize(original).text == normalized


@pytest.mark.parametrize(
    ("original", "offsets"),
    [
        ("abc", [0, 1, 2]),
        ("ｋｉｌｌ", [0, 1, 2, 3]),
        ("Straße!", [0, 1, 2, 3, 4, 4, 5, 6]),  # both s of "ss" come from "ß"
        ("a  \t b", [0, 1, 5]),  # the space stands for the run's first character
        ("\n\nx", [0, 2]),
    ],
)
def test_each_normalized_character_points_at_its_original_character(original, offsets):
    assert list(normalize(original).offsets) == offsets


@pytest.mark.parametrize(
    ("original", "phrase", "expected_original"),
    [
        ("please ｋｉｌｌ　ｙｏｕｒｓｅｌｆ now", "kill yourself", "ｋｉｌｌ　ｙｏｕｒｓｅｌｆ"),
        ("so   KILL \t yourself!!", "kill yourself", "KILL \t yourself"),
        ("die Straße ist leer", "strasse", "Straße"),
        ("x ﬁne y", "fine", "ﬁne"),  # both "f" and "i" come from one ligature
    ],
)
def test_a_span_of_normalized_text_maps_back_to_the_exact_original_substring(original, phrase, expected_original):
    norm = normalize(original)
    start = norm.text.index(phrase)
    original_start, original_end = norm.original_span(start, start + len(phrase))
    assert original[original_start:original_end] == expected_original


@pytest.mark.parametrize("hostile", ["\ud800", "a\udfffb", "\x00\x01\x1b[31m", "\u200b" * 10, "ﷺ" * 100])
def test_hostile_text_normalizes_with_one_offset_per_character(hostile):
    norm = normalize(hostile)
    assert len(norm.offsets) == len(norm.text)
    assert all(0 <= offset < len(hostile) for offset in norm.offsets)
