"""Classifier throughput on short posts, against two ways of doing less.

- ours:  ``Classifier.classify(text)`` (normalize, match on word boundaries, score, flag);
- raw:   pyahocorasick ``automaton.iter(text.lower())`` over the same phrases (the baseline);
- naive: ``for phrase in phrases: if phrase in text.lower()``.

Texts: the tweets of ../shared/data/eval/bullying/wang2020_cyberbullying_valid.csv when
present, else synthetic short posts. Each method runs over all texts; the best of three
runs is reported.

Run: .venv/bin/python bench/classifier_throughput.py [--n N]
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import random
import time
from collections.abc import Callable

import ahocorasick

from socialwatch.classifier import Classifier
from socialwatch.classifier.lexicon import load_lexicon
from socialwatch.classifier.matcher import PACKAGED_LEXICONS

REPO = pathlib.Path(__file__).resolve().parent.parent
EVAL_TEXTS = REPO.parent / "shared" / "data" / "eval" / "bullying" / "wang2020_cyberbullying_valid.csv"
RUNS = 3


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
    words = ("lol omg the game was so good tonight cant wait for friday see you at practice "
             "did anyone do the math homework this teacher is the best new profile pic who is coming").split()
    signals = ["nobody likes you", "kys", "i want to die", "this is my new account"]
    posts = []
    for _ in range(count):
        post = [rng.choice(words) for _ in range(rng.randint(5, 25))]
        if rng.random() < 0.05:
            post.insert(rng.randrange(len(post)), rng.choice(signals))
        posts.append(" ".join(post))
    return posts


def posts_per_second(texts: list[str], run: Callable[[str], object]) -> float:
    for text in texts:  # warm-up: caches, branch predictors
        run(text)
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        for text in texts:
            run(text)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="classify at most this many texts")
    args = parser.parse_args()

    texts, source = load_texts(args.n)
    classifier = Classifier.load()
    phrases = sorted({entry.key for entry in load_lexicon(PACKAGED_LEXICONS).entries})
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, phrase)
    automaton.make_automaton()

    def raw(text: str) -> list:
        return list(automaton.iter(text.lower()))

    def naive(text: str) -> list:
        lowered = text.lower()
        return [phrase for phrase in phrases if phrase in lowered]

    ours = posts_per_second(texts, classifier.classify)
    baseline = posts_per_second(texts, raw)
    simple = posts_per_second(texts, naive)

    print(f"texts: {len(texts)} from {source}, mean {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"phrases: {len(phrases)} (lexicon {classifier.lexicon_version})")
    print(f"ours  Classifier.classify:           {ours:12,.0f} posts/s")
    print(f"raw   pyahocorasick iter(lower()):   {baseline:12,.0f} posts/s")
    print(f"naive phrase in text.lower():        {simple:12,.0f} posts/s")
    print(f"ours/raw:   {ours / baseline:.2f}")
    print(f"ours/naive: {ours / simple:.2f}")


if __name__ == "__main__":
    main()
