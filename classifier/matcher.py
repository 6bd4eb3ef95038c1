"""Matching and scoring: find lexicon phrases in a text and turn them into flags.

The pipeline is normalize -> match -> rules -> score -> flag:

1. the text (its first ``MAX_TEXT_CHARS`` characters) is normalized;
2. one Aho-Corasick automaton finds every lexicon phrase and context cue in it; a match
   counts only on word boundaries, and is mapped back to offsets in the original text;
3. per category, a match inside a longer one does not count ("dying of laughter", a
   negative weight, hides "dying"); of matches that only partly overlap, the one whose
   weight is largest in size counts ("ending it all" over "thinking of ending it");
4. each match's rules are checked (negation, target, co-occurrence); a match whose rule
   does not hold weighs 0; a match inside double quotes weighs half; a match of a phrase
   that an accepted suppression (``suppressions.py``) names weighs 0 when the suppression's
   context is in the text;
5. the score of a category is the sum of the weights of its *distinct* phrases (a
   phrase repeated counts once), plus the (negative) weights of the context cues: hyperbole
   and jokes anywhere in the text, topics (homework, news, lyrics, a game, a pastime) in a
   match's sentence, at most ``TOPIC_WINDOW`` tokens from it;
6. a category whose score reaches its threshold is flagged. Its severity is the highest
   among its positively weighted matches, one level lower when a context cue or a
   quotation lowered the score; the explanation lists phrases, weights, rules and score.

Personal information (``pii``) is found by ``pii.find`` on the original text; each
distinct finding weighs 1.0.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import math
import pathlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

import ahocorasick

from . import pii
from .flags import SEVERITIES, Flag, Match
from .lexicon import (
    CATEGORIES,
    CONTEXT,
    FILLER,
    MARKER_KINDS,
    NEGATION_WINDOW,
    SLOT,
    TOPIC_KINDS,
    TOPIC_WINDOW,
    Entry,
    Lexicon,
    Rules,
    load_lexicon,
)
from .normalize import Normalized, has_run, normalize
from .suppressions import Suppression, normalized_key, problem

MAX_TEXT_CHARS = 20_000
"""Characters of a text that are classified; the rest is ignored and the flag says so."""

PACKAGED_LEXICONS = pathlib.Path(__file__).with_name("lexicons")
"""The lexicons shipped with socialwatch."""

DISCLOSED_ACTS = ("behaviour", "active_planning")
"""Self-harm subcategories that context cues lower but never below the threshold."""

LAUGH_KINDS = ("hyperbole", "joke")
"""Context cues that set the tone of a whole post (a laugh, "jk", "es broma"), as against topics."""

QUOTED_FACTOR = 0.5
"""A match inside double quotes ("...") weighs this fraction of its weight."""

DEFAULT_CONTEXT_CATEGORIES = ("bullying", "self_harm", "violence")
"""Categories a context cue lowers unless its ``only=`` rule says otherwise."""

ROSTER_CLAIM_TEMPLATES = {"this is {name}": 1.0, "this is {name}'s new account": 1.0, "i'm {name}": 0.5,
                          "i am {name}": 0.5, "soy {name}": 0.5, "sou {name}": 0.5, "ik ben {name}": 0.5,
                          "aquí {name}": 1.0, "aqui é {name}": 1.0, "dit is {name}": 1.0}
"""Impersonation phrases added for every roster name (claims_identity, medium), with their weight:
"I'm <name>" alone does not flag (it may be the student's own name)."""

SLOT_NOT_A_NAME = frozenset(
    # articles and determiners
    "the a an this that these those my your ur our their his its it every some any no one "  # en
    "el la los las un una unos unas mi mis tu tus su sus este esta ese esa esto eso lo "  # es
    "o os as um uma meu minha seu teu tua esse essa isso isto do da dos das "  # pt
    "de het een mijn mn jouw je ons onze hun deze die dat dit t "  # nl
    # the writer and the reader: "nobody talk to me", "catch u after school"
    "i me myself we us you u ya yall yourself yo mi nosotros eu mim nos voce vc ik mij wij jij jou "
    # oneself: "ik ga mezelf vermoorden" is self-harm, not a threat to a peer
    "himself herself themselves themself ourselves yourselves te se mezelf mijzelf jezelf zichzelf zich onszelf "
    # no one in particular, family and staff: "nobody invite anyone", "a gc without mom"
    "anyone anybody everyone everybody someone somebody nobody people mom mum mommy dad daddy parents "
    "grandma grandpa teacher teachers nadie todos mama papa padres abuela abuelo profe profesora profesor "
    "maestra maestro ninguem mae pai pais avo professora professor prof iemand niemand iedereen ouders "
    "oma opa juf meester leraar "
    # words of a sentence that name no one: "everyone block out friday", "i'm going to stab at
    # the answer", "i will murder in among us"
    "about after again against and around as at away back because before behind but by down for from "
    "here how if in into near now of off on onto or out over so than then there through till to under "
    "until up upon what when where which while who why with without is are was were be been am "
    "a al ante con contra del desde en entre hacia hasta para por sin sobre tras y e pero que como "
    "cuando donde porque si ya muy mas es son era fue "
    "em no na nos nas num numa pela pelo pra pro ate mas ou quando onde se ja muito nao foi ta "
    "aan achter bij door langs met naar naast om onder op over te tegen tot tussen uit van via voor "
    "zonder en of maar want dus als dan wanneer waar waarom hoe wat wie er hier daar nu al ook niet "
    "wel zo".split())
"""Words that fill no slot (``*``) of a phrase. A slot is one word that names a third person,
a peer: a name or a pronoun ("lets all ignore maddie", "... her"); not an article or a
determiner ("one" of "kill one of my characters"), not the writer or the reader (a phrase
says "you" itself), not a reflexive pronoun, not "anyone", not a parent or a teacher, not a
preposition, a conjunction, a particle or a form of "to be" in the four languages."""

PERSON_PRONOUNS = frozenset(
    "him her "  # en
    "ella ellos ellas "  # es ("el" is the article too)
    "ele ela eles elas "  # pt
    "hem haar hen hij zij ze".split())  # nl ("hun" is "their" too)
"""Third-person pronouns: a slot with the ``name`` rule takes them, as it takes a roster name."""

_MENTION = re.compile(r"(?<!\w)@\w{2,}")
_SLOT_WORD = re.compile(r"@\w+(?:\.\w+)*|[^\W_]+(?:'[^\W_]+)?")  # a handle: "@coach_b", "@jess.x"
_TOKEN = re.compile(r"\w+(?:'\w+)?")
_QUOTES = re.compile("[\"\u201c\u201d\u201e\u00ab\u00bb]")
# The end of a sentence in the original text (normalization joins lines): punctuation before
# a space or the end, or a line break; not the "." of "3.5" or "youtube.com", nor "k!ll".
_SENTENCE_END = re.compile(r"[.!?\u2026]+(?:\s|$)|\n")
# Where a negation's reach ends in normalized text: "não aguento mais, quero me matar" is not
# "não ... quero me matar".
_CLAUSE_PUNCTUATION = re.compile(r"[,;:.!?]")


_CONTRACTIONS = ("don't can't won't didn't doesn't isn't wasn't aren't weren't couldn't wouldn't shouldn't "
                 "haven't hasn't hadn't ain't i'm i've i'll i'd you're you've you'll you'd we're we've "
                 "they're they've they'll it's that's what's there's he's she's let's")
_SPLIT = {word.replace("'", ""): word.replace("'", " ") for word in _CONTRACTIONS.split()}
"""``dont`` -> ``don t``: contractions as text whose apostrophes were stripped spells them."""


_CHAT_SPELLINGS = {
    "en": {"you": ("u",), "your": ("ur", "yo"), "you're": ("ur",), "yourself": ("urself", "yoself"), "are": ("r",),
           "want to": ("wanna",), "going to": ("gonna", "finna"), "got to": ("gotta",), "trying to": ("tryna",),
           "i'm going to": ("imma", "ima"), "because": ("cuz", "bc"), "kind of": ("kinda",),
           "don't know": ("dunno",), "i don't know": ("idk",), "give me": ("gimme",), "let me": ("lemme",),
           "people": ("ppl",), "please": ("pls", "plz"), "tomorrow": ("tmrw", "tmr", "2morrow"),
           "tonight": ("tonite", "2nite"), "right now": ("rn",), "someone": ("some1", "sum1"),
           "everyone": ("every1",), "something": ("smth", "sth"), "before": ("b4",), "about": ("abt",),
           "account": ("acc", "acct"), "picture": ("pic",), "pictures": ("pics",), "message": ("msg",),
           "messages": ("msgs",), "really": ("rly",), "for real": ("fr",), "you all": ("yall",),
           "about to": ("boutta", "bout to"), "ass": ("ahh",)},
    "es": {"que": ("q", "k", "ke"), "porque": ("xq", "pq"), "por qué": ("xq", "pq"), "también": ("tb", "tmb"),
           "por favor": ("porfa", "xfa"), "de verdad": ("dvd",), "mañana": ("mñn",), "por": ("x",),
           "quiero": ("kiero",), "quieres": ("kieres",), "para": ("pa",), "nada": ("nd",), "te": ("t",),
           "me": ("m",), "estoy": ("toy",), "estás": ("tas",), "dónde": ("dnd",), "bien": ("bn",)},
    "pt": {"você": ("vc", "cê"), "vocês": ("vcs",), "que": ("q",), "grupo": ("gp",), "gente": ("gnt",),
           "vou": ("vo",), "muitos": ("mts",), "é": ("eh",), "porque": ("pq",), "por que": ("pq",),
           "também": ("tb",), "de novo": ("dnv",), "muito": ("mt", "mto"), "tudo": ("td",),
           "mesmo": ("msm",), "hoje": ("hj",), "não": ("n",), "para": ("pra",), "está": ("ta",),
           "estou": ("to", "tou"), "comigo": ("cmg",), "ninguém": ("ngm",), "quando": ("qnd",)},
    "nl": {"ik": ("k",), "mijn": ("mn",), "het": ("t",), "niet": ("nie",), "wat": ("wa",),
           "jij": ("je",), "jou": ("je",), "niemand": ("nmd",)},
}
"""Words as they are typed in chat, per language: "nobody likes u", "i wanna end it", "vc é lixo",
"n aguento mais", "k wil dood". A context cue takes no spelling of one or two letters alone:
a cue counts in every language, and Portuguese "n" (não) is English "n" (and), Dutch "k"
(ik) an English "k" (ok)."""
_WRITTEN_OUT = {
    "en": {"what's": "what is", "i'm": "i am", "don't": "do not", "can't": "cannot", "won't": "will not",
           "it's": "it is", "you're": "you are", "i've": "i have", "that's": "that is", "there's": "there is",
           "doesn't": "does not", "didn't": "did not", "isn't": "is not", "wasn't": "was not",
           "haven't": "have not", "couldn't": "could not", "wouldn't": "would not", "shouldn't": "should not",
           "they're": "they are", "i'll": "i will", "i'd": "i would", "we're": "we are",
           "someone's": "someone is", "you'll": "you will", "they'll": "they will"},
}
"""Contractions and how they are written out, both ways ("what is the point of living", "i'm
worthless" for "i am worthless", "i will kill you" for "i'll kill you"). Without an apostrophe
"i'll", "i'd" and "we're" are other words (ill, id, were), but only inside a listed phrase,
where they can mean nothing else ("ill kill you"); not "we'll", "he'll", "she'll" (well,
hell, shell), which are words on their own."""


def _spellings_table() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per language, each word or words of a lexicon key and its other spellings, normalized as
    keys are ("i'm" is "im", "você" is "voce")."""
    tables: dict[str, dict[str, tuple[str, ...]]] = collections.defaultdict(dict)
    # Both ways: a row written as in chat ("to querendo morrer") is also found written out.
    pairs = [(language, *pair) for language, table in _CHAT_SPELLINGS.items()
             for written, others in table.items() for other in others
             for pair in ((written, other), (other, written))]
    pairs += [(language, pair[i], pair[1 - i]) for language, table in _WRITTEN_OUT.items()
              for pair in table.items() for i in (0, 1)]
    for language, written, other in pairs:
        written, other = normalize(written).text, normalize(other).text
        if other not in tables[language].get(written, ()):
            tables[language][written] = (*tables[language].get(written, ()), other)
    return dict(tables)


_SPELLINGS = _spellings_table()
_MAX_SPELLINGS = 24
"""At most this many other spellings of one phrase."""


@functools.cache
def _spellings_by_first_word(language: str) -> dict[str, list[tuple[list[str], tuple[str, ...]]]]:
    """``_SPELLINGS[language]`` by the first word of what is written otherwise: its words, and
    the other spellings."""
    index: dict[str, list[tuple[list[str], tuple[str, ...]]]] = collections.defaultdict(list)
    for written, others in _SPELLINGS.get(language, {}).items():
        index[written.split(" ")[0]].append((written.split(" "), others))
    return dict(index)


def _spellings(key: str, language: str) -> list[str]:
    """``key`` with some of its words spelled otherwise: as typed in chat ("no one would miss
    u") or with a contraction written out ("what is the point of living")."""
    index = _spellings_by_first_word(language)
    words = key.split(" ")
    # at each word, the spellings that may replace the words starting there, with their width
    options = [[(len(written), other) for written, others in index.get(word, ()) for other in others
                if words[i:i + len(written)] == written] for i, word in enumerate(words)]
    # All in chat (each word in its first other spelling), then the forms nearest the row: one
    # word spelled otherwise, then two, ... until a phrase has its most.
    forms: dict[str, None] = {}
    position, parts = 0, []
    while position < len(words):
        width, other = options[position][0] if options[position] else (1, words[position])
        parts.append(other)
        position += width
    forms[" ".join(parts)] = None

    # how many words from each position on have another spelling: no more can be spelled otherwise
    spellable = [sum(1 for option in options[i:] if option) for i in range(len(words) + 1)]

    def spell(position: int, parts: tuple[str, ...], left: int) -> None:
        """The forms that spell ``left`` more words otherwise from ``position`` on."""
        if len(forms) >= _MAX_SPELLINGS or left > spellable[position]:
            return
        if position == len(words):
            forms[" ".join(parts)] = None
            return
        if left:
            for width, other in options[position]:
                spell(position + width, (*parts, other), left - 1)
        spell(position + 1, (*parts, words[position]), left)

    for count in range(1, spellable[0] + 1):
        spell(0, (), count)
    forms.pop(key, None)
    return sorted(forms)


def _variants(key: str) -> dict[str, bool]:
    """Forms a phrase is also matched as, each with whether it counts only where normalization
    collapsed a repeated letter: letters undoubled ("killlll" is normalized to "kil"; but
    "nose" is not "noose"), contractions split where an apostrophe was stripped ("i don t want
    to live"), and without spaces ("killyourself", also "k i l l y o u r s e l f")."""
    forms = {key: False, " ".join(_SPLIT.get(word, word) for word in key.split(" ")): False}
    forms.setdefault(re.sub(r"([^\W\d_])\1", r"\1", key), True)
    for form, repeated in list(forms.items()):
        if " " in form:
            forms.setdefault(form.replace(" ", ""), repeated)
    return {form: repeated for form, repeated in forms.items() if form and form != key}


def _with_filler(key: str, fillers: Iterable[str]) -> Iterator[str]:
    """``key`` with one filler between two of its words: "want to die" -> "want just to die", ..."""
    words = key.split(" ")
    for gap in range(1, len(words)):
        head, tail = " ".join(words[:gap]), " ".join(words[gap:])
        for filler in fillers:
            yield f"{head} {filler} {tail}"


def _roster_entries(names: Iterable[str]) -> list[Entry]:
    entries = []
    for name in names:
        key = normalize(name.strip()).text.strip()
        if not key:
            continue
        entries.append(Entry(name.strip(), key, CONTEXT, "target", "low", 0.0, "xx", "roster"))
        entries.append(Entry(name.strip(), key, CONTEXT, "peer", "low", 0.0, "xx", "roster"))
        for template, weight in ROSTER_CLAIM_TEMPLATES.items():
            phrase = template.format(name=name.strip())
            entries.append(Entry(phrase, normalize(phrase).text.strip(), "impersonation", "claims_identity",
                                 "medium", weight, "xx", "roster"))
    return entries


class _Hit(NamedTuple):
    start: int  # in normalized text
    end: int
    entry: Entry


class Matcher:
    """Every lexicon phrase and cue in one Aho-Corasick automaton, built once.

    A phrase or an idiom is also found with one filler of its language between two of its
    words ("i just want to die", "dying of fucking laughter"). The automaton runs a second
    time over a text without its fillers (``_find_past_fillers``); a phrase that holds a filler
    word itself is held with its filler forms instead."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        entries = list(entries)
        # The words a slot with the ``name`` rule takes: a pronoun, a word of a roster name
        # ("Jordan Smith": "jordan", "smith"; "Mr. Smith": "smith").
        self._names = PERSON_PRONOUNS | {word for entry in entries if entry.source == "roster"
                                         and entry.category == CONTEXT for word in entry.key.split(" ")
                                         if word.isalpha() and word not in SLOT_NOT_A_NAME}
        by_key: dict[str, list[Entry]] = collections.defaultdict(list)
        fillers: dict[str, list[str]] = collections.defaultdict(list)
        repeated_of: dict[str, list[Entry]] = collections.defaultdict(list)
        slotted: dict[str, list[tuple[Entry, str, str]]] = collections.defaultdict(list)  # head -> entry, gap, tail
        for entry in entries:
            if entry.category == CONTEXT and entry.subcategory == FILLER:
                fillers[entry.language].append(entry.key)
            elif (slot := SLOT.search(entry.key)) is not None:
                # "anti * page": the automaton finds "anti"; " ", a word and " page" must follow.
                head = entry.key[:slot.start()].rstrip(" ")
                slotted[head].append((entry, entry.key[len(head):slot.start()], entry.key[slot.end():]))
            elif has_run(entry.phrase.casefold()):
                # A phrase written with a run of one letter ("kkkk", laughter, is "k" normalized)
                # is matched only where the text had a run too: a lone "k" is "ok".
                repeated_of[entry.key].append(entry)
            else:
                by_key[entry.key].append(entry)
        variant_of: dict[str, dict[int, Entry]] = collections.defaultdict(dict)  # form -> id -> entry
        spelled: dict[str, list[Entry]] = collections.defaultdict(list)  # other spelling -> its entries

        # A row written in another spelling of a phrase ("wanna die", 0.8) says what that spelling
        # weighs in the row's category with the row's rules: there the phrase ("want to die", 1.0)
        # is not found as well. In another category, or with other rules, it is: "i know where u
        # live" near a time hides neither the bullying row "i know where you live" nor its
        # violence row without a rule.
        def kind(entry: Entry) -> tuple[str, str, Rules]:
            return entry.category, entry.subcategory if entry.category == CONTEXT else "", entry.rules

        written = {key: {kind(entry) for entry in same_key} for key, same_key in by_key.items()}

        def written_as(form: str, entry: Entry) -> bool:
            return kind(entry) in written.get(form, ())

        def add_variant(form: str, entry: Entry) -> None:
            if not written_as(form, entry):
                variant_of[form].setdefault(id(entry), entry)

        for key, same_key in by_key.items():
            for form, repeated in _variants(key).items():
                if repeated:
                    repeated_of[form].extend(entry for entry in same_key if not written_as(form, entry))
                else:
                    for entry in same_key:
                        add_variant(form, entry)
            # Other spellings of a phrase's language, but not of the hyperbole and idioms that
            # lower a score: "i'm dying" (lol) is not "i am dying inside".
            for language in sorted({entry.language for entry in same_key}):
                of_language = [entry for entry in same_key if entry.language == language and entry.weight >= 0]
                for form in _spellings(key, language):
                    for entry in of_language:
                        # A cue counts in every language: one or two letters alone would fire
                        # on another's text (Portuguese "n" for "não" is English "n", "and").
                        if (entry.category != CONTEXT or " " in form or len(form) > 2) and not written_as(form, entry):
                            add_variant(form, entry)
                            spelled[form].append(entry)
        # The words before a slot are spelled as any phrase's are: "ima stab *" for "i'm going
        # to stab *", "i ll kill *" where an apostrophe was stripped.
        for head, items in list(slotted.items()):
            forms = {form: items for form, repeated in _variants(head).items() if " " in form and not repeated}
            for language in sorted({entry.language for entry, _, _ in items}):
                of_language = [item for item in items if item[0].language == language]
                for form in _spellings(head, language):
                    forms[form] = [*forms.get(form, ()), *of_language]
            for form, spelled_items in forms.items():
                slotted[form] += [item for item in spelled_items if item not in slotted[form]]
        vocabulary = {word for key in [*by_key, *variant_of, *repeated_of]
                      for word in (key.replace(" ", ""), *key.split(" "))}
        all_fillers = {filler for of_language in fillers.values() for filler in of_language}
        one_word_fillers = {filler for filler in all_fillers if " " not in filler}
        longer_fillers = [f" {filler} " for filler in all_fillers if " " in filler]

        def holds_filler(key: str) -> bool:
            return not one_word_fillers.isdisjoint(key.split(" ")) or any(
                filler in f" {key} " for filler in longer_fillers)

        fillable: dict[str, tuple[Entry, ...]] = {}  # key -> its entries that a filler may split
        for key, same_key in by_key.items():
            if " " not in key:
                continue
            # A cue qualifies what is around it. An idiom takes a filler as the phrases it hides
            # do: "ik ga *echt* dood van het lachen" is still laughter.
            splittable = tuple(entry for entry in same_key if entry.category != CONTEXT)
            if not splittable:
                continue
            if not holds_filler(key):
                fillable[key] = splittable
                continue
            # A phrase with a filler word of its own ("so done with life") is not found where
            # fillers are skipped: its forms with a filler are keys of the automaton.
            for entry in splittable:
                for form in _with_filler(key, fillers.get(entry.language, ())):
                    add_variant(form, entry)
        # A phrase spelled as in chat takes a filler too ("nobody *even* likes u"); one that
        # holds a filler word ("ur so fat") is held with its filler forms ("ur literally so fat").
        for form, entries_spelled in spelled.items():
            splittable = tuple(entry for entry in entries_spelled if entry.category != CONTEXT)
            if not splittable or " " not in form:
                continue
            if not holds_filler(form):
                fillable[form] = tuple(dict.fromkeys((*fillable.get(form, ()), *splittable)))
                continue
            for entry in splittable:
                for filled in _with_filler(form, fillers.get(entry.language, ())):
                    add_variant(filled, entry)
        self._automaton = ahocorasick.Automaton()
        for form in {**by_key, **variant_of, **repeated_of, **slotted}:
            entries = (*by_key.get(form, ()), *variant_of.get(form, {}).values())
            only_repeated = repeated_of.get(form, ())
            repeated = tuple(entry for entry in only_repeated if entry not in entries) if only_repeated else ()
            self._automaton.add_word(form, (len(form), entries, repeated, fillable.get(form, ()),
                                            tuple(slotted.get(form, ()))))
        self._automaton.make_automaton()
        self._keys = frozenset(by_key)
        self._fillers = {language: frozenset(of_language) for language, of_language in fillers.items()}
        # A filler between two words: preceded by a space, followed by one (longest first:
        # "de verdade" before "de verdad").
        self._filler = re.compile("(?<= )(?:" + "|".join(map(re.escape, sorted(all_fillers, key=len, reverse=True)))
                                  + ") ") if all_fillers else None
        # Words of letters, and starred ones ("sl*t"): a row's own spelling is left as written.
        self.vocabulary: frozenset[str] = frozenset(word for word in vocabulary if word.replace("*", "").isalpha())

    def find(self, norm: Normalized) -> list[_Hit]:
        """``(start, end, entry)`` in normalized text for every match on word boundaries."""
        text = norm.text
        size = len(text)
        found = []
        for last, (length, entries, repeated, _, slotted) in self._automaton.iter(text):
            start, end = last - length + 1, last + 1
            if (start > 0 and text[start - 1].isalnum()) or (end < size and text[end].isalnum()):
                continue
            found += [_Hit(start, end, entry) for entry in entries]
            if repeated and _collapsed(norm, start, end):
                found += [_Hit(start, end, entry) for entry in repeated]
            if slotted:
                found += _with_slot(text, start, end, slotted, self._names)
        if self._filler is not None:
            found += self._find_past_fillers(text)
        return found

    def _find_past_fillers(self, text: str) -> list[_Hit]:
        """The phrases found with exactly one filler of their language between two of their
        words ("i *really* want to die"): matched in the text without its fillers, each mapped
        back to the text."""
        skipped: list[str] = []  # each filler, with its space
        points: list[int] = []  # where each filler was, in the text without them
        shifts: list[int] = []  # characters skipped up to and including each filler
        parts: list[str] = []
        kept_from = 0
        for found in self._filler.finditer(text):
            skipped.append(found.group())
            points.append(found.start() - (shifts[-1] if shifts else 0))
            shifts.append((shifts[-1] if shifts else 0) + len(found.group()))
            parts.append(text[kept_from:found.start()])
            kept_from = found.end()
        if not skipped:
            return []
        parts.append(text[kept_from:])
        without = "".join(parts)
        size = len(text)
        hits = []
        for last, (length, _, _, fillable, slotted) in self._automaton.iter(without):
            if not fillable and not slotted:
                continue
            start, end = last - length + 1, last + 1
            first = bisect.bisect_right(points, start)  # the fillers after the phrase's first character
            if first >= len(points) or points[first] >= end or (first + 1 < len(points) and points[first + 1] < end):
                continue  # none inside, or more than one
            filler = skipped[first][:-1]
            found = [(end, entry) for entry in fillable]
            if slotted and " " in without[start:end]:  # "i will *actually* murder tyler"
                nearest = points[first + 1] if first + 1 < len(points) else len(without)
                found += [(hit.end, hit.entry) for hit in _with_slot(without, start, end, slotted, self._names)
                          if hit.end <= nearest]
            start += shifts[first - 1] if first else 0
            if start > 0 and text[start - 1].isalnum():
                continue
            for stop, entry in found:
                stop += shifts[first]
                if (stop < size and text[stop].isalnum()) or filler not in self._fillers.get(entry.language, ()):
                    continue
                if text[start:stop] not in self._keys:  # not a phrase of its own, with its own rows
                    hits.append(_Hit(start, stop, entry))
        return hits


def _with_slot(text: str, start: int, end: int, slotted: Iterable[tuple[Entry, str, str]],
               names: frozenset[str]) -> list[_Hit]:
    """The phrases with a slot whose head is ``text[start:end]``: their gap, a word that names
    someone (not in ``SLOT_NOT_A_NAME``; with the ``name`` rule, one of ``names``, a pronoun or
    a word of a roster name, or an @mention), then their tail, on a word boundary."""
    hits = []
    for entry, gap, tail in slotted:
        if not text.startswith(gap, end):
            continue
        word = _SLOT_WORD.match(text, end + len(gap))
        if word is None or word.group() in SLOT_NOT_A_NAME:
            continue
        if entry.rules.name and word.group().split("'")[0] not in names and not word.group().startswith("@"):
            continue
        stop = word.end()
        if tail:
            if not text.startswith(tail, stop) or (stop + len(tail) < len(text) and text[stop + len(tail)].isalnum()):
                continue
            stop += len(tail)
        hits.append(_Hit(start, stop, entry))
    return hits


_MATCHERS: collections.OrderedDict[tuple[str, frozenset[str]], Matcher] = collections.OrderedDict()
_MATCHERS_KEPT = 2
"""Matchers built last, by lexicon version and roster: building one takes seconds, and a
process that loads the same lexicon again (a classifier per configuration, a roster set
back) reuses it. A matcher is never changed once built."""
_MATCHERS_LOCK = threading.Lock()


def _matcher_for(lexicon: Lexicon, roster: frozenset[str]) -> Matcher:
    key = (lexicon.version, roster)
    with _MATCHERS_LOCK:
        matcher = _MATCHERS.get(key)
        if matcher is None:
            matcher = Matcher([*lexicon.entries, *_roster_entries(sorted(roster))])
            _MATCHERS[key] = matcher
            while len(_MATCHERS) > _MATCHERS_KEPT:
                _MATCHERS.popitem(last=False)
        else:
            _MATCHERS.move_to_end(key)
        return matcher


def _collapsed(norm: Normalized, start: int, end: int) -> bool:
    """Whether a letter of ``norm.text[start:end]`` stands for a run of three or more."""
    for index in range(start, end):
        first, last = norm.original_span(index, index + 1)
        if last - first >= 3 and norm.text[index].isalpha():
            return True
    return False


class _Tokens:
    """Token index of a position of the normalized text, computed once, on demand."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def index(self, position: int) -> int:
        if self._starts is None:
            self._starts = [m.start() for m in _TOKEN.finditer(self._text)]
        return bisect.bisect_right(self._starts, position) - 1

    def distance(self, a: _Hit, b: _Hit) -> int:
        """Tokens strictly between two hits (0 when adjacent or overlapping)."""
        if a.end <= b.start:
            return max(0, self.index(b.start) - self.index(a.end - 1) - 1)
        if b.end <= a.start:
            return max(0, self.index(a.start) - self.index(b.end - 1) - 1)
        return 0

    def reach(self, hit: _Hit, window: int) -> tuple[int, int]:
        """A span of the text that every hit at most ``window`` tokens from ``hit`` overlaps."""
        first = self.index(hit.start) - window - 1
        last = self.index(hit.end - 1) + window + 2
        starts = self._starts
        return (starts[first] if first >= 0 else 0,
                starts[last] if last < len(starts) else len(self._text))


class _Spans:
    """Hits, indexed by where they start when they are many, to find quickly the few that reach
    into a span of the text. A rule looks only at the cues near its phrase: in a hostile post
    of thousands of matches, looking at every cue for every phrase took seconds (20,000 "🔪",
    22 s)."""

    FEW = 16
    """At most this many hits are looked at one by one (quicker than an index)."""

    def __init__(self, hits: Iterable[_Hit] = ()) -> None:
        self._hits = list(hits)
        self._starts: list[int] | None = None
        if len(self._hits) > self.FEW:
            self._order = sorted(range(len(self._hits)), key=lambda index: self._hits[index].start)
            self._starts = [self._hits[index].start for index in self._order]
            self._longest = max(hit.end - hit.start for hit in self._hits)

    def __iter__(self) -> Iterator[_Hit]:
        return iter(self._hits)

    def __bool__(self) -> bool:
        return bool(self._hits)

    def touching(self, start: int, end: int) -> list[_Hit]:
        """The hits that overlap ``text[start:end]``, in the order they were given."""
        if self._starts is None:
            return [hit for hit in self._hits if hit.start < end and hit.end > start]
        first = bisect.bisect_left(self._starts, start - self._longest)  # a hit ends at most _longest after its start
        last = bisect.bisect_left(self._starts, end)
        return [self._hits[index] for index in sorted(self._order[first:last]) if self._hits[index].end > start]

    def near(self, hit: _Hit, window: int, tokens: _Tokens) -> list[_Hit]:
        """The hits that may be at most ``window`` tokens from ``hit``, in the order they were
        given: all of them when they are few."""
        return self._hits if self._starts is None else self.touching(*tokens.reach(hit, window))


_NO_SPANS = _Spans()


class Classifier:
    """Flags bullying, self-harm, violence, impersonation and personal-information signals.

    >>> clf = Classifier.load()
    >>> [flag.category for flag in clf.classify("nobody likes you, just kys")]
    ['bullying']
    >>> clf.classify("I'm gay and proud")
    []
    """

    def __init__(self, lexicon: Lexicon, threshold: float = 1.0,
                 thresholds: Mapping[str, float] | None = None,
                 age_band_thresholds: Mapping[str, Mapping[str, float]] | None = None,
                 phone_region: str = "US", suppressions: Iterable[Suppression] = ()) -> None:
        for value in [threshold, *(thresholds or {}).values(),
                      *(v for band in (age_band_thresholds or {}).values() for v in band.values())]:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"threshold must be a finite number > 0, not {value!r}")
        for category in [*(thresholds or {}), *(c for b in (age_band_thresholds or {}).values() for c in b)]:
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {category!r} in thresholds; known: {', '.join(CATEGORIES)}")
        self._lexicon = lexicon
        self._threshold = float(threshold)
        self._thresholds = {c: float((thresholds or {}).get(c, threshold)) for c in CATEGORIES}
        self._age_bands = {band: {c: float(v) for c, v in values.items()}
                           for band, values in (age_band_thresholds or {}).items()}
        self._phone_region = phone_region
        self._roster: frozenset[str] = frozenset()
        self._last_pii: tuple[str, list[pii.Span]] = ("", [])
        """The text classify() last searched for personal information whole, and what it found:
        the pipeline redacts the text it has just classified."""
        self._matcher = _matcher_for(lexicon, frozenset())
        self._suppressions: tuple[Suppression, ...] = ()
        self._suppressing: dict[tuple[str, str], tuple[tuple[str, Suppression], ...]] = {}
        self.set_suppressions(suppressions)

    @classmethod
    def load(cls, lexicon_dir: pathlib.Path | None = None, threshold: float = 1.0, *,
             thresholds: Mapping[str, float] | None = None,
             age_band_thresholds: Mapping[str, Mapping[str, float]] | None = None,
             roster: Iterable[str] = (), phone_region: str = "US",
             suppressions: Iterable[Suppression] = ()) -> Classifier:
        """Load the lexicons of ``lexicon_dir`` (None: the packaged ones); raises ``LexiconError``.

        ``threshold``: default for every category; ``thresholds``: per category;
        ``age_band_thresholds``: per age band, per category (``classify(text, age_band=)``);
        ``roster``: names of students and staff (see ``set_roster``);
        ``suppressions``: accepted suppressions (see ``set_suppressions``).
        """
        classifier = cls(load_lexicon(PACKAGED_LEXICONS if lexicon_dir is None else lexicon_dir),
                         threshold, thresholds, age_band_thresholds, phone_region, suppressions)
        classifier.set_roster(roster)
        return classifier

    def set_roster(self, names: Iterable[str]) -> bool:
        """Use these names as targets ("@name" or "Name, you ...") and in impersonation claims
        ("this is Name"). The automaton is rebuilt only when the set of names changed;
        returns whether it was."""
        roster = frozenset(name.strip() for name in names if name.strip())
        if roster == self._roster:
            return False
        self._roster = roster
        self._matcher = _matcher_for(self._lexicon, roster)
        return True

    def set_suppressions(self, suppressions: Iterable[Suppression]) -> bool:
        """From now on, a match of a suppression's phrase (same category, same normalized phrase,
        or a phrase that contains it: "you're a loser" for "loser") weighs 0 in a text that
        contains its context (normalized, on word boundaries). Replaces the previous
        suppressions; returns whether they changed. Raises ValueError for an invalid
        suppression (and then keeps the previous ones)."""
        suppressions = tuple(suppressions)
        if suppressions == self._suppressions:
            return False
        suppressing: dict[tuple[str, str], list[tuple[str, Suppression]]] = collections.defaultdict(list)
        for suppression in suppressions:
            if (found := problem(suppression)) is not None:
                raise ValueError(f"suppression {suppression!r}: {found[0]}: {found[1]}")
            phrase = normalized_key(suppression.phrase)
            keys = {entry.key for entry in self._lexicon.entries
                    if entry.category == suppression.category and f" {phrase} " in f" {entry.key} "}
            for key in sorted(keys | {phrase}):
                suppressing[(suppression.category, key)].append((normalized_key(suppression.context), suppression))
        # classify() reads _suppressing once: one running in another thread sees the old or the new set.
        self._suppressing = {key: tuple(items) for key, items in suppressing.items()}
        self._suppressions = suppressions
        return True

    @property
    def suppressions(self) -> tuple[Suppression, ...]:
        """The suppressions in use (``set_suppressions``)."""
        return self._suppressions

    @property
    def lexicon_version(self) -> str:
        """Identifies the lexicon files in use: 12 hex digits of their SHA-256."""
        return self._lexicon.version

    @property
    def lexicon(self) -> Lexicon:
        """The lexicon in use."""
        return self._lexicon

    @property
    def phone_region(self) -> str:
        """Region (ISO 3166 code) of phone numbers written without ``+``."""
        return self._phone_region

    def threshold(self, category: str, age_band: str | None = None) -> float:
        """The threshold of ``category``, for ``age_band`` when it has its own."""
        if age_band is not None and category in self._age_bands.get(age_band, {}):
            return self._age_bands[age_band][category]
        return self._thresholds[category]

    def redact(self, text: str) -> str:
        """``text`` with every character of personal information replaced by "•" (same length,
        so the offsets of every match stay exact). Never raises for a ``str``. What ``classify``
        has just found in the same text is not looked for again."""
        try:
            searched, spans = self._last_pii
            return pii.redact(text, spans if text == searched else pii.find(text, self._phone_region))
        except Exception:  # noqa: BLE001 - a library failure must not leak unredacted text
            return pii.REDACTION_CHAR * len(text)

    def classify(self, text: str, age_band: str | None = None) -> list[Flag]:
        """Flags for ``text``, most severe first, then by category; [] when nothing is flagged.

        Only the first ``MAX_TEXT_CHARS`` characters are read; a flag then says
        ``truncated``. Never raises for a ``str``, whatever it holds.
        """
        truncated = len(text) > MAX_TEXT_CHARS
        text = text[:MAX_TEXT_CHARS]
        flags = self._lexicon_flags(text, normalize(text, self._matcher.vocabulary), age_band)
        try:
            spans = pii.find(text, self._phone_region)
        except Exception:  # noqa: BLE001 - a library bug must not stop classification
            spans = []
        else:
            if not truncated:
                self._last_pii = (text, spans)
        if spans:
            flag = self._pii_flag(spans, age_band)
            if flag is not None:
                flags.append(flag)
        if truncated:
            flags = [dataclasses.replace(flag, truncated=True) for flag in flags]
        flags.sort(key=lambda flag: (-SEVERITIES.index(flag.severity), flag.category))
        return flags

    def _lexicon_flags(self, text: str, norm: Normalized, age_band: str | None) -> list[Flag]:
        """The flags of the lexicon's categories, in category order (``norm``: ``text`` normalized)."""
        signals: dict[str, list[_Hit]] = collections.defaultdict(list)
        hits = self._matcher.find(norm)
        for hit in hits:
            if hit.entry.category != CONTEXT:
                signals[hit.entry.category].append(hit)
        # Rules, quotes, suppressions and context cues (weight <= 0) only lower a score.
        reachable = sorted(category for category, found in signals.items()
                           if _most(found) >= self.threshold(category, age_band))
        if not reachable:
            return []
        markers: dict[str, list[_Hit]] = collections.defaultdict(list)
        contexts: dict[str, list[_Hit]] = collections.defaultdict(list)  # phrase -> its hits
        # A research phrase is about a topic itself: "prevention" in "suicide prevention" still is.
        statements = _Spans(hit for hit in hits if hit.entry.subcategory != "research")
        for hit in hits:
            entry = hit.entry
            if entry.category == CONTEXT:
                if entry.subcategory in MARKER_KINDS:
                    markers[entry.subcategory].append(hit)
                elif not _inside_a_phrase(hit, statements):
                    contexts[entry.phrase].append(hit)
        if "@" in norm.text:
            markers["target"] += [_Hit(m.start(), m.end(), _MENTION_ENTRY) for m in _MENTION.finditer(norm.text)]
        denials = _Spans(markers.get("negation", ()))  # every negation cue: "no es broma" denies a joke
        if denials:
            markers["negation"] = _negating(denials, _Spans(hits))
        near = {kind: _Spans(found) for kind, found in markers.items()}
        tokens = _Tokens(norm.text)
        quotes = _others_words([m.start() for m in _QUOTES.finditer(norm.text)], norm.text)
        suppressing = self._suppressing
        suppressed = _suppressed(signals, suppressing, norm.text) if suppressing else None
        flags = []
        for category in reachable:
            flag = self._score(category, signals[category], near, contexts, tokens, quotes, text, norm, age_band,
                               suppressed, denials)
            if flag is not None:
                flags.append(flag)
        return flags

    def _score(self, category: str, hits: list[_Hit], markers: dict[str, _Spans],
               contexts: dict[str, list[_Hit]], tokens: _Tokens, quotes: list[int], text: str,
               norm: Normalized, age_band: str | None,
               suppressed: dict[tuple[str, str], str] | None = None, denials: _Spans = _NO_SPANS) -> Flag | None:
        # A phrase whose target or near rule does not hold is as if absent: it hides none of
        # the phrases it overlaps ("are stupid" with no group near still leaves "stupid").
        ruled = {hit: _apply_rules(hit, markers, tokens, norm, suppressed) for hit in hits}
        # Of the rows of one phrase matched at one place, the one that weighs most after its rules.
        best: dict[tuple[int, int, str], _Hit] = {}
        for hit in hits:
            place = (hit.start, hit.end, hit.entry.phrase)
            if place not in best or ruled[hit][0] > ruled[best[place]][0]:
                best[place] = hit
        hits = list(best.values())
        kept = _resolve_overlaps([hit for hit in hits if not ruled[hit][2]], lambda hit: ruled[hit][0])
        kept_spans = _Spans(kept)
        unmet = [hit for hit in hits if ruled[hit][2] and not kept_spans.touching(hit.start, hit.end)]
        weighed: list[tuple[_Hit, float, list[str]]] = []
        for hit in sorted(kept + _resolve_overlaps(unmet), key=lambda hit: hit.start):
            weight, fired, _ = ruled[hit]
            if weight and quotes and _quoted(hit, quotes):
                weight *= QUOTED_FACTOR
                fired = [*fired, f"quoted: weight x{QUOTED_FACTOR}"]
            weighed.append((hit, weight, fired))
        by_phrase: dict[str, tuple[_Hit, float, list[str]]] = {}
        counts = collections.Counter(hit.entry.phrase for hit, _, _ in weighed)
        for item in weighed:
            phrase = item[0].entry.phrase
            if phrase not in by_phrase or abs(item[1]) > abs(by_phrase[phrase][1]):
                by_phrase[phrase] = item
        score = sum(weight for _, weight, _ in by_phrase.values())
        positive = [(hit, weight) for hit, weight, _ in by_phrase.values() if weight > 0]
        if not positive:
            return None
        stated = _Spans(hit for hit, weight, _ in weighed if weight > 0) if contexts else _NO_SPANS
        def lowers(cues: list[_Hit]) -> bool:
            """Whether a context cue (all its hits) lowers this category's score."""
            entry = cues[0].entry
            if category not in (entry.rules.only or DEFAULT_CONTEXT_CATEGORIES):
                return False
            if entry.subcategory in TOPIC_KINDS:  # a topic, about a match of its sentence
                return any(_about(cue, hit, tokens, text, norm) for cue in cues
                           for hit in stated.near(cue, TOPIC_WINDOW, tokens))
            if entry.subcategory == "joke":  # a joke, unless denied ("no es broma")
                return not all(_denied(cue, denials, tokens, norm.text) for cue in cues)
            return True

        lowering = [cues[0].entry for cues in contexts.values() if lowers(cues)]
        threshold = self.threshold(category, age_band)
        # A laugh or a joke cue lowers an act or a plan told in the first person ("I tried to
        # hang myself yesterday haha") or a threat to shoot up the school ("... lol"), but never
        # hides it: its severity drops one level. A wish to die it lowers to `low`.
        kept = [hit.entry for hit, _ in positive if _kept_at_threshold(hit.entry, lowering)] if lowering else []
        score = round(score + sum(entry.weight for entry in lowering), 6)
        held = bool(kept) and score < threshold <= sum(w for hit, w in positive if hit.entry in kept)
        if held:
            score = threshold
        if score < threshold:
            return None
        top_hit, _ = max(positive, key=lambda hw: (SEVERITIES.index(hw[0].entry.severity), hw[1]))
        severity = top_hit.entry.severity
        # A topic cue of weight 0 ("test" beside "i want to die lol") changes no score: it only
        # tells that a laugh is about something else.
        lowered = (any(entry.weight < 0 for entry in lowering)
                   or any("quoted" in rule for _, _, fired in by_phrase.values() for rule in fired))
        if lowered and severity != "low":
            severity = SEVERITIES[SEVERITIES.index(severity) - 1]
        laughed_off_wish = held and all(_a_wish(entry) for entry in kept)
        if laughed_off_wish:
            severity = "low"
        matches = []
        for hit, weight, fired in weighed:
            if weight <= 0:
                continue
            start, end = norm.original_span(hit.start, hit.end)
            e = hit.entry
            matches.append(Match(e.phrase, category, e.subcategory, e.severity, e.weight, start, end, "; ".join(fired)))
        kept_as = "a wish to die beside a laugh" if laughed_off_wish else "an act or a plan" if held else ""
        explanation = _explain(category, by_phrase, counts, lowering, lowered, severity, score, threshold, kept_as)
        return Flag(category, severity, score, threshold, tuple(matches), explanation, top_hit.entry.subcategory)

    def _pii_flag(self, spans: list[pii.Span], age_band: str | None) -> Flag | None:
        threshold = self.threshold("pii", age_band)
        kinds = collections.Counter(span.kind for span in spans)
        score = round(float(len(spans)), 6)
        if score < threshold:
            return None
        matches = tuple(Match(f"<{s.kind}>", "pii", s.kind, "medium", 1.0, s.start, s.end) for s in spans)
        found = ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in kinds.items())
        explanation = f"pii: found {found} (weight 1.0 each); score {score} >= threshold {threshold}"
        return Flag("pii", "medium", score, threshold, matches, explanation, spans[0].kind)


