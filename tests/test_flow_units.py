"""Template functions, the ``when`` grammar, JSON paths with ``[*]``: the pieces of a flow, one by one."""

from __future__ import annotations

import base64
import json
import re
import sys
from datetime import datetime, timezone

import pytest

from liminal_tui.engine.jsonpath import MISSING, json_path
from liminal_tui.profile.conditions import ConditionError, compile_condition, lookup_in
from liminal_tui.profile.template_funcs import seed_random
from liminal_tui.profile.templates import TemplateError, compile_template, compile_value, render_value


def render(source: str, **ctx):  # type: ignore[no-untyped-def]
    return compile_template(source).render(ctx)


def test_encoding_functions():
    ctx = {"next": "/a b?c=1&d=é", "basic": "user:pa ss"}
    assert render("${urlencode:next}", **ctx) == "%2Fa%20b%3Fc%3D1%26d%3D%C3%A9"
    assert render("Basic ${base64:basic}", **ctx) == "Basic " + base64.b64encode(b"user:pa ss").decode()


def test_plain_variables_render_as_their_parts_do():
    """Text and two or more plain variables render through one ``str.format`` (the ws echo's hot path)
    while the values are str, int or float; any other value takes the parts, with the same text."""
    template = compile_template("{x} ${a}-${b}}")
    assert template.plain is not None
    for a, b, text in [("s", 1, "{x} s-1}"), (2, 1.5, "{x} 2-1.5}"), (True, None, "{x} true-}"),
                       ({"k": [1]}, [1, "2"], '{x} {"k":[1]}-[1,"2"]}')]:
        assert template.render({"a": a, "b": b}) == text
    with pytest.raises(KeyError, match="template variable 'b' has no value yet"):
        template.render({"a": 1})
    assert compile_template("${a} ${creds.name}").plain is None  # dotted: looked up by the parts
    assert compile_template("/u/${a}/${b}", url=True).plain is None  # percent-encoded by the parts


def test_time_and_random_functions():
    assert render("${now:%Y-%m-%d}") == datetime.now(timezone.utc).strftime("%Y-%m-%d")
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert before - 5 <= int(render("${unix_ms}")) <= before + 5000
    assert re.fullmatch(r"[A-Za-z0-9]{12}", render("${randstr:12}"))
    with pytest.raises(TemplateError, match="randstr"):
        compile_template("${randstr:x}")
    with pytest.raises(TemplateError, match="takes a variable name"):
        compile_template("${base64:not a name}")


def test_fake_values_are_plausible_and_repeatable_with_a_seed():
    seed_random(7)
    first = [render("${fake:name}"), render("${fake:email}")]
    seed_random(7)
    again = [render("${fake:name}"), render("${fake:email}")]
    assert first == again and " " in first[0] and "@" in first[1]
    seed_random(8)
    assert [render("${fake:name}"), render("${fake:email}")] != first
    seed_random(None)
    with pytest.raises(TemplateError, match="unknown fake value"):
        compile_template("${fake:__class__}")


