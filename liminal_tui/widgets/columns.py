"""Rows of figures in columns, drawn as Textual ``Content`` for a given width.

The dashboard's small panels (latency, connections, generator) used ``rich.table.Table.grid`` inside a
``Static``. Every tick that meant a Rich console render with a measuring pass per panel, about 1.5 ms
each, the largest part of what the app drew. These panels hold short, single-line cells, so the layout
is simple enough to do here: the first column left-aligned, the others right-aligned, the spare width
shared out, every line cut to the width. The result is one ``Content``, which Textual draws natively.
"""

from __future__ import annotations

from typing import Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

__all__ = ["columns", "ColumnsPanel", "Cell", "cell_width"]

Cell = str | Content
"""A cell of the dashboard's tables and panels: plain text, or styled ``Content``."""


def cell_width(cell: Cell) -> int:
    """Terminal cells that ``cell`` takes."""
    return cell.cell_length if isinstance(cell, Content) else cell_len(cell)


def columns(rows: Sequence[Sequence[Cell]], width: int, *, header: Sequence[Cell] | None = None,
            spread: bool = False, gap: int = 2, label_style: str = "bold", header_style: str = "bold",
            shrink_first: bool = False) -> Content:
    """``rows`` laid out in ``width`` cells: first column left, the rest right-aligned.

    The spare width goes to the first column, or with ``spread`` to every column in equal parts (a
    table of figures reads better spread out). A line that does not fit is cut at ``width``; with
    ``shrink_first`` the first column gives up its width first (its cells end in an ellipsis), down to
    four cells, so long labels (host names) do not push the figures off the line.
    """
    lines = ([tuple(header)] if header is not None else []) + [tuple(r) for r in rows]
    n = max((len(line) for line in lines), default=0)
    if n == 0 or width <= 0:
        return Content("")
    widths = [0] * n
    for line in lines:
        for i, cell in enumerate(line):
            widths[i] = max(widths[i], cell_width(cell))
    spare = width - sum(widths) - gap * (n - 1)
    if spare < 0 and shrink_first and widths[0] > 4:
        cut = min(-spare, widths[0] - 4)
        widths[0] -= cut
        spare += cut
        lines = [(_fit(line[0], widths[0]), *line[1:]) if line else line for line in lines]
    if spare > 0:
        if spread:
            share, extra = divmod(spare, n)
            widths = [w + share + (1 if i < extra else 0) for i, w in enumerate(widths)]
        else:
            widths[0] += spare
    out = []
    for row_no, line in enumerate(lines):
        is_header = header is not None and row_no == 0
        parts: list[Content | str | tuple[str, str]] = []
        for i, cell in enumerate(line):
            pad = " " * max(0, widths[i] - cell_width(cell))
            if i:
                parts.append(" " * gap + pad)
            style = header_style if is_header else (label_style if i == 0 else "")
            parts.append((cell, style) if isinstance(cell, str) and style else cell)
            if i == 0:
                parts.append(pad)
        text = Content.assemble(*parts)
        out.append(text.truncate(width) if text.cell_length > width else text)
    return Content("\n").join(out)


def _fit(cell: Cell, width: int) -> Cell:
    if cell_width(cell) <= width:
        return cell
    if isinstance(cell, Content):
        return cell.truncate(width, ellipsis=True)
    return Content(cell).truncate(width, ellipsis=True).plain  # still plain text: it keeps the label style


class ColumnsPanel(Widget):
    """A panel that shows rows in :func:`columns`, laid out for its width each time it is drawn.

    Its height is the number of lines at the width it is given, so a layout pass never sees lines
    drawn for another width (and wrapped). A layout pass reflows the whole screen, so a new set of rows
    asks for one only when the line count can have changed.
    """

    DEFAULT_CSS = """
    ColumnsPanel { height: auto; text-wrap: nowrap; }
    """

    def __init__(self, *, spread: bool = False, shrink_first: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self._spread = spread
        self._shrink_first = shrink_first
        self._rows: Sequence[Sequence[Cell]] = ()
        self._header: Sequence[Cell] | None = None
        self._lead: Content | None = None
        self._shape: object = None

    def show_rows(self, rows: Sequence[Sequence[Cell]], header: Sequence[Cell] | None = None,
                  lead: Content | None = None) -> None:
        """Show ``rows``, with ``header`` above them and ``lead`` (wrapped to the width) above all."""
        if (rows, header, lead) == (self._rows, self._header, self._lead):
            return  # nothing to redraw (nor to send to the terminal)
        self._rows, self._header, self._lead = rows, header, lead
        shape = (len(rows), header is not None, lead)
        layout, self._shape = shape != self._shape, shape
        self.refresh(layout=layout)

    def content_for(self, width: int) -> Content:
        """What the panel shows at ``width`` cells."""
        body = columns(self._rows, width, header=self._header, spread=self._spread, shrink_first=self._shrink_first)
        if self._lead is None:
            return body
        lead = self._lead.wrap(max(1, width))
        return Content("\n").join([*lead, body] if self._rows or self._header else lead)

    @property
    def content(self) -> Content:
        """What the panel shows now."""
        return self.content_for(self.size.width or 80)

    def render(self) -> Content:
        return self.content_for(self.size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.content_for(width).split("\n")) if self._rows or self._lead is not None else 1
