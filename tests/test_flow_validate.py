"""``--validate`` catches what used to pass validation and fail at run time; new flow keys are checked.

Each case writes a profile file and runs the real CLI entry point; the error must name the file, the key
path and (where the key is written once) the line, in one line without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from liminal_tui.cli import main
from liminal_tui.profile import ProfileError, load_profile

HEAD = 'name = "t"\ntarget = "http://127.0.0.1:9"\nduration = "1s"\n'
STEP = '[[scenarios]]\nname = "s"\n[[scenarios.steps]]\ntype = "http"\npath = "/x"\n'

CASES = {
    "http.headers with an extracted variable": (
        HEAD + '[http]\nheaders = { Authorization = "Bearer ${token}" }\n' + STEP + 'extract = { token = "json:t" }\n',
        ["http.headers.Authorization: uses ${token}", "rendered once per worker", "(line 5)"],
    ),
    "[vars] with ${user}": (
        HEAD + '[vars]\nemail = "u${user}@example.com"\n' + STEP,
        ["vars.email: uses ${user}", "[user_vars]", "(line 5)"],
    ),
    "unset env": (
        HEAD + STEP + 'headers = { "X-Key" = "${env:LIMINAL_TEST_UNSET_42}" }\n',
        ["scenarios.0.steps.0.headers.X-Key", "LIMINAL_TEST_UNSET_42", "is not set", "(line 9)"],
    ),
    "path renders to a URL after other text": (
        HEAD + '[vars]\napi = "https://api.example.com"\n' + STEP.replace('path = "/x"', 'path = "v1${api}/items"'),
        ["scenarios.0.steps.0.path", "renders to 'v1https", "(line 10)"],
    ),
    "bad when": (
        HEAD + STEP + 'when = "status === 200"\n',
        ["scenarios.0.steps.0.when", "(line 9)"],
    ),
    "unknown template function": (
        HEAD + STEP + 'body = "${shout:x}"\n',
        ["unknown template function 'shout'", "(line 9)"],
    ),
    "missing data file": (
        HEAD + '[[data]]\nname = "creds"\nfile = "nope.csv"\n' + STEP,
        ["data.0.file", "nope.csv: no such file", "(line 6)"],
    ),
    "missing data column": (
        HEAD + '[[data]]\nname = "creds"\nfile = "users.csv"\n' + STEP + 'json = { u = "${creds.login}" }\n',
        ["data.0:", "has no column login", "username, password"],
    ),
    "socketio_emit without a connect": (
        HEAD + '[[scenarios]]\nname = "s"\n[[scenarios.steps]]\ntype = "socketio_emit"\nevent = "x"\n',
        ["steps.0: socketio_emit needs a socketio_connect step before it"],
    ),
    "unknown step type": (
        HEAD + '[[scenarios]]\nname = "s"\n[[scenarios.steps]]\ntype = "sleep"\n',
        ["unknown step type", "pause", "socketio_emit"],
    ),
    "setup without ws_connect": (
        HEAD + '[[scenarios]]\nname = "s"\n[[scenarios.setup]]\ntype = "ws_send"\ntext = "x"\n'
        '[[scenarios.steps]]\ntype = "http"\npath = "/x"\n',
        ["setup.0: ws_send needs a ws_connect step before it"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_names_file_key_and_line(case: str, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("LIMINAL_TEST_UNSET_42", raising=False)
    text, expected = CASES[case]
    (tmp_path / "users.csv").write_text("username,password\nuser1,pw1\n")
    path = tmp_path / "p.toml"
    path.write_text(text)
    code = main(["--validate", str(path)])
    err = capsys.readouterr().err
    assert code != 0, err
    assert err.startswith(f"{path}: ") and "Traceback" not in err and err.count("\n") == 1, err
    for part in expected:
        assert part in err, f"{part!r} not in {err!r}"


def test_a_set_env_passes_and_data_paths_are_relative_to_the_profile(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("LIMINAL_TEST_SET_42", "s3cret")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text("username,password\nuser1,pw1\n")
    path = tmp_path / "p.toml"
    path.write_text(HEAD + '[[data]]\nname = "creds"\nfile = "data/users.csv"\n' + STEP
                    + 'headers = { "X-Key" = "${env:LIMINAL_TEST_SET_42}" }\njson = { u = "${creds.username}" }\n')
    assert main(["--validate", str(path)]) == 0, capsys.readouterr().err
    profile = load_profile(path)
    assert Path(profile.data[0].file) == (tmp_path / "data" / "users.csv").resolve()


def test_a_path_that_starts_with_a_url_variable_is_fine(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text(HEAD + '[vars]\napi = "https://api.example.com"\n' + STEP.replace('"/x"', '"${api}/items"'))
    load_profile(path)  # no error: an absolute URL is used as it is


def test_the_old_errors_still_raise_profile_error(tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text(HEAD + '[vars]\nx = "${iteration}"\n' + STEP)
    with pytest.raises(ProfileError):
        load_profile(path)


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "profiles" / "examples").glob("*.toml"))


def test_there_is_an_example_per_capability():
    names = {p.stem for p in EXAMPLES}
    assert {"setup_teardown", "ws_handshake", "template_functions", "set_and_user_vars", "conditions_retry_pause",
            "data_feeder", "forms_uploads", "lists_and_extraction", "second_host", "socketio", "ws_fanout"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_shipped_example_validates(path: Path, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_PASSWORD", "example")
    assert main(["--validate", str(path)]) == 0, capsys.readouterr().err
