"""Trial, not shipped: would a learned model trained on the team's own posts add to the lexicon?

Trains a logistic regression per category (self-harm, violence) over TF-IDF word 1- to 3-grams
on the project's own labelled posts, and measures "lexicon, or the model where the lexicon is
silent" against the lexicon alone. It prints three tables in one run:

1. five-fold cross-validation on the training posts: precision and recall at each threshold,
   and how many look-alikes (hyperbole, homework, games, negations) the model calls signals;
2. the held-out sets (the school posts' test halves, the chat-app set, the ordinary posts' test half)
   and the public development sets, in aggregate only: precision, recall, F1, false alarms;
3. the look-alikes of ``tests/classifier`` the combination would flag.

Training posts: ``tests/classifier/data/posts_by_category.tsv``, the ``dev`` halves of
``classifier/evaluation/school_posts.csv``, ``school_posts_3.csv`` and ``ordinary_posts.csv``; never a public set
(they are for measurement only). Features: n-grams found in at least two posts whose every word
is a word of the lexicons (no classmate's name) and not all of whose words are stop words,
identity terms removed. The model may flag a category only where the lexicon did not flag it
and no idiom, negative phrase, hyperbole, joke, topic cue or negation of the lexicon is in the
post. Results: docs/classifier-evaluation.md, "A learned model on our own posts".

Needs scikit-learn and stop-words, which socialwatch does not depend on:
``.venv/bin/pip install scikit-learn stop-words``, then
``.venv/bin/python bench/learned_model_trial.py``.
"""

from __future__ import annotations

import csv
import pathlib
import re
import sys

from socialwatch.classifier import Classifier
from socialwatch.classifier import evaluate as ev
from socialwatch.classifier.lexicon import CONTEXT, TOPIC_KINDS
from socialwatch.classifier.matcher import DEFAULT_CONTEXT_CATEGORIES, MAX_TEXT_CHARS
from socialwatch.classifier.normalize import normalize

REPO = pathlib.Path(__file__).resolve().parent.parent
POSTS_BY_CATEGORY = REPO / "tests" / "classifier" / "data" / "posts_by_category.tsv"
SETS = REPO / "classifier" / "evaluation"
CATEGORIES = ("self_harm", "violence")
THRESHOLDS = (0.7, 0.8, 0.9)
HELD_OUT = ("school_posts_self_harm", "school_posts_violence", "school_posts_2_self_harm", "school_posts_2_violence",
            "school_posts_3_self_harm", "school_posts_3_violence",
            "school_posts_4_self_harm", "school_posts_4_violence",
            "ordinary_posts", "sdcnl", "twitter_intention", "ideation_1787", "feix_suicidal")
WORD = re.compile(r"\w+(?:'\w+)?")
VETO_KINDS = {"hyperbole", "joke", "negation", *TOPIC_KINDS}


def training_posts() -> list[tuple[str, frozenset[str], str]]:
    """(post, categories it is a signal of, the category it is a look-alike of or "") of every
    training post."""
    posts = []
    with POSTS_BY_CATEGORY.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            signal = row["expected"] == "flagged"
            posts.append((row["post"], frozenset({row["category"]} if signal else ()),
                          "" if signal or row["category"] == "-" else row["category"]))
    for name in ("school_posts.csv", "school_posts_3.csv"):
        with (SETS / name).open(encoding="utf-8", newline="") as file:
            posts += [(row["text"], frozenset(row["labels"].split()), "" if row["kind"] == "signal" else "any")
                      for row in csv.DictReader(file) if row["split"] == "dev"]
    with (SETS / "ordinary_posts.csv").open(encoding="utf-8", newline="") as file:
        posts += [(row["text"], frozenset(), "") for row in csv.DictReader(file) if row["split"] == "dev"]
    return posts


