"""Measure the classifier on the public development sets (``socialwatch eval``).

Each set of ``../shared/data/eval/`` (see its README) is read by a small loader
into ``(text, label)`` pairs and classified; the figures are:

- ``binary`` sets: precision, recall, F1 and false-positive rate of "the category
  is flagged" (any severity) against the set's label;
- ``negatives``: the share of texts of a harmless class flagged (Davidson "neither");
- ``stress``: the share of label-0 texts flagged at ``high`` or ``critical`` severity
  (the "suicidal" tweets), and of label-2 texts flagged at all;
- ``positives``: the share of an all-positive set flagged (recall only);
- ``pii``: span precision and recall per kind (a found span is right when it overlaps
  a gold span of the same kind).

The sets are read, never copied: nothing from them ends up in the project. One set is the
project's own: ``school_posts.csv`` beside this module (``PACKAGED_SETS``), posts written as
students write them, labelled with the categories a counselor would want flagged, and
look-alikes; it was written without looking at the lexicons (see
docs/classifier-evaluation.md). Its ``dev`` half may be read to find gaps; its ``test`` half,
never read to write phrases, is what is measured, per category, with recall per language.
``school_posts_2.csv``, by another writer in the style of chat apps, is all ``test``, as are
``school_posts_4.csv`` (older students, longer posts, code-switching) and ``evasive_posts.csv``
(posts typed to get past a filter or for style: broken-up words, fancy fonts, algospeak).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import json
import pathlib
import sys
from collections.abc import Callable, Iterator

from . import pii
from .flags import SEVERITIES
from .matcher import Classifier

csv.field_size_limit(10_000_000)

DEFAULT_DATA_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "eval"
"""``../shared/data/eval`` beside the repository."""

PACKAGED_SETS = pathlib.Path(__file__).with_name("evaluation")
"""The project's own evaluation sets, shipped with the package."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    """Short name used in the table."""
    path: str
    """File (or glob) relative to the data directory."""
    category: str
    """The classifier category measured (``ANY_CATEGORY``: a flag of any category counts)."""
    kind: str
    """``binary``, ``negatives``, ``stress``, ``positives`` or ``pii``."""
    read: Callable[[pathlib.Path], Iterator[tuple[str, int] | tuple[str, int, str]]]
    """Yields ``(text, label)``, or ``(text, label, group)`` for recall per group (a language);
    for ``pii``, ``(json_record, 0)``."""
    target: str = ""
    """The target from the issue, for the table."""
    packaged: bool = False
    """Read from ``PACKAGED_SETS`` rather than the data directory."""

    def root(self, data_dir: pathlib.Path) -> pathlib.Path:
        return PACKAGED_SETS if self.packaged else data_dir


