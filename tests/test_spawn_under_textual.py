"""Worker processes start from inside a running Textual app (which replaces sys.stderr)."""

from __future__ import annotations

import pytest

from textual.app import App

from liminal_tui.profile import load_profile
from liminal_tui.session import Session

pytestmark = pytest.mark.slow  # a real run with processes (the CLI, workers or the demo target)


async def test_worker_process_starts_inside_a_textual_app() -> None:
    outcome: list[object] = []

    class Host(App[None]):
        async def on_mount(self) -> None:
            profile = load_profile("profiles/smoke.toml").model_copy(update={"duration": 2.0})
            session = Session(profile, workers=1, report_base=None)
            session.prepare()
            try:
                await session.start()
                outcome.append(await session.finish())
            except Exception as exc:  # recorded, asserted below
                outcome.append(exc)
            self.exit()

    async with Host().run_test() as pilot:
        for _ in range(300):  # bounded: at most ~30 s
            if outcome:
                break
            await pilot.pause(0.1)
    assert outcome, "the run did not finish"
    result = outcome[0]
    assert not isinstance(result, Exception), repr(result)
    assert result.final.find("http").total > 0
