"""Lexicons: the team's phrase tables, loaded and checked before any text is classified.

A lexicon directory holds one CSV file per language (``en.csv``, ``es.csv``, ...)
and ``identity_terms.txt``. Each CSV row is one phrase::

    phrase,category,subcategory,severity,weight,language,rules
    kill yourself,bullying,harassment,high,1.0,en,
    stupid,bullying,targeted_insult,medium,0.6,en,target=3
    not,context,negation,low,0,en,

A phrase may hold groups of alternatives, ``everyone {is laughing|laughs} at you``: the
row stands for each phrase its groups make (at most ``MAX_ALTERNATIVES``), with the same
columns; alternatives that normalize alike are one phrase.

``rules`` is empty or space-separated rules, see ``parse_rules``. Rows of category
``context`` are cues, not signals: negation, targets, hyperbole, homework, ...

``identity_terms.txt`` lists identity terms (``gay``, ``trans``, ``muslim``, ...),
one per line, ``#`` starts a comment line. A phrase that normalizes to exactly an
identity term (ignoring punctuation at its ends: ``#trans!``) is refused: an identity
term alone must never raise a flag.

Any problem raises ``LexiconError`` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import math
import pathlib
import re
from collections.abc import Iterator

from .flags import SEVERITIES
from .normalize import normalize

CATEGORIES: dict[str, frozenset[str]] = {
    "bullying": frozenset({"targeted_insult", "threat", "exclusion", "hazing", "harassment",
                           "sexual_harassment", "hate"}),
    "self_harm": frozenset({"research", "ideation", "help_seeking", "behaviour", "active_planning"}),
    "violence": frozenset({"threat", "weapon", "planning"}),
    "impersonation": frozenset({"claims_identity", "fake_account", "official_claim"}),
    "pii": frozenset({"phone", "email", "address", "birthday", "school"}),
}
"""Flag categories and, for each, its subcategories (documented in docs/classifier.md)."""

CONTEXT = "context"
"""The category of cue rows: they never raise a flag, they qualify the matches around them."""

MARKER_KINDS = frozenset({"negation", "clause", "target", "method", "height", "time", "self", "group", "school",
                          "address", "weapon", "grievance", "quantity", "peer"})
"""Marker cues: weight 0, referred to by rules. ``group`` cues (plural names of groups of
people, which may be identity terms) exist only for ``near=group:N``: they never flag.
``address`` cues ("you're a", "you are so", "your a") say a word of a person to their face.
``height`` cues (a balcony, a roof, a bridge) are places to fall from, for "tried to jump off".
``weapon`` cues (a gun and its slang, a knife, a bomb) make a threat of violence: "bringing"
near a weapon and the school. ``grievance`` cues (a wrong done to the writer: "laughed at me",
"se burlaron de mí") make a promise of revenge a threat: "everyone who laughed at me will pay".
``quantity`` cues (a number from 10 to 99, "a bunch of", "veinte") make taking pills an
overdose: "took like 30 tylenol", not "took 2 advil". ``peer`` cues (a friend, a sister, a
classmate; "told me", "texted me") make what is said of a third person a report of someone the
writer knows: "my friend told me she wants to kill herself"."""

FILLER = "filler"
"""Cue kind of words a writer slips into a phrase ("i *just* want to *fucking* die"): the
matcher also looks for every phrase of the same language with one of them between two of
its words. Fillers weigh 0 and are never matched on their own."""

TOPIC_KINDS = frozenset({"homework", "news", "lyrics", "game", "pastime"})
"""Context cues that name what a sentence is about (an essay, an article, a song, a video game
or a toy, a pastime such as hunting or baking): each lowers only the matches of its own
sentence within ``TOPIC_WINDOW`` tokens. "this song reminds me of him. i want to die" is a
statement beside a song, not a lyric."""

TOPIC_WINDOW = 10

CONTEXT_KINDS = MARKER_KINDS | TOPIC_KINDS | {FILLER, "hyperbole", "joke"}
"""Cue kinds: the markers, fillers, and contexts whose (negative) weight is added to the score
of each category matched: topics near the match, hyperbole and jokes anywhere in the text (a
laugh sets the tone of the whole post)."""

SLOT = re.compile(r"(?<![^\W_]|\*)\*(?![^\W_]|\*)")
"""A ``*`` standing alone in a phrase (not inside a word, as in "sl*t" or "n****r"): one word there, a
name or a pronoun ("everyone unfollow *", "anti * page", "nodig * niet uit"), between spaces."""

COLUMNS = ("phrase", "category", "subcategory", "severity", "weight", "language", "rules")
"""The header every lexicon CSV file starts with."""

IDENTITY_TERMS_FILE = "identity_terms.txt"

MAX_ALTERNATIVES = 256
"""At most this many phrases from one row's ``{a|b}`` groups."""

