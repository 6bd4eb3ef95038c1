"""Backup and restore of an appliance: configuration, CA, keys, review accounts and the stored data.

    socialwatch backup create --out DIR [--keep N]     one tar.gz, created with mode 0600
    socialwatch backup show ARCHIVE                    what an archive holds
    socialwatch backup restore ARCHIVE [--force]       files back in place, then the tables

The archive (docs/deploy.md, "Backups") holds

- ``manifest.json``: what follows, the schema version, the socialwatch version;
- ``files/<role>/...``: the configuration (the whole directory when the file lives in a
  directory named ``socialwatch``, as ``/etc/socialwatch``; else the file alone), every file of
  ``proxy.confdir`` (the CA certificate *and its private key*, a CA prepared by ``socialwatch ca
  rotate``, mitmproxy's WireGuard keys), the pseudonym key, the review accounts and secret key,
  the suppressions file;
- ``tables/<database>.<table>.jsonl``: every row of every socialwatch table, one JSON array per
  row in the column order of the manifest.

The tables are read with a plain ``SELECT`` through the storage's own connection (clickhouse-driver's
native protocol, or chDB), with DateTime as Unix seconds and UUID as text, so the same archive
restores into either backend: a backup of the embedded store restores into a ClickHouse server.
``ALTER TABLE ... FREEZE`` was not used: it needs the server's file system, and the shadow
directory's layout differs between 18.16 and current releases. The password of a ``clickhouse://``
url never enters the archive: configuration files are written with it replaced by ``***``, and
creation fails if it still occurs anywhere in the archive.

Rollups (tables a materialized view writes to) are kept as they are: they hold history that
retention has removed from ``events`` and ``flags``. On restore the source tables are inserted
first (their materialized views fire), then each rollup is emptied and given the backed-up rows,
so nothing is counted twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import grp
import hashlib
import io
import json
import os
import pathlib
import pwd
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator

from socialwatch import __version__
from socialwatch.config import Config

FORMAT = 1
"""Version of the archive layout (manifest.json "format")."""
ARCHIVE_GLOB = "socialwatch-backup-*.tar.gz"
BATCH_ROWS = 50_000
"""Rows per INSERT on restore: few enough parts for ClickHouse, little enough memory."""
REDACTED = "***"
WARNING = ("socialwatch backup: this archive holds the proxy's CA private key, the pseudonym key and the review "
           "secret key: whoever has it can intercept district devices' HTTPS and re-identify students. It was "
           "created with mode 0600; keep it that way, encrypt it before it leaves the appliance, and store it "
           "where only the district's administrators can read it.")
_URL_PASSWORD = re.compile(rb"(clickhouses?://[^:/@\s\"'<>]*:)([^@\s\"'<>]+)(@)")
_MV_TARGET = re.compile(r"\bTO\s+`?(\w+)`?\.`?(\w+)`?", re.IGNORECASE)
_ARRAY = re.compile(r"Array\((.*)\)")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class FileRole:
    role: str
    path: pathlib.Path
    """A file, or a directory whose every file is kept."""
    directory: bool


def file_roles(config: Config, config_path: str | os.PathLike | None) -> list[FileRole]:
    """What to keep, where it lives under `config` (relative paths resolve as the CLI resolves them)."""
    roles = []
    if config_path is not None:
        path = pathlib.Path(config_path).absolute()
        if path.parent.name == "socialwatch":  # /etc/socialwatch: the whole directory
            roles.append(FileRole("config", path.parent, True))
        else:
            roles.append(FileRole("config", path, False))
    roles.append(FileRole("confdir", config.proxy.confdir.expanduser().absolute(), True))
    roles.append(FileRole("pseudonym_key", config.identity.pseudonym_key_file.absolute(), False))
    roles.append(FileRole("review_accounts", config.review.accounts_file.absolute(), False))
    roles.append(FileRole("review_secret_key", config.review.secret_key_file.absolute(), False))
    if config.classifier.suppressions_file is not None:
        roles.append(FileRole("suppressions", config.classifier.suppressions_file.absolute(), False))
    return roles


def _passwords(urls: list[str]) -> list[str]:
    found = []
    for url in urls:
        with contextlib.suppress(ValueError):
            password = urllib.parse.urlsplit(url).password
            if password:
                found += [password, urllib.parse.unquote(password)]
    return sorted(set(found), key=len, reverse=True)


def redact(data: bytes, passwords: list[str]) -> bytes:
    """`data` with the password of every ``clickhouse://`` url, and ``:PASSWORD@`` for the known
    passwords, replaced by ``***`` (a configuration directory may hold one file per component)."""
    data = _URL_PASSWORD.sub(rb"\1***\3", data)
    for password in passwords:
        data = data.replace(f":{password}@".encode(), f":{REDACTED}@".encode())
    return data


# -- tables -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Table:
    database: str
    name: str
    kind: str
    """``source`` (written by socialwatch) or ``derived`` (written by a materialized view)."""
    columns: list[tuple[str, str]]


def list_tables(storage) -> list[Table]:
    """The storage's tables worth keeping: every table of its database but schema_migrations
    and schema_features (migrate() writes them), and every table its materialized views
    write to (rollups)."""
    database = storage.database
    rows = storage.query(
        "SELECT database, name, engine, create_table_query FROM system.tables"
        " WHERE database = {db:String} ORDER BY name", {"db": database})
    targets = set()
    for row in rows:
        if row["engine"] == "MaterializedView":
            match = _MV_TARGET.search(row["create_table_query"])
            if match:
                targets.add((match.group(1), match.group(2)))
    tables = [Table(database, row["name"], "derived" if (database, row["name"]) in targets else "source", [])
              for row in rows if row["engine"] not in ("MaterializedView", "View")
              and row["name"] not in ("schema_migrations", "schema_features")]
    known = {(t.database, t.name) for t in tables}
    for db, name in sorted(targets - known):
        exists = storage.query("SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}",
                               {"db": db, "t": name})
        if exists[0]["n"]:
            tables.append(Table(db, name, "derived", []))
    # system.columns lists a table's columns in their order (18.16 has no `position` column to sort by).
    for table in tables:
        table.columns = [(c["name"], c["type"]) for c in storage.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            {"db": table.database, "t": table.name})]
    return tables


def _select_expression(name: str, type_name: str) -> str:
    if type_name.startswith("DateTime"):
        return f"toUnixTimestamp({name})"
    if type_name == "UUID":
        return f"toString({name})"
    return name


def _to_json(type_name: str, value):
    """A value read from either backend in the archive's form: the same whichever backend wrote it."""
    if value is None:
        return None
    array = _ARRAY.fullmatch(type_name)
    if array:
        return [_to_json(array.group(1), item) for item in value]
    if type_name.startswith("Float"):
        return float(value)
    if re.fullmatch(r"U?Int\d+", type_name) or type_name.startswith("DateTime"):
        return int(value)
    return value


