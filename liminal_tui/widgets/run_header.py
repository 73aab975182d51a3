"""The run's header: what runs against what, the phase, time elapsed and left, load now versus asked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from ..metrics.snapshot import Snapshot
from ..metrics.kinds import Kind
from .units import clock, count, load_value, per_s, relayout_needed

__all__ = ["RunHeader"]


class RunHeader(Vertical):
    """Three lines: profile and target with the phase; progress; active versus target load, and a
    warning while the generator is saturated (``-saturated`` class)."""

    DEFAULT_CSS = """
    RunHeader {
        height: auto;
        padding: 0 1;
        background: $boost;
        & > Horizontal { height: 1; }
        & #run-title { width: 1fr; text-style: bold; }
        & #run-phase { width: auto; padding: 0 1; background: $accent-muted; text-style: bold; }
        & ProgressBar { width: 1fr; }
        & ProgressBar Bar { width: 1fr; }
        & #run-time { width: auto; margin-left: 2; }
        & #run-load { width: 1fr; }
        & #run-warning { width: auto; display: none; color: $text-warning; text-style: bold reverse; }
        &.-saturated #run-warning { display: block; }
    }
    """

    def __init__(self, profile: str, target: str, duration: float, model: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._profile, self._target, self._duration, self._model = profile, target, duration, model

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Text(f"{self._profile} -> {self._target}"), id="run-title")
            yield Label("starting", id="run-phase")
        with Horizontal():
            yield ProgressBar(total=max(self._duration, 1e-9), show_eta=False, id="run-progress")
            yield Label(f"0s elapsed · {clock(self._duration)} left", id="run-time")
        with Horizontal():
            yield Label("preflight: checking the target", id="run-load")
            yield Label("GENERATOR SATURATED", id="run-warning")

    def set_target(self, target: str) -> None:
        self._target = target
        self.query_one("#run-title", Label).update(Text(f"{self._profile} -> {target}"))

    def set_phase(self, phase: str) -> None:
        label = self.query_one("#run-phase", Label)
        label.update(phase, layout=relayout_needed(label, phase))

    def set_failed(self, what: str) -> None:
        """The run could not start (or failed): say so where the load and time were."""
        self.set_phase("failed")
        self.query_one("#run-load", Label).update(Text(what))
        self.query_one("#run-time", Label).update("")

    def update_snapshot(self, s: Snapshot) -> None:
        self.set_class(s.saturated, "-saturated")  # visible wherever the panels below are scrolled
        self.set_phase(s.phase)
        self.query_one(ProgressBar).update(total=max(s.duration, 1e-9), progress=min(s.elapsed, s.duration))
        time_text = f"{clock(s.elapsed)} elapsed · {clock(s.remaining)} left"
        time_label = self.query_one("#run-time", Label)
        time_label.update(time_text, layout=relayout_needed(time_label, len(time_text)))  # auto width
        if s.model == "open":
            started = s.find(Kind.HTTP, total=False)
            rate = (s.iterations and started and started.rps) or 0.0
            text = (
                f"rate target {load_value('open', s.target_load)} · "
                f"{count(s.users)} in flight · {count(s.dropped)} dropped"
            )
            if rate:
                text += f" · {per_s(rate, ' req/s')}"
        else:
            text = f"users {count(s.users)} active / {load_value('closed', s.target_load)} target"
        self.query_one("#run-load", Label).update(text, layout=False)  # 1fr wide, one line