_LANGUAGE = re.compile(r"[a-z]{2,3}")


class LexiconError(ValueError):
    """A lexicon file that cannot be used, with where and why."""

    def __init__(self, file: pathlib.Path, line: int | None, field: str, reason: str) -> None:
        self.file = file
        """The file (or directory) at fault."""
        self.line = line
        """1-based line number in ``file``; None when the fault is not on one line."""
        self.field = field
        """The column or part at fault, e.g. ``weight`` or ``header``."""
        self.reason = reason
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"{where}: {field}: {reason}")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    phrase: str
    """The phrase as written in the lexicon (surrounding whitespace removed)."""
    key: str
    """The normalized phrase: what the matcher looks for in normalized text."""
    category: str
    """One of CATEGORIES."""
    subcategory: str
    """One of the category's subcategories."""
    severity: str
    """One of SEVERITIES."""
    weight: float
    """What one match adds to its category's score (finite, not 0; negative lowers it).
    For context cues: 0 for markers, <= 0 for the others."""
    language: str
    """Lowercase ISO 639 code, e.g. ``en``."""
    source: str
    """Where the entry is defined, ``file:line``."""
    rules: Rules = dataclasses.field(default_factory=lambda: Rules())
    """The parsed ``rules`` column."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rules:
    """When a match counts. Every rule is optional; an empty ``rules`` column means always."""

    negatable: bool = False
    """``negatable``: a negation cue ending at most ``NEGATION_WINDOW`` tokens before the
    match cancels it ("not going to kill myself"), as does a Portuguese or Dutch one right
    after it that closes the clause ("quero morrer não", "ik snij mezelf niet")."""
    target: int | None = None
    """``target=N``: counts only with a target (second person, an @mention, a roster name)
    within N tokens before or after it ("you're so stupid" but not "stupid test")."""
    near: tuple[tuple[str, int], ...] = ()
    """``near=KIND:N`` (repeatable): counts only with a context cue of KIND within N tokens;
    all of them must hold ("pills" near a time such as "tonight")."""
    after: tuple[tuple[str, int], ...] = ()
    """``after=KIND:N`` (repeatable): counts only after a context cue of KIND, with at most N
    tokens between ("you're a real *dick*", but not "*trash* when you're sober")."""
    only: tuple[str, ...] = ()
    """``only=CAT+CAT`` on a context cue that lowers a score: the categories it lowers (default: all but
    ``pii`` and ``impersonation``)."""
    idiom: bool = False
    """``idiom`` (weight 0): an everyday phrase containing a listed one ("burn myself cooking"
    contains "burn myself"). It hides the phrases it contains and weighs nothing itself, so
    it never cancels another signal in the same text, as a negative weight would."""
    name: bool = False
    """``name``, on a phrase with a slot: the slot holds a name (a word of a roster name, an
    @mention) or a third-person pronoun, not any word: with Jake on the roster, "everyone
    hates *" is "everyone hates jake", not "everyone hates mondays"."""

    def describe(self) -> str:
        parts = ["negatable"] if self.negatable else []
        if self.idiom:
            parts.append("idiom")
        if self.name:
            parts.append("name")
        if self.target is not None:
            parts.append(f"target={self.target}")
        parts += [f"near={kind}:{n}" for kind, n in self.near]
        parts += [f"after={kind}:{n}" for kind, n in self.after]
        if self.only:
            parts.append("only=" + "+".join(self.only))
        return " ".join(parts)


NEGATION_WINDOW = 3
"""Tokens between a negation cue and the phrase it cancels, at most."""


def parse_rules(text: str) -> Rules:
    """``"negatable target=3 near=time:8"`` -> Rules; raises ValueError naming the bad rule."""
    negatable, target, near, after, only, idiom, slot_name = False, None, [], [], (), False, False
    for rule in text.split():
        name, _, value = rule.partition("=")
        if name == "negatable" and not value:
            negatable = True
        elif name == "idiom" and not value:
            idiom = True
        elif name == "name" and not value:
            slot_name = True
        elif name == "target" and value.isdigit() and 0 < int(value) <= 50:
            target = int(value)
        elif name in ("near", "after") and ":" in value:
            kind, _, n = value.partition(":")
            if kind not in MARKER_KINDS or not n.isdigit() or not 0 <= int(n) <= 50:
                raise ValueError(f"{rule!r}: expected {name}=KIND:N with KIND one of "
                                 f"{', '.join(sorted(MARKER_KINDS))} and 0 <= N <= 50")
            (near if name == "near" else after).append((kind, int(n)))
        elif name == "only" and value and set(value.split("+")) <= set(CATEGORIES):
            only = tuple(value.split("+"))
        else:
            raise ValueError(f"unknown rule {rule!r}; known: negatable, idiom, name, target=N, near=KIND:N, "
                             "after=KIND:N, only=CAT+CAT")
    return Rules(negatable, target, tuple(near), tuple(after), only, idiom, slot_name)