def _from_json(type_name: str, value):
    """An archived value as the storage backends insert it."""
    if value is None:
        return None
    array = _ARRAY.fullmatch(type_name)
    if array:
        return [_from_json(array.group(1), item) for item in value]
    if type_name == "UUID":
        return uuid.UUID(value)
    if type_name.startswith("Float"):
        return float(value)
    if re.fullmatch(r"U?Int\d+", type_name) or type_name.startswith("DateTime"):
        return int(value)
    return value


def _stream_rows(storage, sql: str) -> Iterator[list]:
    """Rows of `sql` without holding the table in memory (storage-specific streaming readers)."""
    kind = type(storage).__name__  # by name: importing the other backend would load its library
    with storage._using("backup"):  # serialized, and errors come out without secrets
        if kind == "ClickHouseNativeStorage":
            for row in storage._client.execute_iter(sql, settings={"max_block_size": 10_000}):
                yield list(row)
        elif kind == "ChdbStorage":
            pending = b""
            for chunk in storage._session.send_query(
                    sql + " SETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompactEachRow"):
                pending += chunk.bytes()
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if pending.strip():
                yield json.loads(pending)
        else:  # pragma: no cover - every backend is one of the two
            raise BackupError(f"backup: unsupported storage {type(storage).__name__}")


def _insert(storage, table: Table, database: str, columns: list[tuple[str, str]], rows: list[list]) -> None:
    if not rows:
        return
    names = [name for name, _ in columns]
    values = [[_from_json(type_name, row[i]) for row in rows] for i, (_, type_name) in enumerate(columns)]
    with storage._using("restore"):
        # _insert_columns writes to storage.database.table: point it at the rollup database for a
        # moment (under the storage's lock, so no other call sees it).
        saved = storage.database
        storage.database = database
        try:
            storage._insert_columns(table.name, names, values)
        finally:
            storage.database = saved


