"""Waiting for rows: the writer flushes in batches, so a test polls until its rows have landed."""

from __future__ import annotations

import time


def stored_rows(store, sql: str, params: dict | None = None, *, at_least: int = 1,
                timeout: float = 15.0) -> list[dict]:
    """`store.query(sql, params)`, repeated until it returns `at_least` rows or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        rows = store.query(sql, params or {})
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)
