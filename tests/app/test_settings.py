"""The app remembers what the user picked in it (the theme) across restarts, in settings.toml."""

from __future__ import annotations

from liminal_tui.app import create_app
from liminal_tui.app.settings import settings_path


async def test_the_theme_picked_is_remembered_across_restarts(config_home):
    app = create_app(profile_dirs=[])
    async with app.run_test(size=(80, 24)) as pilot:
        default = app.theme
        assert not settings_path().exists()  # starting writes nothing
        picked = next(name for name in app.available_themes if name != default and name != "textual-ansi")
        app.theme = picked  # what the palette's "Change theme" does
        await pilot.pause()
    assert settings_path().parent == config_home / "liminal-tui"
    assert f'theme = "{picked}"' in settings_path().read_text()
    again = create_app(profile_dirs=[])
    async with again.run_test(size=(80, 24)) as pilot:
        assert again.theme == picked


async def test_a_broken_settings_file_is_named_and_ignored(config_home):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("theme = [oops\n")
    app = create_app(profile_dirs=[])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert any(str(path) in n.message for n in app._notifications)
        assert app.is_running
