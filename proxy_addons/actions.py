"""Request recognizers: the coarse action a request performs and where its text is.

The rules are data (requests.toml); this module only applies them.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import tomllib

RULES_FILE = pathlib.Path(__file__).with_name("requests.toml")


@dataclasses.dataclass(frozen=True, slots=True)
class ActionRule:
    action: str
    methods: frozenset[str]
    path: re.Pattern[str]


@dataclasses.dataclass(frozen=True, slots=True)
class RequestRules:
    actions: tuple[ActionRule, ...]
    """Tried in order; the first match names the action."""
    text_fields: frozenset[str]
    """Body keys whose string values are words a person wrote."""

    @classmethod
    def load(cls, path: pathlib.Path = RULES_FILE) -> RequestRules:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return cls(
            actions=tuple(
                ActionRule(rule["action"], frozenset(m.upper() for m in rule["methods"]), re.compile(rule["path"]))
                for rule in data["action"]
            ),
            text_fields=frozenset(data["text"]["fields"]),
        )

    def action_for(self, method: str, path: str) -> str:
        """Guess the action of a request; `path` is without its query string."""
        method = method.upper()
        for rule in self.actions:
            if method in rule.methods and rule.path.search(path):
                return rule.action
        return "view" if method in ("GET", "HEAD") else "other"
