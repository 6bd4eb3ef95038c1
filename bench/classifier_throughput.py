"""Classifier throughput, one run, same texts, three ways.

- full:  ``Classifier.classify(text)``: normalization + matching + rules + scoring +
         personal-information detection, on the raw text;
- raw:   pyahocorasick ``automaton.iter(text)`` with the classifier's own automaton, once, over
         the *already normalized* texts (the practical limit of any Aho-Corasick design; the
         classifier runs it a second time over a text with a filler word, without its fillers);
- regex: compiled regular expressions, alternations of the same phrases on word
         boundaries, each with an optional filler group between its words (as the matcher
         finds each phrase with one filler), ``findall`` over the same normalized texts (the
         naive alternative); ``REGEX_CHUNK`` phrases per expression, since one alternation
         of every phrase no longer compiles (177,734 phrases took over 24 GB and were killed).

Lexicon: the packaged lexicons plus a generated roster of student and staff names
(``Classifier.set_roster``: each name is a target cue and ten impersonation phrases), so
that the automaton holds a realistic number of phrases (over 5,000 by default).

Texts: the tweets of ../shared/data/eval/bullying/wang2020_cyberbullying_valid.csv when
present, else synthetic short posts. Single process, single thread: figures are per core.
The ways run in turn, over all texts, for several rounds (the machine's load then weighs on
each alike); the median round is reported. Then the full classifier's time per message,
stage by stage: normalize, personal information (``pii.find``), matching (``Matcher.find``),
rules and scoring (the lexicon's flags from normalized text, less matching), and the rest
(the full time less the four: assembling the flags, and the stages sharing the caches).

Run: .venv/bin/python bench/classifier_throughput.py [--n N] [--names N]
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import random
import re
import statistics
import time
from collections.abc import Callable

from socialwatch.classifier import Classifier, pii
from socialwatch.classifier.normalize import normalize

REPO = pathlib.Path(__file__).resolve().parent.parent
EVAL_TEXTS = REPO.parent / "shared" / "data" / "eval" / "bullying" / "wang2020_cyberbullying_valid.csv"
ROUNDS = 3

FIRST = ["Aaliyah", "Aiden", "Amara", "Ana", "Andre", "Ava", "Beatriz", "Bruno", "Camila", "Carlos", "Chloe", "Daan", "Daniel", "Diego", "Elena", "Emma", "Ethan", "Fatima", "Finn", "Gabriel", "Grace", "Hugo", "Isabela", "Jayden", "Joao", "Jordan", "Julia", "Kai", "Lars", "Layla", "Liam", "Lucas", "Luna", "Maria", "Mateo", "Maya", "Mila", "Noah", "Nora", "Oliver", "Pedro", "Priya", "Rafael", "Ruby", "Sam", "Sofia", "Thiago", "Tess", "Valentina", "Wei", "Yara", "Zoe"]
LAST = ["Alves", "Bakker", "Brown", "Carvalho", "Chen", "Costa", "Davis", "de", "Jong", "Diaz", "Fernandes", "Garcia", "Gomes", "Hernandez", "Jansen", "Johnson", "Kim", "Lopez", "Martin", "Martins", "Meyer", "Miller", "Moreno", "Nguyen", "Oliveira", "Patel", "Pereira", "Reyes", "Rivera", "Rodrigues", "Santos", "Silva", "Smit", "Smith", "Sousa", "Taylor", "Thomas", "van", "Dijk", "Visser", "Walker", "Williams", "Wilson"]


def roster(count: int) -> list[str]:
    """``count`` distinct generated names: "First Last", with "Mr."/"Ms." for some (staff)."""
    rng = random.Random(11)
    names: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        names.add(f"{rng.choice(['Mr.', 'Ms.'])} {name}" if rng.random() < 0.1 else name)
    return sorted(names)


def load_texts(limit: int | None) -> tuple[list[str], str]:
    if EVAL_TEXTS.exists():
        with EVAL_TEXTS.open(newline="", encoding="utf-8", errors="replace") as file:
            texts = [row["tweet_text"] for row in csv.DictReader(file)]
        source = str(EVAL_TEXTS.relative_to(REPO.parent))
    else:
        texts = synthetic_posts(10_000)
        source = "synthetic posts (eval set not found)"
    return texts[:limit], source


def synthetic_posts(count: int) -> list[str]:
    rng = random.Random(7)
    words = ["lol", "omg", "the", "game", "was", "so", "good", "tonight", "cant", "wait", "for", "friday", "see", "you", "at", "practice", "did", "anyone", "do", "the", "math", "homework", "this", "teacher", "is", "the", "best", "new", "profile", "pic", "who", "is", "coming"]
    signals = ["nobody likes you", "kys", "i want to die", "this is my new account", "call me 212-555-0134"]
    posts = []
    for _ in range(count):
        post = [rng.choice(words) for _ in range(rng.randint(5, 25))]
        if rng.random() < 0.05:
            post.insert(rng.randrange(len(post)), rng.choice(signals))
        posts.append(" ".join(post))
    return posts


def seconds(items: list, run: Callable[[object], object]) -> float:
    started = time.perf_counter()
    for item in items:
        run(item)
    return time.perf_counter() - started


def median_seconds(ways: dict[str, tuple[list, Callable[[object], object]]], rounds: int) -> dict[str, float]:
    """Each way over its items once per round, in turn; the median round of each."""
    for items, run in ways.values():
        for item in items[:1000]:  # warm-up: caches
            run(item)
    taken: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, (items, run) in ways.items():
            taken[name].append(seconds(items, run))
    return {name: statistics.median(times) for name, times in taken.items()}


def without_filler_forms(keys: list[str], fillers: set[str]) -> list[str]:
    """The automaton's keys less those that are another key with one filler word added."""
    present = set(keys)
    kept = []
    for key in keys:
        words = key.split(" ")
        if not any(word in fillers and " ".join(words[:i] + words[i + 1:]) in present
                   for i, word in enumerate(words[1:-1], start=1)):
            kept.append(key)
    return kept