def _most(hits: list[_Hit]) -> float:
    """The highest score ``hits`` can make: the sum of their distinct phrases' positive weights
    (with a margin of 1e-6 for rounding and the order of the sums)."""
    weights: dict[str, float] = {}
    for hit in hits:
        weights[hit.entry.phrase] = max(weights.get(hit.entry.phrase, 0.0), hit.entry.weight)
    return sum(weights.values()) + 1e-6


def _kept_at_threshold(entry: Entry, lowering: list[Entry]) -> bool:
    """Whether the context cues ``lowering`` may lower a match's score but never below the
    threshold: an act or a plan of self-harm; a wish to die beside a laugh or a joke cue (kept
    as `low`: "i want to die lol" is said in jest every day, and meant on some of them); a
    critical threat of violence (a shooting, a bomb, a weapon brought to school), which a
    school assesses however it is laughed off; and bullying of high severity (telling someone
    to kill themselves, a threat, hate), which a banter cue ("ily", "tqm") does not excuse as
    it excuses an insult. A topic cue (news of a strike, an essay, a song) still lowers a
    threat or a wish as far as it goes."""
    if entry.category == "self_harm":
        return entry.subcategory in DISCLOSED_ACTS or (
            _a_wish(entry) and all(cue.subcategory in LAUGH_KINDS for cue in lowering))
    severe = ((entry.category == "violence" and entry.severity == "critical")
              or (entry.category == "bullying" and entry.severity in ("high", "critical")))
    return severe and all(cue.subcategory not in TOPIC_KINDS for cue in lowering)