@dataclasses.dataclass(frozen=True, slots=True)
class Lexicon:
    entries: tuple[Entry, ...]
    """Every phrase of every CSV file, in file then line order."""
    identity_terms: frozenset[str]
    """Identity terms, normalized, without punctuation at their ends; no entry is one of them."""
    version: str
    """First 12 hex digits of the SHA-256 of the lexicon files (names and contents)."""


def load_lexicon(directory: pathlib.Path) -> Lexicon:
    """Load and check every ``*.csv`` file of ``directory`` and its identity terms."""
    csv_paths = sorted(directory.glob("*.csv"))
    if not csv_paths:
        raise LexiconError(directory, None, "files", "no *.csv lexicon file")
    identity_path = directory / IDENTITY_TERMS_FILE
    # Read once: the version then describes exactly the text that was checked.
    texts = {path: _read_text(path) for path in [*csv_paths, identity_path]}
    identity_terms = _parse_identity_terms(identity_path, texts[identity_path])
    entries: list[Entry] = []
    defined_at: dict[tuple[str, str, str, str, Rules], str] = {}
    for path in csv_paths:
        for line, row in _parse_rows(path, texts[path]):
            of_row: set[str] = set()
            for phrase in _alternatives(path, line, row[0]):
                entry = _entry(path, line, [phrase, *row[1:]], identity_terms)
                if entry.key in of_row:  # two alternatives that normalize alike ("you're", "youre")
                    continue
                of_row.add(entry.key)
                # A cue may be of several kinds ("i": first person, and the start of a clause), and
                # a phrase may have several rows with different rules ("bullied"; "bullied" near a
                # school word): of those that hold, the one that weighs most counts.
                kind = entry.subcategory if entry.category == CONTEXT else ""
                same = (entry.language, entry.key, entry.category, kind, entry.rules)
                earlier = defined_at.setdefault(same, entry.source)
                if earlier != entry.source:
                    raise LexiconError(path, line, "phrase", f"{entry.phrase!r} duplicates {earlier} "
                                                             f"(language {entry.language}, category {entry.category}, "
                                                             f"rules {entry.rules.describe() or 'none'!r})")
                entries.append(entry)
    if not entries:
        raise LexiconError(directory, None, "entries", "the CSV files hold no phrase")
    return Lexicon(tuple(entries), identity_terms, _version(texts))


_GROUP = re.compile(r"\{([^{}]*)\}")


def _alternatives(path: pathlib.Path, line: int, phrase: str) -> list[str]:
    """The phrases a row's phrase stands for: each ``{a|b|c}`` group is one of its
    alternatives, ``everyone {is laughing|laughs} at you`` is two phrases."""
    phrases = [phrase]
    while _GROUP.search(phrases[0]):
        expanded = []
        for written in phrases:
            group = _GROUP.search(written)
            options = group.group(1).split("|")
            if any(not option.strip() for option in options):
                raise LexiconError(path, line, "phrase", f"{phrase!r}: an empty alternative in {group.group()!r}")
            expanded += [written[:group.start()] + option.strip() + written[group.end():] for option in options]
        if len(expanded) > MAX_ALTERNATIVES:
            raise LexiconError(path, line, "phrase", f"{phrase!r} stands for more than {MAX_ALTERNATIVES} phrases")
        phrases = expanded
    if any(char in written for written in phrases for char in "{}|"):
        raise LexiconError(path, line, "phrase", f"{phrase!r}: a brace or a bar outside a {{a|b}} group")
    return phrases


def _trim_to_alphanumeric(key: str) -> str:
    """Drop what is not a letter or digit at both ends: ``#trans!`` -> ``trans``."""
    start, end = 0, len(key)
    while start < end and not key[start].isalnum():
        start += 1
    while end > start and not key[end - 1].isalnum():
        end -= 1
    return key[start:end]


