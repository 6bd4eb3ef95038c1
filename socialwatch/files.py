"""Files written whole or not at all: what socialwatch keeps on disk outside ClickHouse
(accounts, suppressions, the CA) must never be left half-written by a crash."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets


def write_atomically(path: pathlib.Path, data: bytes, mode: int | None = None) -> pathlib.Path:
    """Make `data` the content of `path`: a temporary file in the same directory, fsynced, renamed
    over `path`, then the directory fsynced. `mode`: exactly these permission bits whatever the
    umask; None: the umask's default for a new file. Returns `path`."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600 if mode is not None else 0o666)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def secret_key_file(path: pathlib.Path) -> bytes:
    """The 32-byte key in `path` (hex), created with mode 0600 on first use."""
    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