def _a_wish(entry: Entry) -> bool:
    """Whether a match is a wish to die told in the first person: self-harm ideation of
    severity ``high`` or ``critical`` ("i want to die", "quiero morirme"), not a topic word."""
    return entry.category == "self_harm" and entry.subcategory == "ideation" and entry.severity in ("high", "critical")


_MENTION_ENTRY = Entry("@mention", "@", CONTEXT, "target", "low", 0.0, "xx", "built-in")


def _apply_rules(hit: _Hit, markers: dict[str, _Spans], tokens: _Tokens, norm: Normalized,
                 suppressed: dict[tuple[str, str], str] | None = None) -> tuple[float, list[str], bool]:
    """The match's weight after its rules, what fired, and whether a target or near rule
    does not hold."""
    if suppressed and (reason := suppressed.get((hit.entry.category, hit.entry.key))):
        return 0.0, [reason], False
    rules: Rules = hit.entry.rules
    weight = hit.entry.weight
    fired: list[str] = []
    if rules.target is not None:
        near = _nearest(hit, markers.get("target", _NO_SPANS), tokens, rules.target)
        if near is None:
            return 0.0, [f"target: none within {rules.target} tokens"], True
        fired.append(f'target: "{norm.text[near.start:near.end]}"')
    for kind, window in rules.near:
        near = _nearest(hit, markers.get(kind, _NO_SPANS), tokens, window)
        if near is None:
            return 0.0, [*fired, f"near {kind}: none within {window} tokens"], True
        fired.append(f'near {kind}: "{norm.text[near.start:near.end]}"')
    for kind, window in rules.after:
        near = _nearest(hit, markers.get(kind, _NO_SPANS), tokens, window, before=True)
        if near is None:
            return 0.0, [*fired, f"after {kind}: none within {window} tokens before"], True
        fired.append(f'after {kind}: "{norm.text[near.start:near.end]}"')
    if rules.negatable and (negation := _negation_of(hit, markers.get("negation", _NO_SPANS), markers, tokens,
                                                     norm.text)) is not None:
        return 0.0, [*fired, f'negated by "{norm.text[negation.start:negation.end]}"'], False
    return weight, fired, False


