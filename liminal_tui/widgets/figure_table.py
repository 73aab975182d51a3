"""A read-only table of short cells for figures that change every tick, drawn line by line.

Textual's ``DataTable`` renders every cell again through Rich after any one cell changes, at about
0.3 ms a cell: with a handful of endpoints that was the largest part of what the dashboard cost each
tick. This table keeps its rows as text, lays out a row as one ``Content`` when it is first drawn after a
change, and draws only the lines on screen (Textual's Line API). It has what the dashboard used of
``DataTable``: a header, a row cursor moved by keys or the mouse, scrolling, ``row_count`` and
``get_row_at``.
"""

from __future__ import annotations

from typing import Literal, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .columns import Cell, cell_width

__all__ = ["FigureTable", "Column", "cut_middle"]

Justify = Literal["left", "right"]
Cut = Literal["end", "middle"]


def cut_middle(cell: Cell, width: int) -> Content:
    """``cell`` in ``width`` cells with an ellipsis in the middle: ``GET /api/mem…/{id}/tags``.

    The tail gets the larger share: endpoint names share their start and differ at the end."""
    content = cell if isinstance(cell, Content) else Content(cell)
    if content.cell_length <= width:
        return content
    if width <= 2:
        return content.truncate(width, ellipsis=True)
    head = (width - 1) // 3
    tail = width - 1 - head
    plain = content.plain
    start = head
    while start > 0 and cell_len(plain[:start]) > head:
        start -= 1
    end = len(plain) - tail
    while end < len(plain) and cell_len(plain[end:]) > tail:
        end += 1
    return Content.assemble(content[:start], "…", content[end:])


class Column:
    """A column: its key, header and alignment. Its width only grows, so figures do not jitter.

    In a table too narrow for every column, ``optional`` columns are left out and the ``shrink``
    column gives up width (its cells cut with an ellipsis at the ``cut`` end or in the middle) before the
    table scrolls sideways.
    """

    __slots__ = ("key", "label", "justify", "width", "optional", "shrink", "cut")

    def __init__(self, key: str, label: str, justify: Justify = "left", optional: bool = False,
                 shrink: bool = False, cut: Cut = "end") -> None:
        self.key, self.label, self.justify = key, label, justify
        self.optional, self.shrink, self.cut = optional, shrink, cut
        self.width = cell_len(label)


NARROW_GAP = 1
MIN_SHRUNK = 10
"""Fewest cells a ``shrink`` column is cut to."""


def fit(columns: Sequence[Column], available: int, gap: int) -> tuple[list[tuple[int, int]], int]:
    """The columns shown in ``available`` cells, as (index, width), and the gap between them.

    Every column at its width when that fits. Otherwise: gaps of one, optional columns left out, the
    shrink column cut to what remains (not below ``MIN_SHRUNK``). If even that does not fit, every
    column again, and the table scrolls sideways.
    """
    natural = [(i, c.width) for i, c in enumerate(columns)]
    if sum(w for _, w in natural) + gap * max(0, len(natural) - 1) <= available:
        return natural, gap
    kept = [(i, c.width) for i, c in enumerate(columns) if not c.optional]
    fixed = sum(w for i, w in kept if not columns[i].shrink) + NARROW_GAP * max(0, len(kept) - 1)
    shrinkable = [i for i, _ in kept if columns[i].shrink]
    if shrinkable and available - fixed >= MIN_SHRUNK:
        room = available - fixed
        return [(i, min(w, room) if i in shrinkable else w) for i, w in kept], NARROW_GAP
    if not shrinkable and fixed <= available:
        return kept, NARROW_GAP
    return natural, gap


