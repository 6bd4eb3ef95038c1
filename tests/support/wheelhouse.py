"""A wheel directory for socialwatch's dependencies, repacked from this virtual environment.

The install tests run deploy/install.sh for real, `pip install --no-index --find-links WHEELS`
included, but without downloading ~300 MB from the package index on every run: each installed
distribution socialwatch needs is packed back into a wheel from its RECORD (the files pip
installed, byte for byte, with a fresh RECORD), so the installer gets exactly the versions the
rest of the suite runs on. Console scripts are left out (pip writes them again from
entry_points.txt); other files in bin/ go in as the wheel's scripts, as pip installed them.
"""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import importlib.metadata
import io
import pathlib
import re
import sysconfig
import zipfile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SKIPPED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
SITE_PACKAGES = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]


def distribution(name: str) -> importlib.metadata.Distribution:
    """The distribution installed in this environment's site-packages (never a stale *.egg-info
    that the current directory on sys.path may hold)."""
    for found in importlib.metadata.distributions(name=name, path=SITE_PACKAGES):
        return found
    raise importlib.metadata.PackageNotFoundError(name)


def requirements_closure(requirements: list[str]) -> set[str]:
    """Canonical names of the installed distributions `requirements` need, recursively (markers
    evaluated here, with the extras asked for)."""
    seen: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        key = canonicalize_name(requirement.name)
        if key in seen:
            continue
        seen.add(key)
        extras = sorted(requirement.extras)
        for text in distribution(requirement.name).requires or []:
            needed = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if needed.marker and not any(needed.marker.evaluate(env) for env in environments):
                continue
            todo.append(needed)
    return seen


def repack(distribution: importlib.metadata.Distribution, out: pathlib.Path) -> pathlib.Path:
    dist_info = pathlib.Path(distribution._path)  # the .dist-info directory
    site_packages = dist_info.parent
    venv = site_packages.parents[2]
    name = re.sub(r"[-_.]+", "_", distribution.metadata["Name"])
    version = distribution.version
    wheel = email.parser.Parser().parsestr((dist_info / "WHEEL").read_text())
    parts = [tag.split("-") for tag in wheel.get_all("Tag")]
    tag = "-".join(".".join(dict.fromkeys(part[i] for part in parts)) for i in range(3))
    scripts = {ep.name for ep in distribution.entry_points if ep.group in ("console_scripts", "gui_scripts")}
    target = out / f"{name}-{version}-{tag}.whl"
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for row in csv.reader(io.StringIO((dist_info / "RECORD").read_text())):
            if not row:
                continue
            path = row[0]
            if "__pycache__" in path or (path.startswith(dist_info.name + "/") and path.split("/")[-1] in SKIPPED):
                continue
            if path.startswith("../"):
                relative = (site_packages / path).resolve().relative_to(venv.resolve())
                if relative.parts[0] == "bin":
                    if relative.name in scripts:
                        continue
                    member = f"{name}-{version}.data/scripts/{relative.name}"
                else:
                    member = f"{name}-{version}.data/data/{relative.as_posix()}"
            else:
                member = path
            data = (site_packages / path).read_bytes()
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = ((site_packages / path).stat().st_mode & 0xFFFF) << 16
            archive.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append((member, f"sha256={digest}", str(len(data))))
        record_name = f"{dist_info.name}/RECORD"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([*records, (record_name, "", "")])
        archive.writestr(record_name, buffer.getvalue())
    return target


def build_wheelhouse(out: pathlib.Path, pyproject: pathlib.Path) -> list[pathlib.Path]:
    """Wheels of every installed distribution the project of `pyproject` depends on."""
    import tomllib

    requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    out.mkdir(parents=True, exist_ok=True)
    return [repack(distribution(key), out) for key in sorted(requirements_closure(requirements))]
