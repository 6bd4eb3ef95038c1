"""Request recognizers: what a platform request does, what it is aimed at, and the words in it.

The recognizers are data (requests.toml); this module only applies them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import tomllib
from collections.abc import Mapping

from socialwatch.proxy_addons.bodies import (
    ProtobufBody,
    clean_text,
    first_under,
    protobuf_id,
    protobuf_strings,
    strings_under,
)

RULES_FILE = pathlib.Path(__file__).with_name("requests.toml")


@dataclasses.dataclass(frozen=True, slots=True)
class Recognition:
    action: str
    """The action, e.g. comment or message."""
    target: str = ""
    """What it is aimed at (post, thread, channel or recipient id); empty when not visible."""
    text: str = ""
    """The words a person wrote, one value per line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Recognizer:
    """One dedicated request shape of one platform (a [[recognizer]] table)."""

    platform: str
    action: str
    methods: frozenset[str]
    path: re.Pattern[str]
    when: Mapping[str, re.Pattern[str]]
    text: frozenset[str] | None
    """Body keys holding text; None for the generic fields."""
    query_text: tuple[str, ...]
    target_field: str | None
    identifies: bool = False
    """The request shape alone identifies the platform, on any host (forum software)."""
    protobuf_text: tuple[tuple[int, ...], ...] = ()
    """Field-number paths to the words written in a protobuf body."""
    protobuf_target: tuple[int, ...] = ()
    """Field-number path to the target in a protobuf body."""

    def matches(self, method: str, path: str, body: object) -> re.Match[str] | None:
        if method not in self.methods:
            return None
        found = self.path.search(path)
        if found is None:
            return None
        for key, pattern in self.when.items():
            value = first_under(body, key)
            if value is None or not pattern.search(value):
                return None
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class ActionRule:
    """A generic [[action]] rule."""

    action: str
    methods: frozenset[str]
    path: re.Pattern[str]


@dataclasses.dataclass(frozen=True, slots=True)
class WebSocketRule:
    """A [[websocket]] rule: a text frame pattern with named groups `text` and `target`."""

    platform: str
    action: str
    pattern: re.Pattern[str]


@dataclasses.dataclass(frozen=True, slots=True)
class RequestRules:
    recognizers: Mapping[str, tuple[Recognizer, ...]]
    """Dedicated recognizers by platform, in file order."""
    actions: tuple[ActionRule, ...]
    """Generic action rules, tried in order."""
    websocket: Mapping[str, tuple[WebSocketRule, ...]]
    """WebSocket message rules by platform."""
    text_fields: frozenset[str]
    """Generic body keys whose string values are words a person wrote."""
    json_fields: frozenset[str]
    """Form fields whose values are JSON documents."""

    @classmethod
    def load(cls, path: pathlib.Path = RULES_FILE) -> RequestRules:
        with path.open("rb") as f:
            data = tomllib.load(f)
        recognizers: dict[str, list[Recognizer]] = {}
        for r in data.get("recognizer", []):
            recognizers.setdefault(r["platform"], []).append(Recognizer(
                platform=r["platform"], action=r["action"], methods=_methods(r), path=re.compile(r["path"]),
                when={key: re.compile(value) for key, value in r.get("when", {}).items()},
                text=frozenset(r["text"]) if "text" in r else None,
                query_text=tuple(r.get("query_text", ())), target_field=r.get("target_field"),
                identifies=r.get("identifies", False),
                protobuf_text=tuple(_field_path(p) for p in r.get("protobuf_text", ())),
                protobuf_target=_field_path(r.get("protobuf_target", "")),
            ))
        websocket: dict[str, list[WebSocketRule]] = {}
        for w in data.get("websocket", []):
            websocket.setdefault(w["platform"], []).append(
                WebSocketRule(w["platform"], w["action"], re.compile(w["pattern"], re.DOTALL)))
        return cls(
            recognizers={platform: tuple(rs) for platform, rs in recognizers.items()},
            actions=tuple(ActionRule(a["action"], _methods(a), re.compile(a["path"])) for a in data["action"]),
            websocket={platform: tuple(ws) for platform, ws in websocket.items()},
            text_fields=frozenset(data["text"]["fields"]),
            json_fields=frozenset(data["text"]["json_fields"]),
        )

    def recognize(self, platform: str, method: str, path: str, query: list[tuple[str, str]] = (),
                  body: object = None) -> Recognition:
        """Read a request: `path` without its query string, `body` as parse_body returned it."""
        method = method.upper()
        for recognizer in self.recognizers.get(platform, ()):
            found = recognizer.matches(method, path, body)
            if found is None:
                continue
            fields = self.text_fields if recognizer.text is None else recognizer.text
            texts = strings_under(body, fields) + [v for k, v in query if k in recognizer.query_text]
            target = found.groupdict().get("target") or (
                recognizer.target_field and (first_under(body, recognizer.target_field)
                                             or next((v for k, v in query if k == recognizer.target_field), None)))
            if isinstance(body, ProtobufBody):
                texts += [text for path in recognizer.protobuf_text for text in protobuf_strings(body.message, path)]
                target = target or protobuf_id(body.message, recognizer.protobuf_target)
            return Recognition(recognizer.action, clean_text(target or "")[:256], clean_text("\n".join(texts)))
        return Recognition(self.action_for(method, path), "", clean_text("\n".join(strings_under(body, self.text_fields))))

    def identify(self, method: str, path: str) -> str | None:
        """The platform whose software a request's shape shows (Discourse, phpBB), or None."""
        method = method.upper()
        for recognizers in self.recognizers.values():
            for recognizer in recognizers:
                if recognizer.identifies and method in recognizer.methods and recognizer.path.search(path):
                    return recognizer.platform
        return None

    def action_for(self, method: str, path: str) -> str:
        """The generic guess for a request no dedicated recognizer knows."""
        method = method.upper()
        for rule in self.actions:
            if method in rule.methods and rule.path.search(path):
                return rule.action
        return "view" if method in ("GET", "HEAD") else "other"

    def recognize_websocket(self, platform: str, message: str) -> Recognition:
        """A client's WebSocket text message: a [[websocket]] rule of the platform, else JSON text fields."""
        for rule in self.websocket.get(platform, ()):
            found = rule.pattern.search(message)
            if found:
                return Recognition(rule.action, clean_text(found.group("target") or "")[:256],
                                   clean_text(found.group("text") or ""))
        try:
            document = json.loads(message)
        except (ValueError, RecursionError):
            document = None  # a protocol we do not read
        return Recognition("message", "", clean_text("\n".join(strings_under(document, self.text_fields))))


def _field_path(dotted: str) -> tuple[int, ...]:
    """"4.4.2.1" -> (4, 4, 2, 1): protobuf field numbers, outermost first."""
    return tuple(int(number) for number in dotted.split(".")) if dotted else ()


def _methods(table: dict) -> frozenset[str]:
    return frozenset(m.upper() for m in table["methods"])
