"""The editor form's fields and how each one reads and writes its TOML key (no Textual here).

Each field is named by its TOML key path (``load.users``), the same path a validation problem starts with,
so an error lands next to the field that caused it. Writing goes through :class:`ProfileDocument`, which
edits the TOML text in place and keeps the user's comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..profile import ProfileDocument
from ..profile.durations import parse_duration

__all__ = ["FieldSpec", "FIELDS", "FIELD_KEYS", "read_field", "write_field", "problems_by_field", "split_problem"]

Kind = Literal["text", "int", "float", "duration", "think", "model", "stages", "thresholds"]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    """TOML key path, e.g. ``load.users``; also the field's id on screen (dots become dashes)."""
    label: str
    kind: Kind
    placeholder: str = ""
    help: str = ""

    @property
    def widget_id(self) -> str:
        return "field-" + self.key.replace(".", "-").replace("_", "-")


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "name", "text", "default: profile", "Shown in reports and on screen."),
    FieldSpec("description", "about", "text", "what this profile checks", "One line, shown in the list and in reports."),
    FieldSpec("target", "target", "text", "default: builtin", 'Base URL, or "builtin" for the demo target.'),
    FieldSpec("duration", "duration", "duration", "e.g. 1m", "Total run time: 30s, 5m, 1h30m."),
    FieldSpec("load.model", "model", "model", "", "closed: users loop; open: iterations start at a fixed rate."),
    FieldSpec("load.users", "users", "int", "default: 10", "Closed model: virtual users at full strength."),
    FieldSpec("load.spawn_rate", "spawn rate", "float", "default: 1", "Closed model: users started per second."),
    FieldSpec("load.think_time", "think time", "think", "default: 0s", "Closed model: pause after each iteration: 1s, or a range 0.5s-2s."),
    FieldSpec("load.rate", "rate", "float", "default: 10", "Open model: iterations started per second."),
    FieldSpec("load.stages", "stages", "stages", "e.g. 30s:10, 1m:50, 30s:0", "Ramp as duration:target, comma separated."),
    FieldSpec("thresholds", "thresholds", "thresholds", "e.g. http: p99 < 500ms", "One line per selector."),
)
"""Placeholders say ``default: X`` (what an empty field, which removes its key, means) or ``e.g.``: an
empty field never looks like it holds a value."""
FIELD_KEYS = {spec.key: spec for spec in FIELDS}


# ---------------------------------------------------------------- document -> form text


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_field(doc: ProfileDocument, spec: FieldSpec) -> str:
    """The text the form shows for ``spec``: what the TOML says, or empty when the key is absent."""
    value = doc.get(spec.key)
    if spec.kind == "stages":
        if not isinstance(value, list):
            return ""
        parts = []
        for stage in value:
            if isinstance(stage, dict):
                parts.append(f"{_number(stage.get('duration', ''))}:{_number(stage.get('target', ''))}")
        return ", ".join(parts)
    if spec.kind == "thresholds":
        if not isinstance(value, dict):
            return ""
        lines = []
        for selector, rules in value.items():
            if selector == "abort_on_fail":
                continue
            rules = [rules] if isinstance(rules, str) else rules
            if isinstance(rules, list):
                lines.append(f"{selector}: {', '.join(str(r) for r in rules)}")
        return "\n".join(lines)
    if spec.kind == "model":
        return value if isinstance(value, str) else "closed"
    if spec.kind == "think" and isinstance(value, dict):
        return f"{_number(value.get('min', ''))}-{_number(value.get('max', ''))}"
    if value is None:
        return ""
    return value if isinstance(value, str) else _number(value)


# ---------------------------------------------------------------- form text -> document


def write_field(doc: ProfileDocument, spec: FieldSpec, text: str) -> str | None:
    """Write the form's ``text`` for ``spec`` into ``doc``; return a problem the TOML cannot hold, or None.

    The TOML always says what the field says: an empty field removes its key (the default applies, as the
    placeholder tells), and a number or duration that does not parse is written as the text it is, for
    validation to name next to the field. Only a stage list or threshold line that cannot be read at all
    is not written (the field shows why, and shows the TOML's value again once it loses focus).
    """
    if read_field(doc, spec) == text:
        return None
    raw = text.strip()
    if spec.kind == "thresholds":
        return _write_thresholds(doc, raw)
    if spec.kind == "stages":
        return _write_stages(doc, raw)
    if not raw:
        if spec.kind == "model" or doc.get(spec.key) is None:
            return None
        doc.set(spec.key, None)
        return None
    value: Any = raw
    if spec.kind == "int":
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = raw  # validation says "load.users: ... a valid integer" next to the field
    elif spec.kind == "float":
        try:
            number = float(raw.replace("_", ""))
        except ValueError:
            number = None
        if number is not None:
            value = int(number) if number.is_integer() and "." not in raw else number
    elif spec.kind == "think":
        low, sep, high = raw.partition("-")
        if sep and low.strip() and high.strip():
            table = tomlkit.inline_table()
            table.update({"min": low.strip(), "max": high.strip()})
            value = table
    _set(doc, spec.key, value)
    return None


