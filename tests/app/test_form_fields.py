"""The editor form's fields read and write TOML keys and keep the user's comments."""

from liminal_tui.profile import ProfileDocument, shipped_profiles
from liminal_tui.widgets.form_fields import FIELD_KEYS, problems_by_field, read_field, write_field


def smoke() -> ProfileDocument:
    return ProfileDocument.open(shipped_profiles()["smoke"])


def test_read_fields():
    doc = smoke()
    assert read_field(doc, FIELD_KEYS["load.users"]) == "10"
    assert read_field(doc, FIELD_KEYS["duration"]) == "1m"
    assert read_field(doc, FIELD_KEYS["thresholds"]).splitlines() == [
        "http: p99 < 500ms, error_rate < 1%",
        "ws_message:broadcast memory.updated: p95 < 200ms",
    ]


def test_write_keeps_comments_and_types():
    doc = smoke()
    assert write_field(doc, FIELD_KEYS["load.users"], "50") is None
    assert write_field(doc, FIELD_KEYS["load.spawn_rate"], "2.5") is None
    assert "users = 50\n" in doc.text
    assert "spawn_rate = 2.5\n" in doc.text
    assert '# the built-in demo target; or e.g. "http://localhost:8000"' in doc.text
    assert doc.validate().load.users == 50


def test_the_toml_always_says_what_the_field_says():
    """A bad number is written as text for validation to name; an empty field removes its key."""
    doc = smoke()
    assert write_field(doc, FIELD_KEYS["load.users"], "5-") is None
    assert 'users = "5-"\n' in doc.text and read_field(doc, FIELD_KEYS["load.users"]) == "5-"
    try:
        doc.validate()
    except Exception as exc:
        assert any(p.startswith("load.users: ") for p in exc.problems), exc.problems
    else:
        raise AssertionError("a bad number must be a problem")
    assert write_field(doc, FIELD_KEYS["load.users"], "") is None
    assert "users =" not in doc.text and read_field(doc, FIELD_KEYS["load.users"]) == ""
    assert doc.validate().load.users == 10  # the default the placeholder names
    assert FIELD_KEYS["load.users"].placeholder == "default: 10"


def test_description_and_think_time_fields():
    doc = smoke()
    assert write_field(doc, FIELD_KEYS["description"], "Checks the list") is None
    assert write_field(doc, FIELD_KEYS["load.think_time"], "0.5s-2s") is None
    profile = doc.validate()
    assert profile.description == "Checks the list" and profile.load.think_range == (0.5, 2.0)
    assert read_field(doc, FIELD_KEYS["load.think_time"]) == "0.5s-2s"
    assert write_field(doc, FIELD_KEYS["load.think_time"], "1s") is None
    assert doc.validate().load.think_range == (1.0, 1.0)


def test_stages_and_thresholds_round_trip():
    doc = smoke()
    assert write_field(doc, FIELD_KEYS["load.stages"], "20s:5, 30s:10") is None
    assert write_field(doc, FIELD_KEYS["thresholds"], "http: p99 < 400ms\nws_message:broadcast memory.updated: p95 < 100ms") is None
    profile = doc.validate()
    assert [(s.duration, s.target) for s in profile.load.stages] == [(20.0, 5.0), (30.0, 10.0)]
    assert profile.thresholds.rules == {"http": ["p99 < 400ms"], "ws_message:broadcast memory.updated": ["p95 < 100ms"]}
    assert read_field(doc, FIELD_KEYS["load.stages"]) == "20s:5, 30s:10"
    assert write_field(doc, FIELD_KEYS["load.stages"], "nonsense") is not None
    assert write_field(doc, FIELD_KEYS["load.stages"], "") is None
    assert doc.get("load.stages") is None


def test_problems_land_on_fields():
    doc = smoke()
    doc.set("load.users", 0)
    try:
        doc.validate()
    except Exception as exc:
        by_field = problems_by_field(exc.problems)
    assert "greater than or equal to 1" in by_field["load.users"][0]
    doc.set("load.users", 5)
    doc.set("load.stages", [{"duration": "2m", "target": 5}])  # longer than the 1m duration
    try:
        doc.validate()
    except Exception as exc:
        by_field = problems_by_field(exc.problems)
    assert "longer than duration" in by_field["load.stages"][0]
    assert problems_by_field(["TOML syntax error: x"]) == {"": ["TOML syntax error: x"]}
