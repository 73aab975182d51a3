"""What a profile will do, at a glance: target, load model, ramp, scenarios, thresholds; or its error."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..profile import Profile
from ..profile.durations import format_duration
from .ramp import Ramp
from .units import load_value, per_s

__all__ = ["ProfilePreview"]


def _grid(rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(key, Text(value))
    return table


def _summary(profile: Profile) -> Table:
    load = profile.load
    rows = [("target", profile.target), ("load model", load.model)]
    if load.model == "closed":
        rows.append(("users", load_value("closed", load.users)))
        if not load.stages:
            rows.append(("spawn rate", per_s(load.spawn_rate, " users/s")))
        low, high = load.think_range
        if high:
            rows.append(("think time", format_duration(low) if low == high else f"{format_duration(low)}-{format_duration(high)}"))
    else:
        rows.append(("rate", load_value("open", load.rate)))
        rows.append(("max in flight", f"{load.max_in_flight:,} iterations"))
    rows.append(("duration", format_duration(profile.duration or 0)))
    for feeder in profile.data:  # the file's name, never its rows
        rows.append((f"data {feeder.name}", f"{Path(feeder.file).name}, {feeder.pick}, {feeder.on_end}"))
    return _grid(rows)


def _ramp_caption(profile: Profile) -> str:
    load = profile.load
    if load.stages:
        stages = ", ".join(f"{format_duration(s.duration)} to {s.target:g}" for s in load.stages)
        return f"stages: {stages} (peak {load_value(load.model, load.peak)})"
    if load.model == "closed":
        return f"ramp to {load_value('closed', load.users)} in {format_duration(profile.ramp_seconds)}, then hold"
    return f"steady {load_value('open', load.rate)}"


def _scenarios(profile: Profile) -> Table:
    total = sum(s.weight for s in profile.scenarios) or 1
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column()
    for s in profile.scenarios:
        steps = f"{len(s.steps)} steps"
        if s.setup or s.teardown:  # once per user (see profile/steps.py)
            steps += f", setup {len(s.setup)}, teardown {len(s.teardown)}"
        table.add_row(Text(s.name), f"weight {s.weight}", f"{s.weight / total * 100:.0f} %", steps)
    return table


def _thresholds(profile: Profile) -> Text:
    rules = profile.thresholds.rules
    if not rules:
        return Text("none", style="dim")
    lines = [f"{selector}: {', '.join(texts)}" for selector, texts in rules.items()]
    if profile.thresholds.abort_on_fail:
        lines.append("abort on fail")
    return Text("\n".join(lines))


class ProfilePreview(VerticalScroll, can_focus=False):
    """Shows one profile (or why it cannot be loaded). Call :meth:`show`."""

    DEFAULT_CSS = """
    ProfilePreview {
        padding: 0 1;
        & > .preview--heading { text-style: bold; margin-top: 1; color: $text-accent; }
        & > #preview-title { text-style: bold; }
        & > #preview-path { color: $text-muted; }
        & > #preview-error { color: $text-error; margin-top: 1; }
        & > Ramp { margin-top: 1; }
        & > #preview-ramp { color: $text-muted; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="preview-title")
        yield Static(id="preview-path")
        yield Static(id="preview-description")
        yield Static(id="preview-error")
        yield Static("Load", classes="preview--heading preview--ok")
        yield Static(id="preview-summary", classes="preview--ok")
        yield Ramp(classes="preview--ok")
        yield Static(id="preview-ramp", classes="preview--ok")
        yield Static("Scenarios", classes="preview--heading preview--ok")
        yield Static(id="preview-scenarios", classes="preview--ok")
        yield Static("Thresholds", classes="preview--heading preview--ok")
        yield Static(id="preview-thresholds", classes="preview--ok")

    def show(self, title: str, path: str, profile: Profile | None, error: str | None = None) -> None:
        """Show ``profile``; with ``error`` instead, show the error (one problem per line)."""
        self.query_one("#preview-title", Static).update(Text(title))
        self.query_one("#preview-path", Static).update(Text(path))
        description = profile.description if profile else ""
        self.query_one("#preview-description", Static).update(Text(description))
        self.query_one("#preview-description").display = bool(description)
        err = self.query_one("#preview-error", Static)
        err.update(Text(error or ""))
        err.display = error is not None
        for widget in self.query(".preview--ok"):
            widget.display = profile is not None
        if profile is None:
            return
        self.query_one("#preview-summary", Static).update(_summary(profile))
        self.query_one(Ramp).show_profile(profile)
        self.query_one("#preview-ramp", Static).update(Text(_ramp_caption(profile)))
        self.query_one("#preview-scenarios", Static).update(_scenarios(profile))
        self.query_one("#preview-thresholds", Static).update(_thresholds(profile))
        self.scroll_home(animate=False)
