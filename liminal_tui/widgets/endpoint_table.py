"""Per-endpoint figures of the whole run, in a table the user can sort from the keyboard."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive

from ..metrics.snapshot import EndpointStats, Snapshot, StatsTable
from ..metrics.kinds import ALL, Kind
from .figure_table import FigureTable
from .units import count, ms, per_s

__all__ = ["EndpointTable", "SORT_KEYS"]

_KIND = {Kind.HTTP: "http", Kind.WS_CONNECT: "ws", Kind.WS_PING: "ping", Kind.WS_MESSAGE: "msg"}
AGGREGATE_LABEL = {Kind.HTTP: "Aggregated (HTTP)", Kind.WS_CONNECT: "Aggregated (WS connect)",
                   Kind.WS_PING: "Aggregated (heartbeat)", Kind.WS_MESSAGE: "Aggregated (WS message)"}
"""An ``Aggregated`` row's name on screen says which kind it adds up (the CSV's one row adds up all kinds)."""

SORT_KEYS: dict[str, tuple[str, object]] = {
    "name": ("name", lambda s: (s.kind, s.name)),
    "requests": ("requests", lambda s: s.total),
    "failures": ("failures", lambda s: s.failures),
    "skipped": ("skipped", lambda s: s.skipped),
    "rps": ("RPS", lambda s: s.rps),
    "p50": ("p50", lambda s: s.latency.p50),
    "p95": ("p95", lambda s: s.latency.p95),
    "p99": ("p99", lambda s: s.latency.p99),
    "max": ("max", lambda s: s.latency.max),
}
"""Sort key name -> (column label, key function)."""


class EndpointTable(FigureTable):
    """Requests, failures, RPS and latency per endpoint; ``Aggregated`` rows stay last, named for their kind.

    ``aggregates="http"`` (the dashboard) ends with HTTP's aggregate; ``"every"`` (the summary) with each kind's.
    """

    DEFAULT_CSS = """
    EndpointTable {
        height: auto;
        max-height: 16;
        scrollbar-gutter: stable;
        border: round $panel;
        border-title-color: $text-accent;
        &:focus { border: round $accent; }
    }
    """

    BINDINGS = [
        Binding("o", "next_sort", "Sort", show=False, id="endpoints.sort", tooltip="Sort the endpoint table by the next column"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="endpoints.reverse", tooltip="Reverse the sort order"),
    ]

    sort_key: reactive[str] = reactive("requests")
    """Column the rows are sorted by, one of :data:`SORT_KEYS`."""
    sort_reverse: reactive[bool] = reactive(True)
    """Largest first (the default) or smallest first."""

    def __init__(self, aggregates: str = "http", snapshot: Snapshot | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._stats = StatsTable()
        self._first = snapshot
        self.aggregates = aggregates
        """Which ``Aggregated`` rows end the table: ``"http"`` or ``"every"`` kind's."""

    def on_mount(self) -> None:
        self.add_column("kind", key="kind")
        # At 80 columns p99 and max stay in view; a long name loses its middle, not its distinguishing tail.
        self.add_column("name", key="name", shrink=True, cut="middle")
        for key, label in (("requests", "requests"), ("failures", "failures"), ("skipped", "skipped"), ("rps", "RPS"),
                           ("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max")):
            self.add_column(label, key=key, justify="right", optional=key in ("p95", "skipped"))
        self._title()
        if self._first is not None:  # a table made for one snapshot (the summary) shows it as it mounts
            self.call_later(self.update_snapshot, self._first)  # once is_mounted is set

    def update_snapshot(self, snapshot: Snapshot) -> None:
        self._stats = snapshot.total_stats
        self._fill()

    def watch_sort_key(self) -> None:
        self._title()
        self._fill()

    def watch_sort_reverse(self) -> None:
        self._title()
        self._fill()

    def action_next_sort(self) -> None:
        keys = list(SORT_KEYS)
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.sort_reverse = self.sort_key != "name"

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def _title(self) -> None:
        order = "largest first" if self.sort_reverse else "smallest first"
        self.border_title = f"Endpoints, by {SORT_KEYS[self.sort_key][0]} ({order})"

    def _fill(self) -> None:
        if not self.is_mounted or not self.columns:
            return
        rows = list(self._stats.endpoints)
        key = SORT_KEYS[self.sort_key][1]
        rows.sort(key=key, reverse=self.sort_reverse)  # type: ignore[arg-type]
        table = [(f"{s.kind}:{s.name}", self._cells(s)) for s in rows]
        for agg in self._stats.aggregates:
            if agg.kind != ALL and (self.aggregates == "every" or agg.kind == Kind.HTTP):
                table.append((f"aggregate:{agg.kind}", self._cells(agg, aggregate=True)))
        self.set_rows(table)

    @staticmethod
    def _cells(s: EndpointStats, aggregate: bool = False) -> list:
        return [
            _KIND.get(s.kind, s.kind),
            Content.styled(AGGREGATE_LABEL.get(s.kind, s.name), "bold") if aggregate else s.name,
            count(s.total),
            count(s.failures),
            count(s.skipped),
            per_s(s.rps),
            *(ms(v) if s.latency.count else "-" for v in (s.latency.p50, s.latency.p95, s.latency.p99, s.latency.max)),
        ]