REGEX_CHUNK = 20_000
"""Phrases per regular expression (75,000 compiled as one; 177,734 did not fit in 24 GB)."""


def regex_phrase(phrase: str, fillers: list[str]) -> str:
    """The phrase as a pattern in which a filler may stand between two words, as the automaton allows."""
    optional = "(?: (?:" + "|".join(map(re.escape, fillers)) + "))?" if fillers else ""
    return (optional + " ").join(map(re.escape, phrase.split(" ")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="use at most this many texts")
    parser.add_argument("--names", type=int, default=500, help="generated roster names (each adds 11 phrases)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of every way (the median is reported)")
    args = parser.parse_args()

    texts, source = load_texts(args.n)
    classifier = Classifier.load()
    lexicon_rows = len(classifier.lexicon.entries)
    classifier.set_roster(roster(args.names))
    matcher = classifier._matcher  # the benchmark compares against the classifier's own automaton
    automaton = matcher._automaton
    keys = sorted(automaton.keys(), key=len, reverse=True)
    fillers = sorted({entry.key for entry in classifier.lexicon.entries if entry.subcategory == "filler"})
    phrases = without_filler_forms(keys, set(fillers))
    alternations = [re.compile(r"(?<!\w)(?:" + "|".join(regex_phrase(phrase, fillers) for phrase in chunk) + r")(?!\w)")
                    for chunk in (phrases[i:i + REGEX_CHUNK] for i in range(0, len(phrases), REGEX_CHUNK))]
    norms = [normalize(text, matcher.vocabulary) for text in texts]
    normalized = [norm.text for norm in norms]
    megabytes = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts) / 1e6

    def raw(text: str) -> list:
        return list(automaton.iter(text))

    def regex(text: str) -> list:
        return [found for alternation in alternations for found in alternation.findall(text)]

    taken = median_seconds({
        "full": (texts, classifier.classify),
        "raw": (normalized, raw),
        "regex": (normalized, regex),
        "normalize": (texts, lambda text: normalize(text, matcher.vocabulary)),
        "pii": (texts, lambda text: pii.find(text, classifier.phone_region)),
        "match": (norms, matcher.find),
        "lexicon": (list(zip(texts, norms)), lambda pair: classifier._lexicon_flags(*pair, None)),
    }, args.rounds)
    full, raw_time, regex_time = taken["full"], taken["raw"], taken["regex"]

    def line(name: str, took: float) -> str:
        return f"{name:<58}{megabytes / took:9.2f} MB/s {len(texts) / took:12,.0f} messages/s"

    print(f"texts: {len(texts):,} from {source}, {megabytes:.2f} MB, mean {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"phrases: {len(phrases):,} ({lexicon_rows} lexicon phrases, variants, and {args.names} generated roster "
          f"names x 11); {len(keys):,} automaton keys; lexicon {classifier.lexicon_version}")
    print(line("full   Classifier.classify (normalize+match+score+pii)", full))
    print(line("raw    pyahocorasick iter over normalized text", raw_time))
    print(line(f"regex  {len(alternations)} alternations of the same phrases, findall", regex_time))
    print(f"full/raw:   {raw_time / full:.2f}x   (goal >= 0.5)")
    print(f"full/regex: {regex_time / full:.2f}x   (goal >= 20)")
    scoring = taken["lexicon"] - taken["match"]
    rest = full - taken["normalize"] - taken["pii"] - taken["lexicon"]
    stages = [("normalize", taken["normalize"]), ("pii.find", taken["pii"]), ("Matcher.find", taken["match"]),
              ("rules and scoring", scoring), ("rest", rest), ("full", full), ("raw automaton", raw_time)]
    print("us per message: " + ", ".join(f"{name} {took / len(texts) * 1e6:.1f}" for name, took in stages))


if __name__ == "__main__":
    main()