def test_faker_is_imported_only_when_a_profile_uses_it():
    import subprocess

    code = ("import sys; from liminal_tui.profile.templates import compile_template as c; c('${randint:1:2}')"
            ".render({}); print('faker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_json_value_that_is_one_template_keeps_its_type():
    body = compile_value({"n": "${randint:5:5}", "s": "n=${randint:5:5}", "u": "${user}", "o": "${obj}",
                          "c": "${choice:1|2}", "w": "${choice:a|b}", "l": ["${unix_ms}"]}, typed=True)
    out = render_value(body, {"user": 3, "obj": {"k": [1, 2]}})
    assert out["n"] == 5 and out["s"] == "n=5" and out["u"] == 3 and out["o"] == {"k": [1, 2]}
    assert out["c"] in (1, 2) and out["w"] in ("a", "b") and isinstance(out["l"][0], int)


def test_objects_render_as_json_and_dotted_names_reach_into_them():
    ctx = {"obj": {"a": {"b": [10, 20]}}, "flag": True}
    assert json.loads(render("${obj}", **ctx)) == ctx["obj"]
    assert render("${obj.a.b.1}-${flag}", **ctx) == "20-true"


def test_pick_takes_an_item_of_a_list():
    assert render("${pick:ids}", ids=[42]) == "42"
    with pytest.raises(KeyError):
        render("${pick:ids}", ids=[])


def test_json_path_star():
    doc = {"items": [{"id": 1}, {"id": 2}, {"x": 3}], "tags": ["a", "b"]}
    assert json_path(doc, "items[*].id") == [1, 2]
    assert json_path(doc, "tags[*]") == ["a", "b"]
    assert json_path(doc, "nope[*].id") is MISSING


@pytest.mark.parametrize("text,ctx,status,expected", [
    ("status == 200", {}, 200, True),
    ("status != 200", {}, 404, True),
    ("count > 3 and count < 10", {"count": "5"}, 0, True),
    ("count >= 6", {"count": 5}, 0, False),
    ("role in ['admin', 'editor']", {"role": "editor"}, 0, True),
    ("role not in ['admin']", {"role": "editor"}, 0, True),
    ("ids exists", {"ids": [1]}, 0, True),
    ("ids exists", {}, 0, False),
    ("ids missing or ids == 1", {}, 0, True),
    ("not (a == 'x' or b == 2)", {"a": "y", "b": 2}, 0, False),
    ("creds.role == 'admin'", {"creds": {"role": "admin"}}, 0, True),
    ("flag", {"flag": "false"}, 0, False),
    ("unknown == 1", {}, 0, False),
    ("3 in ids", {"ids": [1, 2, 3]}, 0, True),
])
def test_when_grammar(text, ctx, status, expected):
    assert compile_condition(text)(lookup_in(ctx, status)) is expected


@pytest.mark.parametrize("text", ["", "status ===", "a == ", "(a == 1", "__import__('os')", "a == 1 b"])
def test_when_refuses_what_it_cannot_read(text):
    with pytest.raises(ConditionError):
        compile_condition(text)


def test_feeders_share_rows_between_workers_and_pick_as_asked():
    from liminal_tui.engine.feeders import Feeder
    from liminal_tui.profile.flow_models import DataFile

    rows = [{"n": i} for i in range(5)]
    seq = DataFile(name="d", file="x.csv", pick="sequential")
    w0, w1 = Feeder(seq, rows, 0, 2), Feeder(seq, rows, 1, 2)
    assert [w0.take()["n"] for _ in range(4)] == [0, 2, 4, 0]  # recycled
    assert [w1.take()["n"] for _ in range(3)] == [1, 3, 1]
    stop = Feeder(DataFile(name="d", file="x.csv", on_end="stop_user"), rows[:2], 0, 1)
    assert [stop.take(), stop.take(), stop.take()] == [rows[0], rows[1], None]
    rnd = Feeder(DataFile(name="d", file="x.csv", pick="random"), rows, 0, 1)
    assert {rnd.take()["n"] for _ in range(200)} == set(range(5))
    few = Feeder(seq, rows[:1], 1, 4)  # fewer rows than workers: every worker has them all
    assert few.take() == rows[0]


def test_data_files_report_what_is_wrong(tmp_path):
    from liminal_tui.profile.data_files import DataFileError, read_rows

    (tmp_path / "a.jsonl").write_text('{"u": 1}\nnot json\n')
    with pytest.raises(DataFileError, match="line 2 is not JSON"):
        read_rows(tmp_path / "a.jsonl")
    (tmp_path / "b.txt").write_text("u\n1\n")
    with pytest.raises(DataFileError, match="use a .csv"):
        read_rows(tmp_path / "b.txt")
    (tmp_path / "c.csv").write_text("u,p\n")
    with pytest.raises(DataFileError, match="no rows"):
        read_rows(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("\ufeffu,p\nx,y\n")  # a BOM from a spreadsheet
    assert read_rows(tmp_path / "d.csv") == ([{"u": "x", "p": "y"}], ["u", "p"])
