"""The layout shows the flow: metrics/ needs nothing of the engine or the screen; readers need metrics/
(and the profile) but never the engine; the fast HTTP client depends on the aiohttp one, not back."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_metrics_imports_neither_the_engine_nor_textual():
    loaded = _modules_after("import " + ", ".join(
        f"liminal_tui.metrics.{m}" for m in ("kinds", "events", "snapshot", "recorder", "aggregate", "bus", "judge", "health")))
    assert not {m for m in loaded if m.startswith("liminal_tui.engine")}
    assert "textual" not in loaded


@pytest.mark.parametrize("reader", ["liminal_tui.headless", "liminal_tui.report", "liminal_tui.exporter",
                                    "liminal_tui.widgets", "liminal_tui.app", "liminal_tui.live"])
def test_readers_depend_on_metrics_not_on_the_engine(reader):
    loaded = _modules_after(f"import {reader}")
    assert not {m for m in loaded if m.startswith("liminal_tui.engine")}, reader


def test_the_aiohttp_client_does_not_import_the_fast_one():
    loaded = _modules_after("import liminal_tui.engine.clients.http")
    assert not {m for m in loaded if m.split(".")[-1] in ("fasthttp", "h1conn", "h1request")}
    assert "httptools" not in loaded


def test_the_http1_clients_do_not_import_the_http2_one():
    loaded = _modules_after("import liminal_tui.engine.clients.fasthttp, liminal_tui.engine.clients")
    assert not {m for m in loaded if m.startswith("liminal_tui.engine.clients.h2") or m == "h2" or m.startswith("h2.")}
