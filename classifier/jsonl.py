"""``socialwatch classify``: JSON lines in, JSON lines out, one line at a time.

Input, one object a line: ``{"id": ..., "text": "..."}`` (``id`` any JSON value).
Output, one object a line, in input order::

    {"id": ..., "flags": [{"category", "subcategory", "severity", "score", "threshold",
                           "truncated", "explanation",
                           "matches": [{"phrase", "subcategory", "start", "end", "rules"}]}]}

A line that is not such an object is reported on standard error with its line number
(``line 3: not JSON: ...``) and skipped; the exit status is then 1. Blank lines are
skipped. Memory stays constant: nothing is kept from one line to the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from .flags import Flag
from .matcher import Classifier


def flag_record(flag: Flag) -> dict[str, Any]:
    """One flag as the JSON object ``classify`` prints."""
    return {
        "category": flag.category, "subcategory": flag.subcategory, "severity": flag.severity,
        "score": flag.score, "threshold": flag.threshold, "truncated": flag.truncated,
        "explanation": flag.explanation,
        "matches": [{"phrase": m.phrase, "subcategory": m.subcategory, "start": m.start, "end": m.end,
                     "rules": m.rules} for m in flag.matches],
    }


def classify_texts(classifier: Classifier, texts: Iterable[str], out: IO[str], age_band: str | None = None) -> int:
    """Texts given as arguments: ids are their 1-based positions, and the text is echoed."""
    for number, text in enumerate(texts, start=1):
        flags = [flag_record(f) for f in classifier.classify(text, age_band)]
        out.write(json.dumps({"id": number, "text": text, "flags": flags}, ensure_ascii=False) + "\n")
    return 0


def classify_lines(classifier: Classifier, lines: Iterable[str], out: IO[str], err: IO[str],
                   age_band: str | None = None) -> int:
    """Classify JSON lines; returns the exit status (1 when a line was malformed)."""
    status = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            err.write(f"socialwatch classify: line {number}: not JSON: {error}\n")
            status = 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "id" not in record:
            err.write(f'socialwatch classify: line {number}: expected an object with "id" and "text" (a string)\n')
            status = 1
            continue
        flags = [flag_record(f) for f in classifier.classify(record["text"], age_band)]
        out.write(json.dumps({"id": record["id"], "flags": flags}, ensure_ascii=False) + "\n")
        out.flush()
    return status
