"""One run of a profile: the object every front end (CLI, headless printer, app, tests) drives.

    run = Run(profile, workers=1)          # workers=0: the engine runs in this process (tests)
    sub = run.bus.subscribe("latest")      # or "every"; readers subscribe before start
    await run.start()                      # preflight (raises PreflightError), demo target, workers
    run.set_load(50)                       # users (closed) or iterations/s (open), while running
    await run.stop()                       # graceful: in-flight requests finish within the grace period
    final = await run.wait()               # the final Snapshot (final=True), always published on the bus

The engine itself lives in :mod:`liminal_tui.engine.worker`; this module is its main-process side.
"""

from __future__ import annotations

__all__ = ["Run", "PreflightError", "RunOptions"]