def _set(doc: ProfileDocument, key: str, value: Any) -> None:
    current, plain = doc.get(key), value.unwrap() if hasattr(value, "unwrap") else value
    if current != plain or type(current) is not type(plain):  # 5 and "5" differ, though 5 == 5.0
        doc.set(key, value)


def _write_stages(doc: ProfileDocument, raw: str) -> str | None:
    stages: list[tuple[str, int | float]] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        duration, sep, target = part.rpartition(":")
        if not sep or not duration.strip():
            return f"'{part}' is not duration:target (e.g. 30s:10)"
        try:
            parse_duration(duration.strip())
        except ValueError as exc:
            return str(exc)
        try:
            number = float(target)
        except ValueError:
            return f"'{target.strip()}' is not a number of users or iterations/s"
        stages.append((duration.strip(), int(number) if number.is_integer() else number))
    current = doc.get("load.stages")
    if not stages:
        if current is not None:
            doc.set("load.stages", None)
        return None
    if isinstance(current, list) and len(current) == len(stages):
        for i, (duration, target) in enumerate(stages):  # edit in place: [[load.stages]] comments stay
            _set(doc, f"load.stages.{i}.duration", duration)
            _set(doc, f"load.stages.{i}.target", target)
        return None
    array = tomlkit.array()
    for duration, target in stages:
        table = tomlkit.inline_table()
        table.update({"duration": duration, "target": target})
        array.append(table)
    doc.set("load.stages", array)
    return None


def _write_thresholds(doc: ProfileDocument, raw: str) -> str | None:
    rules: dict[str, list[str]] = {}
    for line in filter(None, (line.strip() for line in raw.splitlines())):
        selector, sep, rest = line.rpartition(":")  # rules never hold ':'; selectors may (http:GET /x)
        if not sep or not selector.strip():
            return f"'{line}' is not 'selector: rule, rule' (e.g. http: p99 < 500ms)"
        rules[selector.strip()] = [r.strip() for r in rest.split(",") if r.strip()]
    # Selectors may hold dots, which ProfileDocument.set would read as a path: edit the table directly.
    try:
        data = tomlkit.parse(doc.text)
    except TOMLKitError:
        return "fix the TOML syntax before editing with the form"
    table = data.get("thresholds")
    if table is None:
        if not rules:
            return None
        table = data["thresholds"] = tomlkit.table()
    for selector in [k for k in table if k != "abort_on_fail" and k not in rules]:
        del table[selector]
    for selector, texts in rules.items():
        old = table.get(selector)
        old = old.unwrap() if hasattr(old, "unwrap") else old
        if old != texts:
            table[selector] = texts
    doc.set_text(tomlkit.dumps(data))
    return None


# ---------------------------------------------------------------- problems -> fields

_LINE = re.compile(r"\s*\(line \d+\)$")


def split_problem(problem: str) -> tuple[str, str]:
    """``"load.users: must be >= 1 (line 9)"`` -> ``("load.users", "must be >= 1 (line 9)")``."""
    key, sep, rest = problem.partition(": ")
    if not sep or " " in key.strip('"').split(".")[0]:
        return "", problem
    if key == "profile":  # a rule across keys; it often names the key first ("load.stages add up to ...")
        first = rest.split(" ", 1)[0]
        return first, rest
    return key, rest


def problems_by_field(problems: list[str]) -> dict[str, list[str]]:
    """Problems grouped by the form field they belong to; ``""`` holds those no field shows."""
    out: dict[str, list[str]] = {}
    for problem in problems:
        key, message = split_problem(problem)
        field = next(
            (spec.key for spec in FIELDS if key == spec.key or key.startswith(spec.key + ".")), ""
        )
        out.setdefault(field, []).append(message if field else problem)
    return out