# -- create -------------------------------------------------------------------------------------

def create(config: Config, config_path: str | None, out: pathlib.Path, *, storage_url: str | None = None,
           keep: int = 0, now: datetime.datetime | None = None, log=sys.stderr) -> pathlib.Path:
    """Write one archive into `out` (made 0700 if new) and return its path."""
    from socialwatch.storage import open_storage, redact_url

    now = now or datetime.datetime.now(datetime.UTC)
    url = config.storage.url
    passwords = _passwords([url, storage_url or ""])
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"socialwatch-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz"
    final = out / name
    if final.exists():
        raise BackupError(f"{final} exists already")
    manifest: dict = {"format": FORMAT, "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "socialwatch": __version__, "storage": redact_url(url), "files": [], "missing": [],
                      "tables": []}
    work = pathlib.Path(tempfile.mkdtemp(prefix=".socialwatch-backup-", dir=out))
    partial = out / f".{name}.partial"
    try:
        members: list[tuple[str, pathlib.Path | bytes, dict]] = []
        seen: set[pathlib.Path] = set()
        for role in file_roles(config, config_path):
            for path, relative in _files_of(role):
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                try:
                    data = path.read_bytes()
                except PermissionError:
                    if role.role != "config":
                        raise BackupError(f"backup: cannot read {path} (run the backup as root or as the "
                                          "service user)") from None
                    print(f"socialwatch backup: note: {path} is not readable here: left out", file=log)
                    manifest["missing"].append({"role": role.role, "path": str(path)})
                    continue
                except OSError as e:
                    raise BackupError(f"backup: cannot read {path}: {e.strerror} (run the backup as root or as "
                                      "the service user)") from None
                if role.role == "config":
                    data = redact(data, passwords)
                st = path.stat()
                entry = {"role": role.role, "path": str(path), "relative": relative,
                         "member": f"files/{role.role}/{relative}", "mode": st.st_mode & 0o7777,
                         "user": _user(st.st_uid), "group": _group(st.st_gid), "size": len(data),
                         "sha256": hashlib.sha256(data).hexdigest()}
                manifest["files"].append(entry)
                members.append((entry["member"], data, entry))
            if not role.path.exists():
                manifest["missing"].append({"role": role.role, "path": str(role.path)})

        storage = open_storage(storage_url or url)
        try:
            version, pending = storage.schema_status()
            manifest["database"] = storage.database
            manifest["schema_version"] = version
            if pending and version:
                print(f"socialwatch backup: note: migrations pending on the store: {', '.join(pending)}", file=log)
            for table in list_tables(storage) if version else []:
                member = f"tables/{_relative_database(table.database, storage.database)}.{table.name}.jsonl"
                path = work / member.replace("/", "_")
                count = 0
                select = ", ".join(_select_expression(n, t) for n, t in table.columns)
                with path.open("w", encoding="utf-8") as f:
                    for row in _stream_rows(storage, f"SELECT {select} FROM {table.database}.{table.name}"):
                        f.write(json.dumps([_to_json(t, v) for (_, t), v in zip(table.columns, row)],
                                           ensure_ascii=False, separators=(",", ":")))
                        f.write("\n")
                        count += 1
                manifest["tables"].append({"database": _relative_database(table.database, storage.database),
                                           "table": table.name, "kind": table.kind, "columns": table.columns,
                                           "rows": count, "member": member})
                members.append((member, path, {}))
        finally:
            storage.close()

        _check_no_password(members, passwords)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode(), 0o600, now)
            for member, content, entry in members:
                if isinstance(content, bytes):
                    _add_bytes(tar, member, content, entry.get("mode", 0o600), now)
                else:
                    info = tar.gettarinfo(str(content), arcname=member)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mode = 0o600
                    with content.open("rb") as f:
                        tar.addfile(info, f)
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(partial, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if keep:
        for old in sorted(out.glob(ARCHIVE_GLOB))[:-keep]:
            old.unlink()
    return final


def _files_of(role: FileRole) -> Iterator[tuple[pathlib.Path, str]]:
    if role.directory:
        if role.path.is_dir():
            for path in sorted(role.path.rglob("*")):
                if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                    yield path, path.relative_to(role.path).as_posix()
    elif role.path.is_file():
        yield role.path, role.path.name


def _relative_database(database: str, main: str) -> str:
    """The database as the archive names it: ``@`` for the store's, ``@_dashboards`` for the
    rollup database migration 0005 makes next to it, so a restore may use another name."""
    if database == main:
        return "@"
    if database.startswith(main):
        return "@" + database[len(main):]
    return database


def _absolute_database(relative: str, main: str) -> str:
    return main + relative[1:] if relative.startswith("@") else relative


def _check_no_password(members, passwords: list[str]) -> None:
    # The url form (":password@") is redacted from configuration files; any other occurrence of a
    # password long enough to be recognisable stops the backup rather than leak it.
    needles = [p.encode() for p in passwords if len(p) >= 8] + [f":{p}@".encode() for p in passwords]
    if not needles:
        return
    overlap = max(len(n) for n in needles)
    for member, content, _ in members:
        if isinstance(content, bytes):
            chunks: Iterator[bytes] = iter([content])
        else:
            chunks = _chunks(content)
        tail = b""
        for chunk in chunks:
            data = tail + chunk
            if any(needle in data for needle in needles):
                raise BackupError(f"backup: {member} contains the ClickHouse password; refusing to write it into "
                                  "an archive (move it out of that file, or keep that file out of the backup)")
            tail = data[-overlap:]


def _chunks(path: pathlib.Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int, now: datetime.datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(now.timestamp())
    tar.addfile(info, io.BytesIO(data))


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


# -- show and restore ---------------------------------------------------------------------------

def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(tar.extractfile("manifest.json"))
    except (KeyError, ValueError) as e:
        raise BackupError(f"not a socialwatch backup (no readable manifest.json: {e})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}: restore it with the "
                          f"socialwatch version that made it ({manifest.get('socialwatch')})")
    return manifest


def show(archive: pathlib.Path, out=sys.stdout) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        manifest = read_manifest(tar)
    print(f"{archive}: socialwatch {manifest['socialwatch']} backup of {manifest['created']}, "
          f"storage {manifest['storage']}, schema version {manifest.get('schema_version', 0)}", file=out)
    for entry in manifest["files"]:
        print(f"  file   {entry['role']:<18} {oct(entry['mode'])[2:]:>4} {entry['path']}", file=out)
    for entry in manifest["missing"]:
        print(f"  absent {entry['role']:<18}      {entry['path']}", file=out)
    for table in manifest["tables"]:
        print(f"  table  {table['database']}.{table['table']:<30} {table['rows']} rows ({table['kind']})", file=out)


def restore(archive: pathlib.Path, config: Config, config_path: str | None, *, storage_url: str | None = None,
            force: bool = False, log=sys.stderr) -> None:
    """Files back where `config` says they go, and the tables into `config`'s store.

    Refuses (changing nothing) when a table to restore has rows or a file to restore exists with
    other content, unless `force`: then the tables are emptied first and replaced files are kept
    as NAME.before-restore. Configuration files never replace the live ones: a differing one is
    written as NAME.restored for the administrator to compare.
    """
    from socialwatch.storage import open_storage
    from socialwatch.storage.backend import load_migrations

    with tarfile.open(archive, "r:gz") as tar:
        manifest = read_manifest(tar)
        destinations = _destinations(manifest, config, config_path, log)
        conflicts = [dest for entry, dest in destinations
                     if entry["role"] != "config" and dest.exists() and _sha256(dest) != entry["sha256"]]
        storage = open_storage(storage_url or config.storage.url)
        try:
            known = max((m.version for m in load_migrations()), default=0)
            backup_version = int(manifest.get("schema_version", 0))
            if backup_version > known:
                raise BackupError(f"the backup's schema version {backup_version} is newer than this socialwatch's "
                                  f"({known}): upgrade socialwatch first")
            version, _pending = storage.schema_status()
            existing = {(t.database, t.name) for t in list_tables(storage)} if version else set()
            targets = [(t, _absolute_database(t["database"], storage.database)) for t in manifest["tables"]]
            busy = [f"{db}.{t['table']}" for t, db in targets
                    if (db, t["table"]) in existing and _count(storage, db, t["table"])]
            if (busy or conflicts) and not force:
                problems = [f"table {name} has rows" for name in busy] + \
                           [f"{path} exists with other content" for path in conflicts]
                raise BackupError("restore: refusing to overwrite, use --force to replace:\n  " + "\n  ".join(problems))

            # The schema as it was when the backup was made, then the data, then today's migrations.
            if version < backup_version:
                _migrate_to(storage, backup_version)
            else:
                storage.migrate()
            existing = {(t.database, t.name) for t in list_tables(storage)}
            if force:
                for t, db in targets:
                    if (db, t["table"]) in existing:
                        storage.execute(f"TRUNCATE TABLE {db}.{t['table']}")
            for kind in ("source", "derived"):
                for t, db in targets:
                    if t["kind"] != kind:
                        continue
                    if (db, t["table"]) not in existing:
                        print(f"socialwatch restore: skipping {db}.{t['table']}: no such table in this schema", file=log)
                        continue
                    if kind == "derived":  # filled by the views while the source tables went in
                        storage.execute(f"TRUNCATE TABLE {db}.{t['table']}")
                    columns = [tuple(c) for c in t["columns"]]
                    table = Table(db, t["table"], kind, columns)
                    batch: list[list] = []
                    for line in tar.extractfile(t["member"]):
                        batch.append(json.loads(line))
                        if len(batch) >= BATCH_ROWS:
                            _insert(storage, table, db, columns, batch)
                            batch = []
                    _insert(storage, table, db, columns, batch)
                    print(f"socialwatch restore: {db}.{t['table']}: {t['rows']} rows", file=log)
            applied = storage.migrate()
            if applied:
                print(f"socialwatch restore: then applied {', '.join(applied)}", file=log)
        finally:
            storage.close()

        for entry, dest in destinations:
            data = tar.extractfile(entry["member"]).read()
            _restore_file(entry, dest, data, force, log)


def _destinations(manifest: dict, config: Config, config_path: str | None, log) -> list[tuple[dict, pathlib.Path]]:
    roles = {role.role: role for role in file_roles(config, config_path)}
    out = []
    for entry in manifest["files"]:
        role = roles.get(entry["role"])
        if role is None:  # no --config, or no suppressions file configured here
            print(f"socialwatch restore: not restoring {entry['path']}: no {entry['role']} in this configuration",
                  file=log)
            continue
        relative = pathlib.PurePosixPath(entry["relative"])
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupError(f"restore: unsafe path {entry['relative']!r} in the archive")
        if role.directory:
            dest = role.path / relative
        elif entry["role"] == "config":  # next to the configuration file given
            dest = role.path.parent / relative
        else:
            dest = role.path
        out.append((entry, dest))
    return out


def _restore_file(entry: dict, dest: pathlib.Path, data: bytes, force: bool, log) -> None:
    if dest.exists() and _sha256(dest) == entry["sha256"]:
        return
    if entry["role"] == "config" and dest.exists():
        dest = dest.with_name(dest.name + ".restored")
        print(f"socialwatch restore: {dest}: the backed-up configuration differs from the live one; "
              "compare and merge by hand", file=log)
    elif dest.exists() and force:
        os.replace(dest, dest.with_name(dest.name + ".before-restore"))
    if not dest.parent.exists():
        dest.parent.mkdir(mode=0o700, parents=True)
        _chown(dest.parent, entry)
    temporary = dest.with_name(f".{dest.name}.restoring")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, entry["mode"] & 0o777)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(temporary, entry["mode"])
    _chown(temporary, entry)
    os.replace(temporary, dest)
    if entry["role"] == "config" and f":{REDACTED}@".encode() in data:
        print(f"socialwatch restore: {dest}: the ClickHouse password was left out of the backup; put it back "
              f"in storage.url", file=log)


def _chown(path: pathlib.Path, entry: dict) -> None:
    if os.geteuid() != 0:
        return
    try:
        uid = pwd.getpwnam(entry["user"]).pw_uid
        gid = grp.getgrnam(entry["group"]).gr_gid
    except KeyError:
        return  # no such user here: root keeps it
    os.chown(path, uid, gid)


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(storage, database: str, table: str) -> int:
    return int(storage.query(f"SELECT count() AS n FROM {database}.{table}")[0]["n"])


def _migrate_to(storage, version: int) -> None:
    """Apply the migrations up to `version` (included), as Storage.migrate() applies them all."""
    from socialwatch.storage.backend import load_migrations

    with storage._using("migrate"):
        applied = storage._applied_versions()
        for migration in load_migrations():
            if migration.version > version or migration.version in applied:
                continue
            for statement in migration.statements(storage.database, storage.cluster, storage.replicated):
                storage._execute(statement)
            storage._insert("schema_migrations", ("version", "name", "applied_at"),
                            [(migration.version, migration.name, datetime.datetime.now(datetime.UTC))])
