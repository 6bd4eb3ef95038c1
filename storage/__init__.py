"""Storage: activity events and classifier flags in ClickHouse.

    store = open_storage("clickhouse://sw:secret@db.example:9000/socialwatch")
    store.migrate()
    store.write([(event, flags), ...])
    store.query("SELECT count() AS n FROM {database}.events WHERE device = {d:String}", {"d": "10.1.2.3"})

See docs/storage.md for urls, backends and the schema.
"""

from .backend import Storage, StorageError, redact_url

__all__ = ["open_storage", "Storage", "StorageError", "redact_url"]


def open_storage(url: str) -> Storage:
    """A Storage for ``clickhouse://``/``clickhouses://`` (server) or ``chdb:`` (embedded) urls.

    A server is first contacted by the first call (usually ``migrate()``);
    chDB opens its directory right away.
    """
    scheme = url.partition(":")[0]
    try:
        # Imported on demand: each backend loads a large library the other does not need.
        if scheme in ("clickhouse", "clickhouses"):
            from .clickhouse_native import ClickHouseNativeStorage
            return ClickHouseNativeStorage(url)
        if scheme == "chdb":
            from .chdb_embedded import ChdbStorage
            return ChdbStorage(url)
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"cannot open {redact_url(url)}: {type(exc).__name__}: {exc}") from exc
    raise StorageError(f"unsupported storage url {redact_url(url)}: use clickhouse://... or chdb:PATH")
