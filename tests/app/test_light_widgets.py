"""The dashboard's light widgets: columns laid out by hand, the line-drawn FigureTable, trend lines."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content

from liminal_tui.widgets.columns import ColumnsPanel, columns
from liminal_tui.widgets.figure_table import MIN_SHRUNK, Column, FigureTable, fit
from liminal_tui.widgets.trendline import BARS, TrendLine, bar_levels


def lines(content: Content) -> list[str]:
    return content.plain.split("\n")


def test_columns_align_and_share_the_spare_width():
    rows = [("p50", "1.00 ms", "2.00 ms"), ("p99.9", "10.0 ms", "475 ms")]
    out = lines(columns(rows, 30, header=("", "last", "run"), spread=True))
    assert all(len(line) == 30 for line in out)
    assert out[1].startswith("p50 ") and out[2].startswith("p99.9 ")
    assert out[1].endswith("2.00 ms") and out[2].endswith(" 475 ms")  # right-aligned
    assert out[1].index("1.00 ms") + len("1.00 ms") == out[2].index("10.0 ms") + len("10.0 ms")
    label_first = lines(columns(rows, 30))
    assert label_first[0].endswith("1.00 ms  2.00 ms")  # the spare width went to the labels
    assert lines(columns(rows, 12)) == ["p50    1.00 ", "p99.9  10.0 "]  # cut, never wrapped


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield FigureTable(id="t")
        yield ColumnsPanel(id="c")
        yield TrendLine(id="trend")

    def on_mount(self) -> None:
        table = self.query_one(FigureTable)
        table.styles.max_height = 5  # header + 4 rows: the rest scrolls
        table.add_column("name", key="name")
        table.add_column("n", key="n", justify="right")


def rendered(table: FigureTable) -> list[str]:
    return ["".join(seg.text for seg in table.render_line(y)).rstrip() for y in range(table.size.height)]


async def test_figure_table_rows_cursor_and_scroll():
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(FigureTable)
        table.set_rows([(f"k{i}", (f"row {i}", str(i * 1000))) for i in range(8)])
        await pilot.pause()
        assert table.row_count == 8 and str(table.get_row_at(2)[0]) == "row 2"
        shown = rendered(table)
        assert shown[0].split() == ["name", "n"] and shown[1].split() == ["row", "0", "0"]
        assert shown[4] == " row 3  3000" and len(shown) == 5
        table.focus()
        await pilot.press("down", "down", "down", "down", "down")
        assert table.cursor_row == 5 and table.scroll_offset.y == 2  # the cursor stays in view
        assert "row 5" in rendered(table)[4]
        # Re-sorted: the cursor follows its row's key, not its index.
        table.set_rows([(f"k{i}", (f"row {i}", str(i))) for i in reversed(range(8))])
        await pilot.pause()
        assert table.row_keys[table.cursor_row] == "k5"
        # Columns only widen: a smaller figure does not shift the table.
        assert table.columns[1].width == len("7000")
        # Fewer rows than the cursor: it moves to the last row.
        table.set_rows([("only", ("row x", "1"))])
        await pilot.pause()
        assert table.cursor_row == 0 and table.row_count == 1
        await pilot.click(FigureTable, offset=(3, 1))
        assert table.cursor_row == 0


async def test_columns_panel_height_follows_its_width():
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        panel = app.query_one(ColumnsPanel)
        lead = Content("a warning long enough to wrap on a narrow panel")
        panel.show_rows([("label", "value")], lead=lead)
        await pilot.pause()
        assert panel.size.height == 3  # the lead wraps to two lines at 40 columns, then one row
        panel.styles.width = 20
        await pilot.pause()
        assert panel.size.height == len(lead.wrap(20)) + 1
        assert lines(panel.content)[-1] == "label" + " " * 10 + "value"


def test_bar_levels_scale_from_zero_and_scroll():
    assert bar_levels([14000, 13000, 7000, 0], 6) == [-1, -1, 7, 6, 4, 0]  # a dip to 13k is a small dip
    assert bar_levels(list(range(100)), 3) == [7, 7, 7]  # only the newest ticks, scaled among themselves
    assert bar_levels([0, 0], 2) == [0, 0] and bar_levels([], 2) == [-1, -1]


async def test_trend_line_draws_the_newest_ticks_on_the_right():
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        trend = app.query_one(TrendLine)
        trend.set_values([1.0, 2.0, 4.0, 8.0])
        await pilot.pause()
        line = "".join(seg.text for seg in trend.render_line(0))
        assert len(line) == 40 and line.endswith(BARS[1] + BARS[2] + BARS[4] + BARS[7])
        assert line[:36].strip() == ""


def test_fit_leaves_out_optional_columns_and_cuts_the_shrink_column():
    cols = [Column("kind", "kind"), Column("name", "n", shrink=True), Column("p95", "p95", optional=True),
            Column("p99", "p99")]
    for c, w in zip(cols, (4, 24, 7, 7)):
        c.width = w
    assert fit(cols, 48, 2) == ([(0, 4), (1, 24), (2, 7), (3, 7)], 2)  # 48 = 42 + 3 gaps of 2: all shown
    assert fit(cols, 30, 2) == ([(0, 4), (1, 17), (3, 7)], 1)  # p95 out, gaps of 1, name gets the rest
    assert fit(cols, 4 + 7 + 2 + MIN_SHRUNK - 1, 2) == ([(0, 4), (1, 24), (2, 7), (3, 7)], 2)  # too narrow: scroll


async def test_a_narrow_table_keeps_its_last_columns_in_view():
    app = Tables()
    async with app.run_test(size=(30, 12)) as pilot:
        table = app.query_one(FigureTable)
        table.columns.clear()
        table.add_column("name", key="name", shrink=True)
        table.add_column("p95", key="p95", justify="right", optional=True)
        table.add_column("p99", key="p99", justify="right")
        table.set_rows([("a", ("GET /api/memories/{id}", "1.00 ms", "2.00 ms"))])
        await pilot.pause()
        shown = rendered(table)
        assert shown[0].split() == ["name", "p99"]
        assert shown[1].endswith("2.00 ms") and "1.00 ms" not in shown[1] and "…" in shown[1]
        assert len(shown[1]) <= 30 and table.virtual_size.width <= table.size.width


def test_bar_levels_leave_a_gap_for_a_tick_without_a_value():
    assert bar_levels([10.0, None, 5.0], 4) == [-1, 7, -1, 4]


async def test_p99_trend_shows_nothing_for_a_second_without_a_success():
    """A second with only failures has no p99: the trend leaves a gap and says "-", never "0.00 ms"."""
    from dataclasses import replace

    from textual.widgets import Label

    from fakes import build_snapshots
    from liminal_tui.metrics.snapshot import LatencyStats
    from liminal_tui.widgets.trends import Trends

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Trends()

    snaps = build_snapshots(3)
    table = snaps[2].interval_stats
    failed_only = replace(table, **{part: tuple(replace(s, count=0, failures=s.total, latency=LatencyStats())
                                                for s in getattr(table, part)) for part in ("endpoints", "aggregates")})
    last = replace(snaps[2], interval_stats=failed_only)
    app = Host()
    async with app.run_test(size=(80, 10)) as pilot:
        trends = app.query_one(Trends)
        trends.update_snapshots([snaps[1], last])
        await pilot.pause()
        assert str(app.query_one("#value-p99", Label).content) == "-"
        assert app.query_one("#spark-p99", TrendLine).values[-1] is None
        assert app.query_one("#spark-p99", TrendLine).values[-2] > 0
