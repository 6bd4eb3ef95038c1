"""The `socialwatch` command, run as a user runs it (a subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

from socialwatch.storage.backend import load_migrations

BIN = Path(sys.executable).parent


def socialwatch(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "socialwatch"), *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_version_names_the_components():
    result = socialwatch("version")
    assert result.returncode == 0
    assert result.stdout.startswith("socialwatch ")
    assert "mitmproxy 12.2" in result.stdout


def test_classify_prints_flags_with_offsets():
    result = socialwatch("classify", "nobody likes you, kill yourself")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    output = json.loads(line)
    [flag] = output["flags"]
    assert flag["category"] == "bullying"
    phrases = {m["phrase"]: (m["start"], m["end"]) for m in flag["matches"]}
    start, end = phrases["kill yourself"]
    assert output["text"][start:end] == "kill yourself"


def test_classify_reads_json_lines_from_standard_input():
    result = socialwatch("classify", stdin='{"id": 1, "text": "i am gay"}\n{"id": 2, "text": "i want to die"}\n')
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in outputs] == [1, 2]
    assert outputs[0]["flags"] == []
    assert outputs[1]["flags"][0]["category"] == "self_harm"


def test_a_bad_configuration_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[storage]\nbatch_sise = 10\n")
    result = socialwatch("db", "status", "--config", str(config))
    assert result.returncode == 2
    assert "storage.batch_sise: unknown key" in result.stderr


def test_db_migrate_is_idempotent_and_status_shows_the_version(tmp_path):
    url = f"chdb:{tmp_path / 'store'}"
    first = socialwatch("db", "migrate", "--storage-url", url)
    assert first.returncode == 0, first.stderr
    assert "applied 0001" in first.stdout
    second = socialwatch("db", "migrate", "--storage-url", url)
    assert second.stdout.strip().endswith("up to date")
    status = socialwatch("db", "status", "--storage-url", url)
    latest = max(migration.version for migration in load_migrations())
    assert f"schema version {latest}" in status.stdout and "pending" not in status.stdout
    assert "server features: codecs, dedup_token, dedup_window, low_cardinality, ttl" in status.stdout
    assert "0006_server_features (low_cardinality)" in first.stdout


def test_platforms_lookup_prints_one_line_per_host():
    result = socialwatch("platforms", "lookup", "www.instagram.com", "notinstagram.com", "pbs.twimg.com", "mega.nz")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "www.instagram.com\tinstagram", "notinstagram.com\t-", "pbs.twimg.com\tx", "mega.nz\tmega",
    ]


def test_review_accounts_are_managed_from_the_command_line(tmp_path):
    config = tmp_path / "socialwatch.toml"
    config.write_text(f'[review]\naccounts_file = "{tmp_path / "accounts.json"}"\n')
    added = subprocess.run(
        [str(BIN / "socialwatch"), "review", "user", "add", "JDoe", "--role", "counselor", "--school", "North High",
         "--password-stdin", "--config", str(config)],
        input="correct horse battery staple\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "jdoe: counselor of North High"
    short = subprocess.run(
        [str(BIN / "socialwatch"), "review", "user", "add", "x", "--role", "it", "--password-stdin", "--config",
         str(config)], input="short\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    listed = socialwatch("review", "user", "list", "--config", str(config))
    assert listed.stdout == "jdoe\tcounselor\tNorth High\tpassword\n"
    assert "correct horse" not in (tmp_path / "accounts.json").read_text()
    assert socialwatch("review", "user", "remove", "jdoe", "--config", str(config)).returncode == 0
    assert socialwatch("review", "user", "list", "--config", str(config)).stdout == ""
