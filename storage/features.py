"""What the ClickHouse server can do, asked of the server's own system tables.

The schema runs on Debian's ClickHouse 18.16; on newer servers a migration line
``-- requires: FEATURE`` gates the statement after it on one of ``FEATURES``
(docs/storage.md, "Server features"). A feature is detected by what the server
lists (a data type, a setting, a column of a system table), never by parsing
its version string.
"""

from __future__ import annotations

FEATURES = {
    "low_cardinality": "LowCardinality(String) columns: dictionary-encoded, smaller and faster to filter "
                       "(listed but experimental on 18.16, so not used there)",
    "codecs": "per-column compression codecs (ZSTD for text)",
    "ttl": "TTL on tables: merges remove rows past the retention period",
    "dedup_window": "non_replicated_deduplication_window: a plain MergeTree table drops a re-inserted block",
    "dedup_token": "insert_deduplication_token: an insert names its block, so a retry of it is recognised",
}
"""Every feature a migration may require, with what it brings."""

_PROBE = """SELECT
    (SELECT count() FROM system.data_type_families WHERE name = 'LowCardinality') AS low_cardinality_type,
    (SELECT count() FROM system.settings
     WHERE name = 'allow_experimental_low_cardinality_type' AND value = '0') AS low_cardinality_experimental,
    (SELECT count() FROM system.columns
     WHERE database = 'system' AND table = 'columns' AND name = 'compression_codec') AS codecs,
    (SELECT count() FROM system.merge_tree_settings WHERE name = 'merge_with_ttl_timeout') AS ttl,
    (SELECT count() FROM system.merge_tree_settings
     WHERE name = 'non_replicated_deduplication_window') AS dedup_window,
    (SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token') AS dedup_token"""


def detect_features(select) -> frozenset[str]:
    """The names of ``FEATURES`` the server has; `select(sql)` runs a SELECT and returns its rows."""
    [row] = select(_PROBE)
    found = {name for name in ("codecs", "ttl", "dedup_window", "dedup_token") if row[name]}
    if row["low_cardinality_type"] and not row["low_cardinality_experimental"]:
        found.add("low_cardinality")
    return frozenset(found)
