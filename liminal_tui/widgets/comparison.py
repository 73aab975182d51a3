"""A comparison of two runs as Rich tables, for the History, Compare and Summary screens."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ..history.compare import LABELS, Comparison, EndpointChange, endpoint_title, show, show_change, show_noise
from ..history.record import clean

__all__ = ["endpoint_table", "comparison_tables", "verdict_text"]

_STYLES = {"worse": "bold red", "better": "bold green"}


def verdict_text(verdict: str) -> Text:
    return Text(verdict, style=_STYLES.get(verdict, "dim" if verdict in ("not judged", "no data") else ""))


def endpoint_table(e: EndpointChange, old: str = "old", new: str = "new") -> Table:
    """One endpoint: a row per figure, the old run's and the new run's side by side."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=Text.assemble(clean(endpoint_title(e)), ": ",
                                                                          verdict_text(e.verdict)),
                  title_justify="left")
    table.add_column("", no_wrap=True, style="bold")
    table.add_column(old, justify="right", no_wrap=True)
    table.add_column(new, justify="right", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column("noise (95%)", justify="right", no_wrap=True, style="dim")
    table.add_column("verdict", no_wrap=True)
    for m in e.metrics:
        table.add_row(LABELS[m.metric], show(m.metric, m.old), show(m.metric, m.new), show_change(m), show_noise(m),
                      verdict_text(m.verdict))
    return table


def comparison_tables(c: Comparison, old: str = "old", new: str = "new") -> list[Table | Text]:
    out: list[Table | Text] = []
    for e in c.endpoints:
        if e.metrics:
            out.append(endpoint_table(e, old, new))
        else:
            out.append(Text(f"{clean(endpoint_title(e))}: only in the {'new' if e.verdict == 'new' else 'old'} run"))
    return out