def _denied(joke: _Hit, negations: _Spans, tokens: _Tokens, text: str) -> bool:
    """Whether a joke cue is denied: a negation at most one word before it ("no es broma",
    "geen grapje", "não é brincadeira"); a joke denied lowers nothing."""
    return any(negation.end <= joke.start and tokens.distance(negation, joke) <= 1
               and _CLAUSE_PUNCTUATION.search(text, negation.end, joke.start) is None
               for negation in negations.near(joke, 1, tokens))


def _negation_of(hit: _Hit, negations: _Spans, markers: dict[str, _Spans], tokens: _Tokens,
                 text: str) -> _Hit | None:
    """Of ``negations``, the one that cancels ``hit``: at most ``NEGATION_WINDOW`` tokens before
    it, with no clause cue of the phrase's language and no clause punctuation between; or, in
    Portuguese and Dutch, right after it at the end of its clause. None when there is none.
    (Portuguese "mas", but, does not end the clause of the Spanish "nunca más me corto"; a
    negation of any language counts before a phrase, as a phrase may be a row of several.)"""
    clauses = markers.get("clause", _NO_SPANS)
    closing = _CLOSING_NEGATION.get(hit.entry.language)
    for negation in negations.near(hit, NEGATION_WINDOW, tokens):  # one right after it is adjacent
        reach = _NEGATION_REACH.get(negation.entry.language)
        if (negation.end <= hit.start and tokens.distance(negation, hit) <= NEGATION_WINDOW
                and not any(negation.end <= clause.start <= hit.start and clause.entry.language == hit.entry.language
                            for clause in clauses.touching(negation.end, hit.start + 1))
                and _CLAUSE_PUNCTUATION.search(text, negation.end, hit.start) is None
                and (reach is None or reach.issuperset(text[negation.end:hit.start].split()))):
            return negation
        if (closing is not None and negation.entry.language == hit.entry.language and hit.end < negation.start
                and text[hit.end:negation.start].isspace() and closing.match(text, negation.end)):
            return negation
    return None