def _read_text(path: pathlib.Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LexiconError(path, None, "file", error.strerror or str(error)) from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LexiconError(path, line, "encoding", "not UTF-8") from error


def _parse_identity_terms(path: pathlib.Path, text: str) -> frozenset[str]:
    terms = set()
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        term = _trim_to_alphanumeric(normalize(raw.strip()).text)
        if not term:
            raise LexiconError(path, line, "term", f"{raw.strip()!r} has no letter or digit")
        terms.add(term)
    return frozenset(terms)


def _parse_rows(path: pathlib.Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, fields)`` for each non-blank row after the header."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
        if tuple(field.strip() for field in header) != COLUMNS:
            raise LexiconError(path, 1, "header", f"expected {','.join(COLUMNS)}")
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(COLUMNS):
                raise LexiconError(path, reader.line_num, "row", f"expected {len(COLUMNS)} fields, found {len(row)}")
            yield reader.line_num, [field.strip() for field in row]
    except csv.Error as error:
        raise LexiconError(path, reader.line_num, "row", str(error)) from error


def _entry(path: pathlib.Path, line: int, fields: list[str], identity_terms: frozenset[str]) -> Entry:
    phrase, category, subcategory, severity, weight_text, language, rules_text = fields

    def fail(field: str, reason: str) -> LexiconError:
        return LexiconError(path, line, field, reason)

    key = normalize(phrase).text.strip()
    if not key:
        raise fail("phrase", "empty phrase")
    if _trim_to_alphanumeric(key) in identity_terms and (category, subcategory) != (CONTEXT, "group"):
        raise fail("phrase", f"{phrase!r} is an identity term ({IDENTITY_TERMS_FILE}); "
                             "an identity term alone must never raise a flag")
    slots = [found.start() for found in SLOT.finditer(key)]
    if slots and (len(slots) > 1 or category == CONTEXT or not any(c.isalnum() for c in key[:slots[0]])):
        raise fail("phrase", f"{phrase!r}: a phrase of a flag category may hold one slot (*), after a word")
    if slots and (key[slots[0] - 1] != " " or key[slots[0] + 1:slots[0] + 2] not in ("", " ")):
        # Posts are normalized alike: "anti-jordan" is read as "anti jordan".
        raise fail("phrase", f"{phrase!r}: a slot (*) is a word of its own, between spaces ('anti * page')")
    known = {**CATEGORIES, CONTEXT: CONTEXT_KINDS}
    if category not in known:
        raise fail("category", f"unknown category {category!r}; known: {', '.join(sorted(known))}")
    if subcategory not in known[category]:
        raise fail("subcategory", f"unknown subcategory {subcategory!r} of {category}; "
                                  f"known: {', '.join(sorted(known[category]))}")
    if severity not in SEVERITIES:
        raise fail("severity", f"unknown severity {severity!r}; known: {', '.join(SEVERITIES)}")
    try:
        weight = float(weight_text)
    except ValueError:
        raise fail("weight", f"{weight_text!r} is not a number") from None
    if not math.isfinite(weight):
        raise fail("weight", f"{weight_text!r} must be a finite number")
    idiom = rules_text.split().count("idiom") > 0
    if category != CONTEXT and weight == 0 and not idiom:
        raise fail("weight", f"{weight_text!r}: a phrase's weight must not be 0 (but an idiom's)")
    if idiom and (category == CONTEXT or weight != 0):
        raise fail("weight", f"{weight_text!r}: an idiom hides what it contains and weighs 0, in a flag category")
    if category == CONTEXT and subcategory in MARKER_KINDS and weight != 0:
        raise fail("weight", f"{weight_text!r}: a {subcategory} cue is a marker, its weight must be 0")
    if category == CONTEXT and subcategory == FILLER and (weight != 0 or rules_text):
        raise fail("weight", f"{weight_text!r}: a filler weighs 0 and takes no rules")
    if category == CONTEXT and weight > 0:
        raise fail("weight", f"{weight_text!r}: a context cue can only lower a score (weight <= 0)")
    if not _LANGUAGE.fullmatch(language):
        raise fail("language", f"{language!r} is not a lowercase ISO 639 code such as en")
    try:
        rules = parse_rules(rules_text)
    except ValueError as error:
        raise fail("rules", str(error)) from None
    if rules.name and not slots:
        raise fail("rules", "'name' is a rule of a phrase with a slot (*)")
    return Entry(phrase, key, category, subcategory, severity, weight, language, f"{path.name}:{line}", rules)


def _version(texts: dict[pathlib.Path, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(texts):
        digest.update(f"{path.name}\0{texts[path]}\0".encode())
    return digest.hexdigest()[:12]
