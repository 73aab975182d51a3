"""A user's flow: setup and teardown once per user, ``when``/``retry`` on a step, ``set`` and ``pause``
steps, ``[user_vars]`` and ``[[data]]`` rows.

Nothing here runs for a profile that does not use it: :func:`make_iteration`'s loop skips the setup and
data checks unless a scenario has setup/teardown or the profile has per-iteration data, and a step is
wrapped in :class:`Guarded` only when it has ``when``, ``retry`` or ``cookies``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Awaitable, Callable, Mapping

from ..profile.conditions import compile_condition, lookup_in
from ..profile.flow_models import PauseStep, SetStep
from ..profile.templates import compile_template, compile_value, render_value
from .feeders import Feeder

__all__ = ["Guarded", "SetCall", "PauseCall", "ScenarioFlow", "make_iteration", "UserMaker", "BACKOFF_MAX",
           "SetCookies", "MaybeAbsolute", "handshake"]

BACKOFF_MAX = 30.0
"""Longest wait between two setup attempts (seconds)."""


async def _sleep(user: Any, seconds: float) -> None:
    """Sleep that a stopping user leaves at once (the load cancels a user marked ``holding``)."""
    if seconds <= 0 or user.stopping:
        return
    user.holding = True
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if not user.stopping:
            raise
    finally:
        user.holding = False


async def _park(user: Any) -> None:
    """End a user of the closed model without freeing its place (which the load would refill at once):
    it waits, sending nothing, until it is stopped or retired."""
    user.holding = True
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        if not user.stopping:
            raise
    finally:
        user.holding = False
        user.stopping = True


async def run_steps(steps: list[Any], user: Any) -> bool:
    """Run ``steps`` in order; a failure that ends the iteration counts the rest as skipped. True: all ran."""
    for i, step in enumerate(steps):
        if not await step.run(user) and step.ends_iteration:
            for later in steps[i + 1:]:
                later.skip()
            return False
    return True


class Guarded:
    """A compiled step with ``when`` (skipped, not failed, when false), ``retry`` and step ``cookies``."""

    def __init__(self, inner: Any, when: str | None, retry: Any, cookies: dict[str, str] | None) -> None:
        self.inner = inner
        self.skip_rec = getattr(inner, "skip_rec", None)
        self.when = compile_condition(when) if when else None
        self.times = retry.times if retry is not None else 0
        self.pause = retry.pause if retry is not None else 0.0
        self.cookies = {k: compile_template(v) for k, v in cookies.items()} if cookies else None

    @property
    def ends_iteration(self) -> bool:
        return self.inner.ends_iteration

    @ends_iteration.setter
    def ends_iteration(self, value: bool) -> None:
        self.inner.ends_iteration = value

    def skip(self) -> None:
        self.inner.skip()

    async def run(self, user: Any) -> bool:
        if self.when is not None and not self.when(lookup_in(user.vars, user.status)):
            self.inner.skip()
            return True
        if self.cookies is not None:
            try:
                values = {k: t.render(user.vars) for k, t in self.cookies.items()}
            except KeyError:
                self.inner.skip()
                return False
            self.inner.set_cookies(user, values)
        ok = await self.inner.run(user)
        attempt = 0
        while not ok and attempt < self.times and not user.stopping:
            attempt += 1
            await _sleep(user, self.pause)
            ok = await self.inner.run(user)
        return ok


class SetCall:
    """``type = "set"``: render the variables (typed) into the user's."""

    ends_iteration = True
    skip_rec = None

    def __init__(self, step: SetStep, eng: Any) -> None:
        self.values = {k: compile_value(v, typed=True) for k, v in step.vars.items()}

    def skip(self) -> None:
        pass

    async def run(self, user: Any) -> bool:
        try:
            rendered = {k: render_value(v, user.vars) for k, v in self.values.items()}
        except KeyError:
            return False
        user.vars.update(rendered)
        return True


class PauseCall:
    """``type = "pause"``: a fixed or random wait (a stopping user leaves it at once)."""

    ends_iteration = True
    skip_rec = None

    def __init__(self, step: PauseStep, eng: Any) -> None:
        self.lo, self.hi = step.bounds

    def skip(self) -> None:
        pass

    async def run(self, user: Any) -> bool:
        await _sleep(user, self.lo if self.lo == self.hi else random.uniform(self.lo, self.hi))
        return True