_CLOSING_NEGATION = {"pt": re.compile(r"[^\S\n]*(?:[,;:.!\n]|\Z)"),
                     "nl": re.compile(r"(?:[^\S\n]+(?:meer|hoor))*[^\S\n]*(?:[,;:.!?\n]|\Z)")}
"""What may follow a Portuguese or Dutch negation that closes the clause of the phrase right
before it: "quero morrer não" (Brazilian: I don't want to die), "ik snij mezelf niet meer",
"ik vermoord je niet hoor". Followed by more words, the negation begins a new clause:
"quero morrer não aguento mais" is a wish to die. A Portuguese one before a question mark
asks: "vai se matar não?" (aren't you going to kill yourself?) is a taunt."""


_NEGATION_REACH = {"es": frozenset("me te se lo la le nos os les los las ya mas".split()),
                   "pt": frozenset("me te se o a lhe nos vos lhes os as ja mais".split())}
"""The only words a Spanish or Portuguese negation reaches past: the pronouns before a verb and
"ya"/"más" ("no me quiero morir", "nunca más quiero matarme", "não se mata"). Without a
subject to begin it, "no puedo dormir quiero morir" is a new clause no cue can see. English
and Dutch negations reach any ``NEGATION_WINDOW`` words."""


def _negating(negations: _Spans, hits: _Spans) -> list[_Hit]:
    """The negation cues that may cancel a phrase: not those inside a longer signal phrase,
    whose own words they are ("não aguento mais", "ik kan niet meer" negate nothing after them)."""
    return [negation for negation in negations if not _inside_a_phrase(negation, hits)]