def features(classifier: Classifier):
    """The TF-IDF analyzer: n-grams of lexicon words, identity terms out, not only stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from stop_words import get_stop_words

    lexicon = classifier.lexicon
    vocabulary = classifier._matcher.vocabulary
    phrases = {entry.key for entry in lexicon.entries if entry.category != CONTEXT and entry.weight > 0}
    stop = set(ENGLISH_STOP_WORDS).union(*(get_stop_words(language) for language in ("es", "pt", "nl"))) - phrases

    def analyzer(text: str) -> list[str]:
        words = [word for word in WORD.findall(text) if word not in lexicon.identity_terms]
        grams = [" ".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
        return [gram for gram in grams if all(word in vocabulary for word in gram.split(" "))
                and not all(word in stop for word in gram.split(" "))]

    return TfidfVectorizer(analyzer=analyzer, min_df=2, sublinear_tf=True)


def silent(classifier: Classifier, text: str, category: str) -> tuple[bool, str]:
    """(whether the model may speak for ``category``, the normalized text)."""
    norm = normalize(text[:MAX_TEXT_CHARS], classifier._matcher.vocabulary)
    if any(flag.category == category for flag in classifier.classify(text)):
        return False, norm.text
    for hit in classifier._matcher.find(norm):
        entry = hit.entry
        if entry.category == category and (entry.weight < 0 or entry.rules.idiom):
            return False, norm.text
        if entry.category == CONTEXT and entry.subcategory in VETO_KINDS and \
                category in (entry.rules.only or DEFAULT_CONTEXT_CATEGORIES) and \
                (entry.weight < 0 or entry.subcategory == "negation"):
            return False, norm.text
    return True, norm.text


def scores(tp: int, fp: int, fn: int) -> str:
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return f"{precision:.3f} | {recall:.3f} | {f1:.3f}"


def report(classifier: Classifier, posts: list, represent, c: float) -> dict:
    """Print the cross-validation table and the held-out table of a logistic regression per
    category over ``represent(texts)`` (a matrix, one row per text); return the models fitted
    on every training post."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    matrix = represent([text for text, _, _ in posts])
    look_alike = np.array([bool(of) for _, _, of in posts])
    print(f"{len(posts)} training posts, {matrix.shape[1]} features\n")
    print("| category | threshold | CV precision | CV recall | look-alikes called signals |\n|---|---|---|---|---|")
    models = {}
    for category in CATEGORIES:
        labels = np.array([int(category in categories) for _, categories, _ in posts])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=10_000)
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        probability = cross_val_predict(model, matrix, labels, cv=folds, method="predict_proba")[:, 1]
        for threshold in THRESHOLDS:
            called = probability >= threshold
            tp, fp = int((called & (labels == 1)).sum()), int((called & (labels == 0)).sum())
            print(f"| {category} | {threshold} | {tp / max(1, tp + fp):.3f} | {tp / labels.sum():.3f} | "
                  f"{int((called & look_alike & (labels == 0)).sum())} of {int((look_alike & (labels == 0)).sum())} |")
        models[category] = model.fit(matrix, labels)

    print("\n| set | way | precision | recall | F1 | false alarms |\n|---|---|---|---|---|---|")
    for name in HELD_OUT:
        dataset = next(d for d in ev.DATASETS if d.name == name)
        categories = CATEGORIES if dataset.category == ev.ANY_CATEGORY else (dataset.category,)
        rows = list(dataset.read(dataset.root(ev.DEFAULT_DATA_DIR) / dataset.path))
        texts = [row[0] for row in rows]
        positive = np.array([row[1] >= 1 for row in rows])
        lexicon = np.array([any(flag.category in categories for flag in classifier.classify(text)) for text in texts])
        vectors = represent(texts)
        open_any = {threshold: np.zeros(len(texts), dtype=bool) for threshold in THRESHOLDS}
        for category in categories:
            may = np.array([silent(classifier, text, category)[0] for text in texts])
            probability = models[category].predict_proba(vectors)[:, 1]
            for threshold in THRESHOLDS:
                open_any[threshold] |= may & (probability >= threshold)
        ways = {"lexicon": lexicon} | {f"lexicon or model >= {t}": lexicon | open_any[t] for t in THRESHOLDS}
        for way, flagged in ways.items():
            tp, fp = int((flagged & positive).sum()), int((flagged & ~positive).sum())
            fn = int((~flagged & positive).sum())
            print(f"| {name} | {way} | {scores(tp, fp, fn)} | {fp} of {int((~positive).sum())} |")
    return models


def main() -> int:
    try:
        import sklearn  # noqa: F401
        import stop_words  # noqa: F401
    except ImportError:
        print("needs scikit-learn and stop-words: .venv/bin/pip install scikit-learn stop-words", file=sys.stderr)
        return 2
    classifier = Classifier.load()
    posts = training_posts()
    vectorizer = features(classifier)

    def normalized(texts: list[str]) -> list[str]:
        return [normalize(text[:MAX_TEXT_CHARS], classifier._matcher.vocabulary).text for text in texts]

    vectorizer.fit(normalized([text for text, _, _ in posts]))
    models = report(classifier, posts, lambda texts: vectorizer.transform(normalized(texts)), c=4.0)

    print("\n| threshold | look-alikes of posts_by_category.tsv the model flags (training posts) |\n|---|---|")
    look_alikes = [(text, of) for text, _, of in posts if of in CATEGORIES]
    for threshold in THRESHOLDS:
        flagged = []
        for text, category in look_alikes:
            may, norm = silent(classifier, text, category)
            if may and models[category].predict_proba(vectorizer.transform([norm]))[0, 1] >= threshold:
                flagged.append(f"{category}: {text}")
        print(f"| {threshold} | {len(flagged)}: {'; '.join(flagged[:6])}{' …' if len(flagged) > 6 else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
