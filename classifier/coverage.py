"""Coverage of our lexicon against the research lexicons (``socialwatch coverage``).

``../shared/data/eval/lexicons-reference/`` holds two published research lexicons (see the
eval README). They are a *check*, not a source: this module reads them, asks the real
classifier about every term, and reports per file and construct how many terms it flags,
and which it does not, for the team to review. Nothing is ever added to our lexicons.

Each reference term is classified alone and in a few neutral carrier sentences
(``CARRIERS``); it counts as **flagged** when any of those texts is flagged in the
construct's category (``self_harm``) at the configured thresholds. A term that only
scores below the threshold (a help-seeking or research phrase weighs less than 1.0 by
design) is counted as **below threshold**: recognised by a lexicon phrase, not flagged.

Files read (the structure is the research groups'):

- ``Swaminathan_2023_lexicon.csv``: one column per construct, terms down the column;
- ``custom_auerbach_suicide_tokens_*.csv``: ``token,source,...``; grouped by ``source``;
- ``custom_lexicon_pairs_*.csv``: ``tokens,pairs``, each ``|``-separated: a token and a
  pair word together are the signal; each combination is joined into a short phrase, in
  both orders (``CARRIERS["pair"]``); each row is one construct;
- ``suicide_risk_lexicon_validated_*.csv``: one column per construct (plus empty
  ``_include``/``_add`` columns); four metadata rows (prompt name, definition, reference,
  examples), then the terms on rows numbered in the first column.

Skipped, with the reason in the output: ``celebrity_suicide_name.txt`` (a name alone is not
a self-harm signal; it is news context) and the constructs-and-definitions file (no terms).

Constructs are mapped to our self-harm sub-categories in ``SIGNALS``; the others are risk
factors (sleep, substances, loneliness, identity, ...) that the classifier is not meant
to flag alone: their flagged share is reported, their terms are not listed.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import pathlib
import sys
from collections.abc import Callable, Iterator

from .evaluate import DEFAULT_DATA_DIR, _progress
from .matcher import Classifier

DEFAULT_REFERENCE_DIR = DEFAULT_DATA_DIR / "lexicons-reference"
"""``../shared/data/eval/lexicons-reference`` beside the repository."""

CARRIERS: dict[str, tuple[str, ...]] = {
    "first_person": ("{term}", "i {term}", "i'm {term}"),
    "means": ("{term}", "i {term}", "i have {term}"),
    "exposure": ("{term}", "she {term}"),
    "pair": ("{a} {b}", "{b} {a}", "i {a} {b}", "i {b} {a}"),
}
"""Texts a term is classified in (any flagged counts). They add a first person and nothing
else: no intent ("want to"), no time, no method, so a flag comes from the term itself.
``first_person``: thoughts, feelings, acts ("i cut myself", "i'm suicidal");
``means``: a method named ("i have a rope"); ``exposure``: someone else's suicide
("she died by suicide"); ``pair``: a token ``a`` and its pair word ``b``. A term that
already starts in the first person ("I want to die", "my wrist") is classified as is."""

_FIRST_PERSON = ("i ", "i'", "i’", "im ", "my ", "me ", "myself")

SIGNAL, RISK = "signal", "risk factor"


@dataclasses.dataclass(frozen=True)
class Construct:
    name: str
    """The construct (or category, source, pair row) as the reference file names it."""
    role: str = RISK
    """``signal``: our self-harm category should flag its terms; ``risk factor``: not alone."""
    expected: frozenset[str] = frozenset()
    """Our self-harm sub-categories that match the construct; empty: any."""
    carriers: str = "first_person"
    """Key of ``CARRIERS``."""
    category: str = "self_harm"
    """Our category checked."""


SIGNALS: dict[str, Construct] = {c.name: c for c in (
    # Swaminathan et al. 2023 (youth suicide lexicon)
    Construct("Suicidal Thoughts", SIGNAL, frozenset({"ideation", "active_planning"})),
    Construct("Suicide Methods", SIGNAL, frozenset({"active_planning", "behaviour"}), "means"),
    Construct("Help-Seeking", SIGNAL, frozenset({"help_seeking"})),
    # suicide-risk construct lexicon (Apache-2.0)
    Construct("Passive suicidal ideation", SIGNAL, frozenset({"ideation"})),
    Construct("Active suicidal ideation & suicidal planning", SIGNAL, frozenset({"active_planning", "ideation"})),
    Construct("Lethal means for suicide", SIGNAL, frozenset({"active_planning", "behaviour"}), "means"),
    Construct("Direct self-injury", SIGNAL, frozenset({"behaviour"})),
    Construct("Suicide exposure", SIGNAL, frozenset({"research"}), "exposure"),
    Construct("Other suicidal language", SIGNAL),
)}
"""Constructs whose terms are self-harm signals, with our sub-categories. Any construct not
named here is a risk factor. Auerbach token sources and pair rows are signals (any sub-category)."""


@dataclasses.dataclass(frozen=True)
class Term:
    label: str
    """The term as shown in the report (a pair as ``token + pair``)."""
    texts: tuple[str, ...]
    """What is classified: the term in its carriers."""


def _texts(term: str, carriers: str) -> tuple[str, ...]:
    term = " ".join(term.lower().split())
    if term.startswith(_FIRST_PERSON) or term == "i":
        return (term,)
    return tuple(dict.fromkeys(carrier.format(term=term) for carrier in CARRIERS[carriers]))


def _terms(construct: Construct, raw: list[str]) -> list[Term]:
    seen: dict[str, Term] = {}
    for value in raw:
        key = " ".join(value.lower().split())
        if key and key not in seen:
            seen[key] = Term(value.strip(), _texts(value, construct.carriers))
    return list(seen.values())


def _signal_or_risk(name: str) -> Construct:
    return SIGNALS.get(name.strip(), Construct(name.strip()))


def _csv(path: pathlib.Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
        return list(csv.reader(file))


Groups = Iterator[tuple[Construct, list[Term]]]


def _columns(path: pathlib.Path) -> Groups:
    """Swaminathan 2023: the header names the constructs, terms run down each column."""
    rows = _csv(path)
    for index, name in enumerate(rows[0] if rows else []):
        if name.strip():
            construct = _signal_or_risk(name)
            yield construct, _terms(construct, [row[index] for row in rows[1:] if index < len(row)])


def _validated(path: pathlib.Path) -> Groups:
    """The suicide-risk lexicon: a construct's column and its ``_include``/``_add`` columns;
    the term rows are numbered in the first column (the rows above are metadata)."""
    rows = _csv(path)
    header = rows[0] if rows else []
    terms = [row for row in rows[1:] if row and row[0].strip().isdigit()]
    for index, name in enumerate(header):
        if index == 0 or not name.strip() or name.endswith(("_include", "_add")):
            continue
        construct = _signal_or_risk(name)
        yield construct, _terms(construct, [row[index] for row in terms if index < len(row)])


def _tokens(path: pathlib.Path) -> Groups:
    """Auerbach's tokens, one construct per ``source``."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
        by_source: dict[str, list[str]] = collections.defaultdict(list)
        for row in csv.DictReader(file):
            by_source[(row.get("source") or "").strip() or "(no source)"].append(row.get("token") or "")
    for source, tokens in by_source.items():
        construct = Construct(f"source {source}", SIGNAL)
        yield construct, _terms(construct, tokens)