class FigureTable(ScrollView, can_focus=True):
    """Rows of cells under a fixed header; the row under the cursor is highlighted while focused."""

    COMPONENT_CLASSES = {"figure-table--header", "figure-table--cursor"}

    DEFAULT_CSS = """
    FigureTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .figure-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .figure-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .figure-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor(-1000000)", "First", show=False),
        Binding("end", "cursor(1000000)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0)
    """Index of the highlighted row."""

    def __init__(self, *, gap: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gap = gap
        self.columns: list[Column] = []
        self._keys: list[str] = []
        self._rows: list[tuple[Cell, ...]] = []
        self._lines: dict[int, Strip] = {}
        """Laid-out rows (-1: the header) since the last change, uncropped and unstyled by the cursor."""
        self._fitted: tuple[object, list[tuple[int, int]], int] | None = None
        """(what it was fitted for, shown columns as (index, width), gap)."""

    # ------------------------------------------------------------ data

    def add_column(self, label: str, key: str, justify: Justify = "left", *, optional: bool = False,
                   shrink: bool = False, cut: Cut = "end") -> None:
        """A column; see :class:`Column` for ``optional``, ``shrink`` and ``cut``."""
        self.columns.append(Column(key, label, justify, optional, shrink, cut))
        self._changed(layout=True)

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def row_keys(self) -> list[str]:
        return list(self._keys)

    def get_row_at(self, index: int) -> list[Cell]:
        return list(self._rows[index])

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Show ``rows``, each ``(key, cells)``; the cursor stays on its row's key when it is still shown."""
        if [key for key, _ in rows] == self._keys and [tuple(cells) for _, cells in rows] == self._rows:
            return  # nothing to redraw (nor to send to the terminal)
        old_key = self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None
        count_before = len(self._rows)
        self._keys = [key for key, _ in rows]
        self._rows = [tuple(cells) for _, cells in rows]
        for cells in self._rows:
            for column, cell in zip(self.columns, cells):
                column.width = max(column.width, cell_width(cell))
        if old_key in self._keys:
            self.set_reactive(FigureTable.cursor_row, self._keys.index(old_key))
        self.set_reactive(FigureTable.cursor_row, max(0, min(self.cursor_row, len(self._rows) - 1)))
        self._changed(layout=len(self._rows) != count_before)

    def _changed(self, layout: bool) -> None:
        self._lines.clear()
        shown, gap = self._fit()
        width = sum(w for _, w in shown) + gap * max(0, len(shown) - 1) + 2
        self.virtual_size = Size(width, 1 + len(self._rows))
        self.refresh(layout=layout)

    def _fit(self) -> tuple[list[tuple[int, int]], int]:
        available = max(0, self.size.width - 2)  # a space either side
        key = (available, tuple(c.width for c in self.columns))
        if self._fitted is None or self._fitted[0] != key:
            self._fitted = (key, *fit(self.columns, available, self.gap))
            self._lines.clear()
        return self._fitted[1], self._fitted[2]

    def on_resize(self) -> None:
        self._changed(layout=False)

    # ------------------------------------------------------------ drawing

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self._rows)

    def _layout_row(self, index: int) -> Strip:
        strip = self._lines.get(index)
        if strip is None:
            cells: Sequence[Cell] = [c.label for c in self.columns] if index < 0 else self._rows[index]
            shown, gap = self._fit()
            parts: list[Cell] = [" "]
            for n, (i, width) in enumerate(shown):
                column = self.columns[i]
                cell = cells[i] if i < len(cells) else ""
                if cell_width(cell) > width:  # a shrunk column: cut, with an ellipsis
                    if column.cut == "middle":
                        cell = cut_middle(cell, width)
                    else:
                        cell = (cell if isinstance(cell, Content) else Content(cell)).truncate(width, ellipsis=True)
                pad = " " * max(0, width - cell_width(cell))
                if n:
                    parts.append(" " * gap)
                parts.extend((pad, cell) if column.justify == "right" else (cell, pad))
            parts.append(" ")
            strip = Strip(Content.assemble(*parts).render_segments())
            self._lines[index] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("figure-table--header")
            row = -1
        else:
            row = y - 1 + scroll_y
            if row >= len(self._rows):
                return Strip.blank(width, base)
            style = base
            if self.has_focus and row == self.cursor_row:
                style = base + self.get_component_rich_style("figure-table--cursor")
        strip = self._layout_row(row).crop_extend(scroll_x, scroll_x + width, None)
        return Strip(Segment.apply_style(strip, style), width)

    # ------------------------------------------------------------ cursor

    def action_cursor(self, step: int) -> None:
        if self._rows:
            self.cursor_row = max(0, min(self.cursor_row + step, len(self._rows) - 1))

    def watch_cursor_row(self) -> None:
        body = max(1, self.size.height - 1)  # lines below the header
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=False)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + self.scroll_offset.y
        if event.y >= 1 and 0 <= row < len(self._rows):
            self.cursor_row = row

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
