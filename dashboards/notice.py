"""The transparency notice: what is monitored, kept, for how long and by whom — from the running configuration.

    socialwatch notice --lang es --config /etc/socialwatch/socialwatch.toml > notice-es.html

The words are data (notice.toml, one table per language); the facts come from
the configuration and the platform catalog, so the notice cannot drift from what
the appliance does. Everything is HTML-escaped (Jinja2 autoescape).
"""

from __future__ import annotations

import pathlib
import tomllib

import jinja2

from socialwatch.config import Config
from socialwatch.proxy_addons.catalog import CATEGORIES, Catalog

TEXTS = pathlib.Path(__file__).with_name("notice.toml")
SIGNALS = ("bullying", "self_harm", "violence", "impersonation", "pii", "policy")

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(pathlib.Path(__file__).with_name("templates")),
    autoescape=True, undefined=jinja2.StrictUndefined,
)


def languages() -> list[str]:
    with TEXTS.open("rb") as f:
        return sorted(tomllib.load(f))


def render_notice(config: Config, lang: str, catalog: Catalog | None = None) -> str:
    """The notice as an HTML page in `lang` (a table of notice.toml)."""
    with TEXTS.open("rb") as f:
        texts = tomllib.load(f)
    if lang not in texts:
        raise ValueError(f"no notice text for language {lang!r}; have {', '.join(sorted(texts))}")
    catalog = catalog or Catalog.load()
    district = config.district
    facts = {
        "district": district.names[0] if district.names else "",
        "activity_days": config.retention.activity_days,
        "flagged_days": config.retention.flagged_content_days,
        "contact": district.contact,
    }
    t = {key: value.format(**facts) for key, value in texts[lang].items()}
    platforms = [
        (category, sorted(p.name for p in catalog.platforms.values() if p.category == category))
        for category in CATEGORIES
    ]
    return _environment.get_template("notice.html.j2").render(
        lang=lang, languages=sorted(texts), t=t, platforms=[(c, n) for c, n in platforms if n], signals=SIGNALS,
    )