class ScenarioFlow:
    """One scenario compiled: its steps, and setup/teardown with the setup failure policy."""

    def __init__(self, scenario: Any, compile_steps: Callable[..., list[Any]]) -> None:
        self.scenario = scenario
        self.steps = compile_steps(scenario.steps)
        self.starts = [getattr(step, "now", step.run) for step in self.steps]
        """How each step is started: its ``now()`` (True/False at once, or an awaitable) where it has one."""
        self.setup = compile_steps(scenario.setup, "end_iteration")  # any failure fails the setup
        self.teardown = compile_steps(scenario.teardown)
        self.policy = scenario.on_setup_failure
        self.needs_start = bool(self.setup or self.teardown)

    async def start(self, user: Any) -> bool:
        """Run setup (retrying by the policy); False: the user is to end."""
        attempts = 1 + (self.policy.times if self.policy.action == "retry" else 0)
        for attempt in range(attempts):
            if await run_steps(self.setup, user):
                return True
            if attempt + 1 < attempts:
                await _sleep(user, min(BACKOFF_MAX, self.policy.backoff * 2 ** attempt))
            if user.stopping:
                break
        return False

    async def finish(self, user: Any) -> None:
        if self.teardown:
            await run_steps(self.teardown, user)


Iteration = Callable[[Any], Awaitable[None]]


def make_iteration(flows: list[ScenarioFlow], cum_weights: list[int], feeders: list[Feeder]) -> Iteration:
    """The worker's iteration: pick a scenario (start it for this user first if it has setup or teardown,
    take the iteration's data rows), run its steps. One coroutine an iteration: the steps' loop is here,
    each step started by its ``now()`` where it has one (a coroutine made and run per step, or a
    ``run_steps`` between, cost ~0.4 us each)."""
    per_iteration = [f for f in feeders if f.pick != "per_user"]
    plain = not feeders and not any(f.needs_start for f in flows)
    single = flows[0] if len(flows) == 1 else None

    async def iteration(user: Any) -> None:
        flow = single or random.choices(flows, cum_weights=cum_weights)[0]
        if not plain:
            if user.ended:
                await _end(user)
                return
            for feeder in per_iteration:
                row = feeder.take()
                if row is None:
                    await _end(user)
                    return
                user.vars[feeder.name] = row
            if flow.needs_start and (user.started is None or flow not in user.started):
                if flow.setup and not await flow.start(user):
                    await _end(user)
                    return
                if user.started is None:
                    user.started = []
                user.started.append(flow)
        steps = flow.steps
        for i, start in enumerate(flow.starts):
            ok = start(user)
            if ok.__class__ is not bool:
                ok = await ok
            if not ok and steps[i].ends_iteration:
                for later in steps[i + 1:]:  # not run: counted, so they are seen
                    later.skip()
                return

    return iteration


async def _end(user: Any) -> None:
    user.ended = True
    if user.schedule_lag_ns < 0:  # closed model: keep the place, send nothing
        await _park(user)


class UserMaker:
    """Makes a worker's users: ``[vars]``, then ``per_user`` data rows, then ``[user_vars]``."""

    def __init__(self, user_cls: Any, base_vars: dict[str, Any], user_vars: dict[str, Any], feeders: list[Feeder]) -> None:
        self.user_cls = user_cls
        self.base_vars = base_vars
        self.user_vars = {k: compile_value(v, typed=True) for k, v in user_vars.items()}
        self.per_user = [f for f in feeders if f.pick == "per_user"]

    def __call__(self, number: int) -> Any:
        user = self.user_cls(number, self.base_vars)
        for feeder in self.per_user:
            row = feeder.take()
            if row is None:
                user.ended = True
                return user
            user.vars[feeder.name] = row
        for name, value in self.user_vars.items():
            user.vars[name] = render_value(value, user.vars)
        return user


class SetCookies:
    """Response headers holding only ``Set-Cookie`` values (a step's own ``cookies``, see follow.py)."""

    def __init__(self, values: list[str]) -> None:
        self.set_cookie = values


class MaybeAbsolute:
    """A path that starts with a template: an absolute URL when it renders to one (used as it is, still
    counted under the step's name), else joined to the target."""

    is_static = False

    def __init__(self, template: Any, base_url: str) -> None:
        self.template = template
        self.base_url = base_url

    def render(self, ctx: Mapping[str, Any]) -> str:
        url = self.template.render(ctx)
        return url if url.startswith(("http://", "https://")) else self.base_url + url


async def handshake(steps: list[Any], user: Any, gate: asyncio.Event) -> bool:
    """A ``ws_connect``'s ``on_connect`` steps, after a connect or a reconnect; True: all passed. The
    user's own ``ws_send`` steps wait at ``gate`` until it is done."""
    try:
        for step in steps:
            if not await step.run(user):
                return False
        return True
    finally:
        gate.set()
