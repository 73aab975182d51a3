"""Read profiles from TOML and explain, in one line each, what is wrong with a broken one."""

from __future__ import annotations

import os
import re
import tomllib
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from .models import Profile
from .templates import TemplateError, compile_template

__all__ = [
    "ProfileError",
    "load_profile",
    "parse_profile",
    "resolve_profile",
    "shipped_profiles",
    "SHIPPED_DIR",
    "check_environment",
]

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "profiles"
"""The profiles shipped with the package (smoke, load, stress, soak)."""


class ProfileError(Exception):
    """A profile that cannot be used. ``str()`` is the whole message for the user."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        # One line per problem, even when it quotes a key or value that holds a line break.
        self.problems = [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        return f"{self.source}: {len(self.problems)} problems\n" + "\n".join(f"  - {p}" for p in self.problems)


def shipped_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.toml"))}


def resolve_profile(name_or_path: str | os.PathLike[str]) -> Path:
    """A path as given, else ``./profiles/NAME.toml``, else the shipped profile NAME."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if path.suffix == "" and not path.parent.parts:
        for candidate in (Path("profiles") / f"{path}.toml", SHIPPED_DIR / f"{path}.toml"):
            if candidate.exists():
                return candidate
        known = ", ".join(shipped_profiles())
        raise ProfileError(str(name_or_path), [f"no such profile file or shipped profile (shipped: {known})"])
    raise ProfileError(str(name_or_path), ["no such file"])


def load_profile(path: str | os.PathLike[str]) -> Profile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(str(path), ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), [f"cannot read: {exc}"]) from None
    return parse_profile(text, source=str(path), base_dir=path.parent)


def parse_profile(text: str, source: str = "<profile>", base_dir: str | os.PathLike[str] | None = None) -> Profile:
    """Parse and validate TOML text; raise :class:`ProfileError` with every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [f"TOML syntax error: {exc}"]) from None
    except RecursionError:
        raise ProfileError(source, [_TOO_DEEP]) from None
    return validate_data(data, source=source, text=text, base_dir=base_dir)


_TOO_DEEP = "arrays or tables are nested too deeply"


def validate_data(data: Mapping[str, Any], source: str = "<profile>", text: str | None = None,
                  base_dir: str | os.PathLike[str] | None = None) -> Profile:
    """Validate a profile's data; with ``base_dir`` (the profile's folder) its ``[[data]]`` and upload
    files are found there (made absolute) and checked: present, readable, with every column a step uses."""
    try:
        profile = Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileError(source, [_describe(err, text) for err in _one_union_member(exc.errors())]) from None
    except (ValueError, TypeError) as exc:  # defensive: a validator raised outside pydantic's wrapping
        raise ProfileError(source, [str(exc)]) from None
    except RecursionError:
        raise ProfileError(source, [_TOO_DEEP]) from None
    if base_dir is not None:
        problems = resolve_files(profile, Path(base_dir), text)
        if problems:
            raise ProfileError(source, problems)
    return profile


def resolve_files(profile: Profile, base_dir: Path, text: str | None = None) -> list[str]:
    """Make the profile's file paths absolute (relative to ``base_dir``); the problems found, one a line."""
    from .data_files import DataFileError, read_rows
    from .templates import template_paths

    problems: list[str] = []
    used: dict[str, set[str]] = {d.name: set() for d in profile.data}
    for scenario in profile.scenarios:
        for step in scenario.all_steps():
            dump = step.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            for name in template_paths(dump) | _when_paths(step):
                head, _, column = name.partition(".")
                if head in used and column:
                    used[head].add(column.split(".")[0])
            for j, part in enumerate(getattr(step, "multipart", None) or ()):
                if part.file is not None:
                    part.file = str((base_dir / part.file).resolve())
                    if not Path(part.file).is_file():
                        problems.append(f"multipart.{j}.file: no such file {part.file}" + _at(["file"], text))
    for i, feeder in enumerate(profile.data):
        feeder.file = str((base_dir / feeder.file).resolve())
        try:
            _, columns = read_rows(feeder.file)
        except DataFileError as exc:
            problems.append(f"data.{i}.file: {exc}" + _at(["file"], text))
            continue
        missing = sorted(used[feeder.name] - set(columns))
        if missing:
            problems.append(f"data.{i}: {feeder.file} has no column {', '.join(missing)} (it has "
                            f"{', '.join(columns)}), used as ${{{feeder.name}.{missing[0]}}}")
    return problems


def _line_near(where: str, text: str | None) -> int | None:
    """The line of the key path ``where`` (``a.0.b.c``), else of the nearest key above it written once
    at the start of a line (a key inside an inline table is found by its table's key)."""
    path: list[str | int] = [int(p) if p.isdigit() else p for p in where.split(".")]
    while path:
        line = _line_of(path, text)
        if line is not None:
            return line
        path = path[:-1]
    return None


def _when_paths(step: Any) -> set[str]:
    from .conditions import condition_variables

    when = getattr(step, "when", None)
    return condition_variables(when) if when else set()


def _at(path: list[str | int], text: str | None) -> str:
    line = _line_of(path, text)
    return f" (line {line})" if line else ""