def _inside_a_phrase(cue: _Hit, hits: _Spans) -> bool:
    """Whether a cue is a word of a longer signal phrase: "news" in "see me on the news
    tmrw" names no topic, "não" in "não aguento mais" negates nothing."""
    return any(hit.start <= cue.start and cue.end <= hit.end and hit.end - hit.start > cue.end - cue.start
               and hit.entry.category != CONTEXT and hit.entry.weight > 0 for hit in hits.touching(cue.start, cue.end))


def _suppressed(signals: dict[str, list[_Hit]], suppressing: dict[tuple[str, str], tuple[tuple[str, Suppression], ...]],
                text: str) -> dict[tuple[str, str], str]:
    """``(category, key)`` of each matched phrase that a suppression cancels in ``text`` (the
    normalized text), with what to say: ``suppressed by "macbeth" (review <reference>)``."""
    cancelled: dict[tuple[str, str], str] = {}
    found: dict[str, int] = {}  # context -> where it is in text, -1 when absent
    for hits in signals.values():
        for hit in hits:
            key = (hit.entry.category, hit.entry.key)
            if key in cancelled or key not in suppressing:
                continue
            for context, suppression in suppressing[key]:
                if context not in found:
                    found[context] = _find_words(text, context)
                if (at := found[context]) >= 0:
                    reference = f" (review {suppression.reference})" if suppression.reference else ""
                    cancelled[key] = f'suppressed by "{text[at:at + len(context)]}"{reference}'
                    break
    return cancelled


