"""Load profiles: the TOML format (models), reading and error messages (loader), editing (document)."""

from .document import ProfileDocument
from .durations import Duration, format_duration, parse_duration
from .loader import ProfileError, load_profile, parse_profile, resolve_profile, shipped_profiles
from .models import HttpStep, LoadModel, Profile, Scenario, Stage, WsConnect, WsWait
from .thresholds import Rule, Thresholds, Verdict

__all__ = [
    "Duration",
    "HttpStep",
    "LoadModel",
    "Profile",
    "ProfileDocument",
    "ProfileError",
    "Rule",
    "Scenario",
    "Stage",
    "Thresholds",
    "Verdict",
    "WsConnect",
    "WsWait",
    "format_duration",
    "load_profile",
    "parse_duration",
    "parse_profile",
    "resolve_profile",
    "shipped_profiles",
]