def check_environment(profile: Profile, env: Mapping[str, str] | None = None, source: str | None = None,
                      text: str | None = None) -> None:
    """Raise when a ``${env:NAME}`` the profile uses is not set (checked before a run starts, and by
    ``--validate``); each problem names the key path, the variable and, given ``text``, the line."""
    env = os.environ if env is None else env
    problems = []
    for where, value in _strings(profile.model_dump(mode="json", by_alias=True, exclude_defaults=True)):
        try:
            compile_template(value, env)
        except TemplateError as exc:
            line = _line_near(where, text)
            problems.append(f"{where}: {exc}" + (f" (line {line})" if line else ""))
    if problems:
        raise ProfileError(source or profile.name, problems)


def _strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)] if "${env:" in value else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{where}.{i}")]
    return []


# ---------------------------------------------------------------- error messages


def _key_path(loc: tuple[Any, ...]) -> list[str | int]:
    """Drop pydantic's union tags from ``loc``: the key path as the user wrote it."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in _STEP_TAGS) and path and isinstance(path[-1], int):
            continue  # discriminator tag or function-wrapper name after a list index
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if isinstance(part, str) and part in ("float", "ThinkTime", "int", "list[int]", "str", "list[str]"):
            continue  # union member names
        path.append(part)
    return path


_STEP_TAGS = {"http", "ws_connect", "ws_send", "ws_wait", "ws_hold", "ws_close", "set", "pause",
              "socketio_connect", "socketio_emit", "socketio_wait", "socketio_close"}
_STEP_TYPES = ("http, ws_connect, ws_send, ws_wait, ws_hold, ws_close, set, pause, socketio_connect, socketio_emit, "
               "socketio_wait or socketio_close")


_WRONG_MEMBER = {"model_type", "list_type", "dict_type", "int_type", "float_type", "string_type", "bool_type"}


def _one_union_member(errors: list[Any]) -> list[Any]:
    """A value that fits no member of a union (``think_time``: duration or table; ``check.status``: int
    or list) gets one error per member. Drop the members that were never meant for its shape ("should
    be a valid list" for a string; a duration's complaint about a table) when another member explains
    the problem at the same key."""
    paths = [".".join(map(str, _key_path(tuple(e.get("loc", ()))))) for e in errors]
    keep = []
    for i, err in enumerate(errors):
        loc = tuple(err.get("loc", ()))
        wrong_shape = err.get("type") in _WRONG_MEMBER or (
            isinstance(err.get("input"), dict) and bool(loc) and str(loc[-1]).startswith("function-before[parse_duration")
        )
        explained = any(j != i and (p == paths[i] or p.startswith(paths[i] + ".")) for j, p in enumerate(paths))
        if not (wrong_shape and explained):
            keep.append(err)
    return _merge_same_key(keep or errors)


def _merge_same_key(errors: list[Any]) -> list[Any]:
    """Several union members that reject one value at one key become one line: "a valid integer or a list"."""
    merged: dict[str, dict[str, Any]] = {}
    for err in errors:
        path = ".".join(map(str, _key_path(tuple(err.get("loc", ())))))
        if path in merged and str(err.get("type", "")).endswith("_type") and str(merged[path].get("type", "")).endswith("_type"):
            first = merged[path]
            extra = str(err.get("msg", "")).replace("Input should be ", "")
            merged[path] = {**first, "msg": f"{first.get('msg')} or {extra}"}
        else:
            merged.setdefault(path if path not in merged else f"{path}#{len(merged)}", err)
    return list(merged.values())


def _describe(err: Mapping[str, Any], text: str | None) -> str:
    path = _key_path(tuple(err.get("loc", ())))
    key = ".".join(str(p) for p in path)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    if kind == "extra_forbidden":
        field = str(path[-1]) if path else "?"
        fields = _fields_at(path[:-1])
        hint = get_close_matches(field, fields, n=1, cutoff=0.6)
        msg = f"unknown key '{field}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
        if not hint and fields:
            msg += f" (known keys: {', '.join(fields)})"
    elif kind == "missing":
        msg = "is required but missing"
    elif kind == "union_tag_invalid":
        msg = f"unknown step type; use {_STEP_TYPES}"
    elif kind == "union_tag_not_found":
        msg = f"a step needs a 'type' ({_STEP_TYPES})"
    line = _line_of(path, text)
    if not key and line is None:  # a message that starts with its own key path: find that line
        named = re.match(r"^([\w.-]+):", msg)
        if named:
            line = _line_near(named.group(1), text)
    if key and (msg.startswith(key + ".") or msg.startswith(key + ":")):
        key = ""  # the message names its own key path
    if not key and re.match(r'^[\w"]+[\w."]*[.:]', msg) and ":" in msg:
        return msg + (f" (line {line})" if line else "")
    where = key or "profile"
    return f"{where}: {msg}" + (f" (line {line})" if line else "")


def _fields_at(path: list[str | int]) -> list[str]:
    """Field names (TOML spelling) of the model found at ``path`` below Profile, if any."""
    model: Any = Profile
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or name for name, f in model.model_fields.items())
    return []


def _inner_model(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in args or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _line_of(path: list[str | int], text: str | None) -> int | None:
    """The line where the last key of ``path`` is written, when it appears once."""
    if not text or not path:
        return None
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return None
    key = re.escape(names[-1])
    pattern = re.compile(rf'^[ \t]*(?:"{key}"|{key})\s*=|^[ \t]*\[+\s*[\w."]*{key}\s*\]+', re.M)
    hits = [m.start() for m in pattern.finditer(text)]
    if len(hits) != 1:
        return None
    return text.count("\n", 0, hits[0]) + 1