def _find_words(text: str, words: str) -> int:
    """Where ``words`` first occurs in ``text`` as whole words (no letter or digit right before
    or after it, where its own first or last character is one), or -1."""
    check_start, check_end = words[0].isalnum(), words[-1].isalnum()
    at = text.find(words)
    while at >= 0:
        end = at + len(words)
        if not (check_start and at > 0 and text[at - 1].isalnum()) and \
                not (check_end and end < len(text) and text[end].isalnum()):
            return at
        at = text.find(words, at + 1)
    return -1


def _nearest(hit: _Hit, candidates: _Spans, tokens: _Tokens, window: int, before: bool = False) -> _Hit | None:
    """Of ``candidates``, the first at the fewest tokens from ``hit``, at most ``window``
    (``before``: only those that end before it); None when there is none."""
    best, best_distance = None, window + 1
    for candidate in candidates.near(hit, window, tokens):
        if before and candidate.end > hit.start:
            continue
        if candidate.start < hit.end and hit.start < candidate.end and not (
                candidate.start <= hit.start and candidate.end >= hit.end) and candidate.entry.category == CONTEXT:
            distance = 0  # a cue inside the phrase ("you" in "you're stupid") is adjacent
        else:
            distance = tokens.distance(candidate, hit)
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


def _about(topic: _Hit, hit: _Hit, tokens: _Tokens, text: str, norm: Normalized) -> bool:
    """Whether a topic cue is about a match: in the same sentence of ``text``, at most
    ``TOPIC_WINDOW`` tokens from it."""
    if tokens.distance(topic, hit) > TOPIC_WINDOW:
        return False
    first, second = sorted((topic, hit))
    between_start = norm.original_span(first.start, first.end)[1]
    between_end = norm.original_span(second.start, second.end)[0]
    return _SENTENCE_END.search(text, between_start, max(between_start, between_end)) is None


