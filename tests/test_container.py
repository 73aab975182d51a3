"""What the container image relies on, checked without building it (bench/image.sh builds and runs it).

The image's working directory is ``/``, so the command's defaults land on its two mount points:
``./reports/`` is the volume ``/reports`` and ``./profiles/`` is ``/profiles``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROFILE = """
name = "mine"
target = "builtin"
duration = "1s"

[load]
users = 2
spawn_rate = 50

[[scenarios]]
name = "list"
[[scenarios.steps]]
type = "http"
path = "/api/memories"
"""


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    words = (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    return [(w[0].upper(), w[1] if len(w) > 1 else "") for w in words]


def test_a_profile_in_profiles_runs_by_name_and_its_report_goes_to_reports(tmp_path: Path) -> None:
    """The image's layout: in a folder holding profiles/ and reports/, `--run NAME` reads profiles/NAME.toml
    and the report goes to reports/, with no option (the image mounts /profiles and /reports at /)."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.toml").write_text(PROFILE)
    proc = subprocess.run([sys.executable, "-m", "liminal_tui", "--run", "mine", "--workers", "0", "--json", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    report = Path(json.loads(proc.stdout)["report_dir"])
    assert report.parent == Path("reports") and report.name.startswith("mine_")
    summary = json.loads((tmp_path / report / "summary.json").read_text())
    assert summary["profile"] == "mine" and summary["aggregates"]["all"]["requests"] > 0


def test_the_dockerfile_makes_the_documented_image() -> None:
    steps = instructions()
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM"):]
    final_args = {k: a for k, a in final}
    base = next(a for k, a in steps if k == "ARG" and a.startswith("BASE="))
    assert re.fullmatch(r"BASE=python:3\.\d+-slim(-\w+)?", base), "the default base is an official slim image"
    assert final_args["ENTRYPOINT"] == '["liminal-tui"]'
    user = final_args["USER"].split(":")
    assert all(part.isdigit() and int(part) != 0 for part in user), "a numeric non-root user (runAsNonRoot)"
    assert final_args["WORKDIR"] == "/" and final_args["VOLUME"] == '["/reports"]'
    assert "TERM=" in " ".join(a for k, a in final if k == "ENV")
    assert "HEALTHCHECK" not in dict(steps)


def test_every_file_the_build_copies_is_in_the_build_context() -> None:
    """.dockerignore excludes everything, then lets in what the Dockerfile copies; a COPY of something
    left out (or gone from the repository) fails the build."""
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    let_in = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    copied = [src for k, a in instructions() if k == "COPY" and not a.startswith("--from")
              for src in shlex.split(a)[:-1]]
    assert copied
    for src in copied:
        assert src in let_in, f".dockerignore leaves out {src}"
        assert (ROOT / src).exists(), f"{src} is not in the repository"
    # liminal_tui/profiles links to ../profiles: the wheel has the shipped profiles only if both are copied
    link = ROOT / "liminal_tui" / "profiles"
    if link.is_symlink():
        assert (link.parent / link.readlink()).resolve().relative_to(ROOT).as_posix() in copied