def _pairs(path: pathlib.Path) -> Groups:
    """Co-occurrence pairs: every token with every pair word of its row, joined both ways."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
        for row in csv.DictReader(file):
            tokens = [t.strip().lower() for t in (row.get("tokens") or "").split("|") if t.strip()]
            pairs = [p.strip().lower() for p in (row.get("pairs") or "").split("|") if p.strip()]
            if not tokens or not pairs:
                continue
            more = "|…" if len(tokens) > 1 else ""
            construct = Construct(f"{tokens[0]}{more} + {pairs[0]}{'|…' if len(pairs) > 1 else ''}", SIGNAL,
                                  carriers="pair")
            terms = {}
            for a in tokens:
                for b in pairs:
                    texts = tuple(dict.fromkeys(c.format(a=a, b=b) for c in CARRIERS["pair"]))
                    terms.setdefault(f"{a} + {b}", Term(f"{a} + {b}", texts))
            yield construct, list(terms.values())


@dataclasses.dataclass(frozen=True)
class Reference:
    pattern: str
    """File name (glob) searched for under the reference directory."""
    read: Callable[[pathlib.Path], Groups] | None
    """Yields ``(construct, terms)``; None: the file is skipped."""
    skipped: str = ""
    """Why a skipped file is skipped."""


REFERENCES = (
    Reference("Swaminathan_2023_lexicon.csv", _columns),
    Reference("custom_auerbach_suicide_tokens_*.csv", _tokens),
    Reference("custom_lexicon_pairs_*.csv", _pairs),
    Reference("suicide_risk_lexicon_validated_*.csv", _validated),
    Reference("celebrity_suicide_name*.txt", None,
              "names of people who died by suicide: news context, not a self-harm signal alone"),
    Reference("suicide_risk_constructs_and_definitions*.csv", None,
              "construct definitions and examples, no term list"),
)


@dataclasses.dataclass
class Coverage:
    file: str
    """The reference file, relative to the reference directory."""
    construct: Construct
    terms: int = 0
    """Distinct terms (pair combinations) of the construct."""
    flagged: int = 0
    """Terms flagged in the construct's category in at least one carrier."""
    as_expected: int = 0
    """Flagged terms whose flag's sub-category is one the construct expects (any when none)."""
    below_threshold: int = 0
    """Terms not flagged, but matched by a lexicon phrase of the category (score > 0)."""
    uncovered: list[tuple[str, bool]] = dataclasses.field(default_factory=list)
    """Terms not flagged, in file order, with whether they scored below threshold."""

    @property
    def share(self) -> float:
        return self.flagged / self.terms if self.terms else 0.0


class CoverageError(Exception):
    """The reference directory is missing or holds no reference lexicon."""


def _recogniser(classifier: Classifier) -> Classifier:
    """The same lexicon with thresholds just above 0: it shows what scores at all."""
    return Classifier(classifier.lexicon, threshold=1e-6, phone_region=classifier.phone_region)