# A quotation the writer labels as their own words, the way memes are written ('me: "i want
# to die"', 'me at 3am: “…”', 'yo: «…»'), is what the writer says: it is not halved. The label
# begins the text, a line or a sentence ('my mom to me: "…"' is the mother's words).
_OWN_WORDS_LABEL = re.compile(r"(?:^|[\n.!?] ?)(?:also |literally )?(?:me|myself|yo|eu|ik)(?: [\w']+){0,3} ?: ?$")


def _others_words(quotes: list[int], text: str) -> list[int]:
    """Of the quote marks at ``quotes``, those of quotations that are not the writer's own words."""
    kept: list[int] = []
    for index in range(0, len(quotes), 2):
        pair = quotes[index:index + 2]
        if not _OWN_WORDS_LABEL.search(text, max(0, pair[0] - 40), pair[0]):
            kept += pair
    return kept


def _quoted(hit: _Hit, quotes: list[int]) -> bool:
    """Inside a pair of double quotes: an odd number of quote marks before it, one after it."""
    before = bisect.bisect_left(quotes, hit.start)
    return before % 2 == 1 and before < len(quotes) and quotes[before] >= hit.end


def _overlap(a: _Hit, b: _Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _resolve_overlaps(hits: list[_Hit], weight: Callable[[_Hit], float] = lambda hit: 1.0) -> list[_Hit]:
    """Of hits that overlap, the ones that count, in text order. A hit inside a longer one
    never counts ("dying of laughter" hides "dying"), nor does one of the same words as an
    idiom ("pasen el pack de stickers" hides "pasen el pack de *"). Of hits that only partly
    overlap, the one of largest weight (either sign) counts: "ending it all" (1.0) over
    "thinking of ending it" (0.8), the negative "dying of laughter" over "i'm dying"; of equal
    weight, the more severe ("gonna kms today": the plan, not the wish); a shared word is not
    counted twice ("i hate myself" and "hate myself so much")."""
    if len(hits) < 2:
        return list(hits)
    longest = max(hit.end - hit.start for hit in hits)
    by_start = sorted(hits, key=lambda hit: hit.start)
    starts = [hit.start for hit in by_start]

    def around(hit: _Hit) -> list[_Hit]:
        """The hits that may overlap ``hit``."""
        return by_start[bisect.bisect_left(starts, hit.start - longest):bisect.bisect_left(starts, hit.end)]

    def size(hit: _Hit) -> tuple[int, int, bool]:
        return hit.end - hit.start, -hit.start, hit.entry.rules.idiom  # longer, then earlier, then an idiom

    outer = [hit for hit in by_start
             if not any(other.start <= hit.start and hit.end <= other.end and size(other) > size(hit)
                        for other in around(hit))]
    kept: set[_Hit] = set()
    for hit in sorted(outer, key=lambda hit: (-abs(weight(hit)), -SEVERITIES.index(hit.entry.severity),
                                              hit.start - hit.end, hit.start)):
        if not any(other in kept and _overlap(hit, other) for other in around(hit)):
            kept.add(hit)
    return sorted(kept, key=lambda hit: hit.start)


def _explain(category: str, by_phrase: dict, counts: collections.Counter, lowering: list[Entry],
             lowered: bool, severity: str, score: float, threshold: float, kept_as: str = "") -> str:
    """``bullying: matched "kys" (harassment, weight 1.0, high); score 1.0 >= threshold 1.0``"""
    phrases = []
    for phrase, (hit, weight, fired) in by_phrase.items():
        entry = hit.entry
        if entry.rules.idiom:
            phrases.append(f'"{phrase}" ({entry.subcategory}, idiom: hides what it contains, weight 0)')
            continue
        details = [entry.subcategory, f"weight {entry.weight}"]
        if weight != entry.weight:
            details.append(f"counted {round(weight, 6)}")
        details.append(entry.severity)
        details += fired
        if counts[phrase] > 1:
            details.append(f"{counts[phrase]} times, counted once")
        phrases.append(f'"{phrase}" ({", ".join(details)})')
    text = f"{category}: matched {', '.join(phrases)}"
    if lowering:
        text += "; context " + ", ".join(f'"{e.phrase}" ({e.subcategory}, weight {e.weight})' for e in lowering)
    if kept_as:
        text += f" ({kept_as}: context lowers it to the threshold, no further)"
    if lowered:
        text += f"; severity lowered to {severity}" if severity == "low" and kept_as.startswith("a wish") \
            else f"; severity lowered one level to {severity}"
    return f"{text}; score {score} >= threshold {threshold}"