def _rows(path: pathlib.Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        yield from csv.DictReader(file)


def _wang(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield row["tweet_text"], int(row["cyberbullying_type"] != "not_cyberbullying")


def _kaggle_text(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    try:  # the comments are Python-escaped: "\xa0", "\n", and UTF-8 bytes such as "\xc2\xa0"
        text = codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeDecodeError, UnicodeEncodeError, ValueError):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return text


def _kaggle(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield _kaggle_text(row["Comment"]), int(row["Insult"])


def _davidson_neither(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        if row["class"] == "2":
            yield row["tweet"], 0


def _sdcnl(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield f"{row['title']}\n{row['selftext']}", int(float(row["is_suicide"]))


def _intention(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield row["tweet"], int(row["intention"])


def _ideation_1787(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield row["Text"], int(row["Sem"])


def _feix(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for part in sorted(path.parent.glob(path.name)):
        for row in _rows(part):
            if row.get("label", "").strip() in {"0", "1", "2"}:
                yield row["tweet"], int(row["label"])


def _nazario(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for row in _rows(path):
        yield f"{row['subject']}\n{row['body']}", 1


def _presidio(path: pathlib.Path) -> Iterator[tuple[str, int]]:
    for record in json.loads(path.read_text(encoding="utf-8")):
        yield json.dumps(record), 0


SCHOOL_POST_CATEGORIES = ("bullying", "self_harm", "violence", "impersonation", "pii")

ANY_CATEGORY = "any"
"""A set's category when a flag of any category counts (ordinary posts: none should flag)."""


def _school_posts(category: str, path: pathlib.Path, split: str = "test") -> Iterator[tuple[str, int, str]]:
    """The posts of one half (``split``: ``dev`` is for finding gaps, ``test`` for measuring);
    positive when ``category`` is one of its labels. Negatives are the look-alikes, ordinary
    posts and the posts of other categories."""
    for row in _rows(path):
        if row["split"] == split:
            yield row["text"], int(category in row["labels"].split()), row["language"]


def _ordinary_posts(path: pathlib.Path, split: str = "test") -> Iterator[tuple[str, int]]:
    """Everyday posts of one half (``dev`` is for finding false alarms, ``test`` for measuring
    them), none a signal of anything."""
    for row in _rows(path):
        if row["split"] == split:
            yield row["text"], 0


DATASETS = (
    Dataset("wang2020", "bullying/wang2020_cyberbullying_valid.csv", "bullying", "binary", _wang, "F1 >= 0.80"),
    Dataset("kaggle_insults", "bullying/kaggle_insults_train.csv", "bullying", "binary", _kaggle, "F1 >= 0.65"),
    Dataset("davidson_neither", "bullying/davidson2017_labeled.csv", "bullying", "negatives", _davidson_neither,
            "flag rate <= 2%"),
    Dataset("sdcnl", "selfharm/sdcnl_reddit_train.csv", "self_harm", "binary", _sdcnl, "F1 >= 0.72"),
    Dataset("twitter_intention", "selfharm/twitter_suicidal_intention.csv", "self_harm", "binary", _intention,
            "F1 >= 0.80"),
    Dataset("ideation_1787", "selfharm/suicide_ideation_twitter_1787.csv", "self_harm", "binary", _ideation_1787,
            "F1 >= 0.80"),
    Dataset("feix_suicidal", "selfharm/feix_suicidal_tweets/data_*.csv", "self_harm", "stress", _feix,
            "label 0 at high+ <= 5%"),
    Dataset("nazario_phishing", "impersonation/nazario_phishing.csv", "impersonation", "positives", _nazario),
    Dataset("presidio_pii", "pii/presidio_synth_dev.json", "pii", "pii", _presidio, "P and R >= 0.90"),
    *(Dataset(f"{name}_{category}", f"{name}.csv", category, "binary",
              functools.partial(_school_posts, category), packaged=True)
      for name in ("school_posts", "school_posts_2", "school_posts_3", "school_posts_4", "evasive_posts")
      for category in SCHOOL_POST_CATEGORIES),
    Dataset("ordinary_posts", "ordinary_posts.csv", ANY_CATEGORY, "negatives", _ordinary_posts, packaged=True),
)

PII_TYPES = {"phone": "PHONE_NUMBER", "email": "EMAIL_ADDRESS", "address": "STREET_ADDRESS"}


@dataclasses.dataclass
class Result:
    dataset: Dataset
    rows: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    extra: dict[str, float] = dataclasses.field(default_factory=dict)
    misses: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    false_alarms: list[tuple[float, str]] = dataclasses.field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)

    @property
    def fpr(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None


def _progress(iterable, description: str, show: bool):
    if not show:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; degrade to no bar
        return iterable
    return tqdm(iterable, desc=description, unit=" texts", file=sys.stderr, leave=False)


def evaluate(classifier: Classifier, dataset: Dataset, data_dir: pathlib.Path, limit: int | None = None,
             examples: int = 5, progress: bool = False) -> Result:
    """Classify every text of ``dataset`` and count."""
    result = Result(dataset)
    path = dataset.root(data_dir) / dataset.path
    rows = dataset.read(path)
    if dataset.kind == "pii":
        return _evaluate_pii(classifier, result, rows, limit, progress)
    stress_high = stress_zero = label2 = label2_flagged = 0
    by_group: dict[str, list[int]] = {}  # group -> [positives, flagged]
    for index, (text, label, *group) in enumerate(_progress(rows, dataset.name, progress)):
        if limit is not None and index >= limit:
            break
        result.rows += 1
        flags = [f for f in classifier.classify(text) if dataset.category in (f.category, ANY_CATEGORY)]
        flagged = bool(flags)
        if group and label:
            counts = by_group.setdefault(group[0], [0, 0])
            counts[0] += 1
            counts[1] += flagged
        score = flags[0].score if flags else 0.0
        if dataset.kind == "stress":
            if label == 0:
                stress_zero += 1
                if flags and SEVERITIES.index(flags[0].severity) >= SEVERITIES.index("high"):
                    stress_high += 1
                    result.false_alarms.append((score, text))
            elif label == 2:
                label2 += 1
                label2_flagged += flagged
                if not flagged:
                    result.misses.append((score, text))
            label = int(label > 0)
        if label and flagged:
            result.tp += 1
        elif label:
            result.fn += 1
            result.misses.append((score, text))
        elif flagged:
            result.fp += 1
            result.false_alarms.append((score, text))
        else:
            result.tn += 1
    if dataset.kind == "stress":
        result.extra["label0_high_rate"] = stress_high / stress_zero if stress_zero else 0.0
        result.extra["label2_recall"] = label2_flagged / label2 if label2 else 0.0
    if dataset.kind == "negatives":
        result.extra["flag_rate"] = result.fp / result.rows if result.rows else 0.0
    for group, (positives, found) in sorted(by_group.items()):
        result.extra[f"recall {group}"] = found / positives
    result.false_alarms = sorted(result.false_alarms, key=lambda x: -x[0])[:examples]
    result.misses = result.misses[:examples]
    return result


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _evaluate_pii(classifier: Classifier, result: Result, rows, limit: int | None, progress: bool) -> Result:
    counts = {kind: {"tp_found": 0, "found": 0, "gold_hit": 0, "gold": 0} for kind in PII_TYPES}
    for index, (raw, _) in enumerate(_progress(rows, result.dataset.name, progress)):
        if limit is not None and index >= limit:
            break
        record = json.loads(raw)
        text = record["full_text"]
        result.rows += 1
        found = pii.find(text, classifier.phone_region)
        for kind, gold_type in PII_TYPES.items():
            gold = [(s["start_position"], s["end_position"]) for s in record["spans"]
                    if s["entity_type"] == gold_type]
            mine = [(s.start, s.end) for s in found if s.kind == kind]
            c = counts[kind]
            c["gold"] += len(gold)
            c["found"] += len(mine)
            c["tp_found"] += sum(any(_overlaps(m, g) for g in gold) for m in mine)
            c["gold_hit"] += sum(any(_overlaps(g, m) for m in mine) for g in gold)
            for m in mine:
                if not any(_overlaps(m, g) for g in gold):
                    result.false_alarms.append((0.0, f"[{kind}] {text[m[0]:m[1]]!r} in: {text}"))
            for g in gold:
                if not any(_overlaps(g, m) for m in mine):
                    result.misses.append((0.0, f"[{kind}] {text[g[0]:g[1]]!r}"))
    for kind, c in counts.items():
        result.extra[f"{kind}_precision"] = c["tp_found"] / c["found"] if c["found"] else 0.0
        result.extra[f"{kind}_recall"] = c["gold_hit"] / c["gold"] if c["gold"] else 0.0
        result.extra[f"{kind}_gold"] = c["gold"]
    result.misses = result.misses[:8]
    result.false_alarms = result.false_alarms[:8]
    return result


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def table(results: list[Result]) -> str:
    """The results as a Markdown table, one row per set (per kind for ``pii``)."""
    lines = ["| set | category | texts | precision | recall | F1 | FP rate | other | target |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        d = r.dataset
        if d.kind == "pii":
            for kind in PII_TYPES:
                p, rec = r.extra[f"{kind}_precision"], r.extra[f"{kind}_recall"]
                f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
                lines.append(f"| {d.name} ({kind}, {int(r.extra[f'{kind}_gold'])} spans) | pii | {r.rows} | "
                             f"{p:.3f} | {rec:.3f} | {f1:.3f} | — | span overlap | {d.target} |")
            continue
        other = ""
        if d.kind == "negatives":
            other = f"flag rate {r.extra['flag_rate']:.2%}"
        elif d.kind == "stress":
            other = (f"label 0 flagged high+ {r.extra['label0_high_rate']:.2%}; "
                     f"label 2 flagged {r.extra['label2_recall']:.2%}")
        elif d.kind == "positives":
            other = f"flagged {r.recall or 0:.2%} (all positive)"
        elif groups := [(name.removeprefix("recall "), value) for name, value in r.extra.items()
                        if name.startswith("recall ")]:
            other = "recall " + ", ".join(f"{group} {value:.2f}" for group, value in groups)
        show_pr = d.kind in {"binary", "stress"}
        lines.append(f"| {d.name} | {d.category} | {r.rows} | {_pct(r.precision) if show_pr else '—'} | "
                     f"{_pct(r.recall) if d.kind != 'negatives' else '—'} | {_pct(r.f1) if show_pr else '—'} | "
                     f"{_pct(r.fpr) if d.kind != 'positives' else '—'} | {other} | {d.target} |")
    return "\n".join(lines)


def examples(results: list[Result], width: int = 160) -> str:
    """The worst misses and false positives of each set, one per line, shortened."""
    out = []
    for r in results:
        def short(text: str) -> str:
            flat = " ".join(text.split())
            return flat if len(flat) <= width else flat[: width - 1] + "…"
        out.append(f"## {r.dataset.name}")
        out += [f"- missed: {short(t)}" for _, t in r.misses]
        out += [f"- false positive (score {s}): {short(t)}" for s, t in r.false_alarms]
    return "\n".join(out)


def main(classifier: Classifier, data_dir: str | pathlib.Path | None = None, names: list[str] | None = None,
         limit: int | None = None, example_count: int = 5, out=None) -> int:
    """``socialwatch eval``: print the table, then the examples. Returns the exit status."""
    out = out or sys.stdout
    data = pathlib.Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    known = {d.name: d for d in DATASETS}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        print(f"socialwatch eval: unknown set {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    chosen = [known[name] for name in names] if names else list(DATASETS)
    results = []
    for dataset in chosen:
        path = dataset.root(data) / dataset.path
        if not list(path.parent.glob(path.name)):
            print(f"socialwatch eval: {dataset.name}: {path} not found, skipped", file=sys.stderr)
            continue
        results.append(evaluate(classifier, dataset, data, limit, example_count, progress=sys.stderr.isatty()))
    if not results:
        print(f"socialwatch eval: no evaluation set found in {data}", file=sys.stderr)
        return 1
    print(f"lexicon {classifier.lexicon_version}, {len(classifier.lexicon.entries)} rows\n", file=out)
    print(table(results), file=out)
    print("\n# Worst misses and false positives\n", file=out)
    print(examples(results), file=out)
    return 0