def measure(classifier: Classifier, reference_dir: str | pathlib.Path | None = None,
            progress: bool = False) -> tuple[list[Coverage], list[tuple[str, str]]]:
    """Coverage per file and construct, and the skipped files with the reason.

    Raises ``CoverageError`` when the directory does not exist or holds no reference file.
    """
    root = pathlib.Path(reference_dir) if reference_dir else DEFAULT_REFERENCE_DIR
    if not root.is_dir():
        raise CoverageError(f"{root}: reference lexicon directory not found")
    results: list[Coverage] = []
    skipped: list[tuple[str, str]] = []
    recogniser = _recogniser(classifier)
    for reference in REFERENCES:
        for path in sorted(root.rglob(reference.pattern)):
            name = str(path.relative_to(root))
            if reference.read is None:
                skipped.append((name, reference.skipped))
                continue
            for construct, terms in reference.read(path):
                if terms:
                    results.append(_cover(classifier, recogniser, name, construct, terms, progress))
    if not results and not skipped:
        raise CoverageError(f"{root}: no reference lexicon found "
                            f"(looked for {', '.join(r.pattern for r in REFERENCES)})")
    return results, skipped


def _cover(classifier: Classifier, recogniser: Classifier, file: str, construct: Construct,
           terms: list[Term], progress: bool) -> Coverage:
    result = Coverage(file, construct, terms=len(terms))
    category = construct.category
    for term in _progress(terms, f"{pathlib.Path(file).name}: {construct.name}"[:60], progress):
        subcategory = None
        recognised = False
        for text in term.texts:
            # The recogniser finds every text the classifier could flag; most terms stop here.
            if not any(f.category == category for f in recogniser.classify(text)):
                continue
            recognised = True
            flags = [f for f in classifier.classify(text) if f.category == category]
            if flags:
                subcategory = flags[0].subcategory
                if not construct.expected or subcategory in construct.expected:
                    break
        if subcategory is not None:
            result.flagged += 1
            result.as_expected += not construct.expected or subcategory in construct.expected
        else:
            result.below_threshold += recognised
            result.uncovered.append((term.label, recognised))
    return result


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def table(results: list[Coverage]) -> str:
    """Markdown table, one row per file and construct, then a total per file and role."""
    lines = ["| file | construct | role | expected | terms | flagged | coverage | as expected | below threshold |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.construct
        expected = ", ".join(sorted(c.expected)) or ("any" if c.role == SIGNAL else "—")
        lines.append(f"| {r.file} | {c.name} | {c.role} | {expected} | {r.terms} | {r.flagged} | "
                     f"{_pct(r.flagged, r.terms)} | {r.as_expected} | {r.below_threshold} |")
    totals: dict[tuple[str, str], list[int]] = {}
    for r in results:
        t = totals.setdefault((r.file, r.construct.role), [0, 0, 0, 0])
        for i, value in enumerate((r.terms, r.flagged, r.as_expected, r.below_threshold)):
            t[i] += value
    for (file, role), (terms, flagged, as_expected, below) in totals.items():
        lines.append(f"| {file} | **all {role}** | {role} | | {terms} | {flagged} | {_pct(flagged, terms)} | "
                     f"{as_expected} | {below} |")
    return "\n".join(lines)


def uncovered(results: list[Coverage], limit: int = 10) -> str:
    """The terms of signal constructs not flagged, at most ``limit`` per construct (all when < 0);
    ``(below threshold)`` marks a term a lexicon phrase matched without reaching the threshold."""
    out = []
    for r in results:
        if r.construct.role != SIGNAL or not r.uncovered:
            continue
        shown = r.uncovered if limit < 0 else r.uncovered[:limit]
        out.append(f"## {r.file}: {r.construct.name} ({len(r.uncovered)} not flagged)")
        out += [f"- {label}{' (below threshold)' if below else ''}" for label, below in shown]
        if len(shown) < len(r.uncovered):
            out.append(f"- … {len(r.uncovered) - len(shown)} more (--uncovered -1 lists all)")
    return "\n".join(out)


def main(classifier: Classifier, reference_dir: str | pathlib.Path | None = None, limit: int = 10,
         out=None) -> int:
    """``socialwatch coverage``: the table, the skipped files, then the uncovered terms."""
    out = out or sys.stdout
    try:
        results, skipped = measure(classifier, reference_dir, progress=sys.stderr.isatty())
    except CoverageError as e:
        print(f"socialwatch coverage: {e}", file=sys.stderr)
        return 1
    print(f"lexicon {classifier.lexicon_version}, {len(classifier.lexicon.entries)} rows; "
          f"a term counts when flagged alone or in a carrier ({', '.join(CARRIERS['first_person'])}, ...)\n",
          file=out)
    print(table(results), file=out)
    for file, reason in skipped:
        print(f"\nskipped {file}: {reason}", file=out)
    if limit:
        print("\n# Terms of signal constructs not flagged (for review; never added automatically)\n", file=out)
        print(uncovered(results, limit), file=out)
    return 0
