"""Pass/fail rules for CI, written as they read::

    [thresholds]
    abort_on_fail = false                       # stop the run as soon as a rule is lost for good
    http = ["p99 < 500ms", "error_rate < 1%", "rps >= 20"]
    "http:GET /api/memories/${memory_id}" = ["p95 < 300ms"]
    "ws_message:broadcast memory.updated" = ["p95 < 200ms"]
    ws_ping = ["p99 < 50ms"]

A key is a metric kind (``http``, ``ws_connect``, ``ws_ping``, ``ws_message``, or ``all``), alone for all of
that kind's endpoints together, or ``kind:name`` for one endpoint. A rule is ``STAT OP VALUE`` with STAT one
of ``p50 p66 p75 p80 p90 p95 p98 p99 p99.9 p99.99 max min avg`` (a duration), ``error_rate`` (a percentage),
``rps`` (requests per second), ``count`` or ``failures``; OP one of ``< <= > >=``.

A latency STAT prefixed with a timing judges that timing's histogram instead of the total latency:
``connect.`` (TCP connect), ``tls.`` (TLS handshake), ``ttfb.`` (time to first byte) or ``delivery.`` (a
``ws_wait``'s messages from the server's send stamp), e.g.::

    "ws_message:broadcast memory.updated" = ["delivery.p99 < 20ms"]
    http = ["ttfb.p95 < 100ms", "tls.max < 50ms"]

A rule on a timing that has no samples fails (``no data``), as every rule without data does: a ``delivery``
rule needs a ``ws_wait`` with ``stamp``, ``connect``/``tls`` rules requests that opened connections.

VALUE may be relative to a baseline run (``--run PROFILE --baseline PATH``): ``baseline``, ``baseline + 10%``,
``baseline - 5%`` (a percentage of the baseline's value) or ``baseline + 20ms`` (an amount in the stat's
unit), e.g. ``http = ["p99 < baseline + 10%", "rps > baseline - 5%"]``. Without a baseline these rules are
not judged (the run says so).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from ..metrics.kinds import ALL, PERCENTILE_NAMES, SELECTOR_KINDS, TIMINGS
from .durations import parse_duration

__all__ = ["Thresholds", "Rule", "KINDS", "LATENCY_STATS", "Verdict", "evaluate"]

KINDS = SELECTOR_KINDS
LATENCY_STATS = PERCENTILE_NAMES + ("max", "min", "avg")
OTHER_STATS = ("error_rate", "rps", "count", "failures")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_RULE = re.compile(r"^\s*([a-z_0-9.]+)\s*(<=|>=|<|>)\s*(\S+(?:\s*[-+*/]\s*\S+)?)\s*$")
_BASELINE = re.compile(r"^baseline(?:\s*([-+])\s*(\S+))?$")
_PERCENTILE = re.compile(r"^p\d+$")


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed rule. ``value`` is in milliseconds for latencies and a fraction for error_rate."""

    kind: str
    name: str | None
    stat: str
    op: str
    value: float
    text: str
    relative: float | None = None
    """Baseline rules: the fraction added to the baseline's value (``baseline + 10%``: 0.1)."""
    offset: float = 0.0
    """Baseline rules: the amount added to the baseline's value, in the unit of ``value``."""
    baseline: float | None = None
    """Baseline rules, once resolved: the baseline's value (``value`` is then the limit)."""
    timing: str | None = None
    """The timing judged (one of :data:`~..metrics.kinds.TIMINGS`, ``delivery.p99``), or None: the total
    latency; ``stat`` is then a latency statistic."""

    @property
    def metric(self) -> str:
        """What is looked up: ``stat``, or ``timing.stat`` (``delivery.p99``)."""
        return self.stat if self.timing is None else f"{self.timing}.{self.stat}"

    @property
    def against_baseline(self) -> bool:
        return self.relative is not None

    @property
    def resolved(self) -> bool:
        """A plain rule, or a baseline rule whose limit was computed from a baseline run."""
        return self.relative is None or self.baseline is not None

    def with_baseline(self, value: float) -> "Rule":
        """This baseline rule with its limit computed from the baseline's ``value``."""
        return replace(self, baseline=value, value=value * (1 + (self.relative or 0.0)) + self.offset)

    @property
    def selector(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"

    def passes(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's outcome for a run: the observed value (same unit as ``rule.value``) and pass or fail."""

    rule: Rule
    observed: float | None
    passed: bool

    def describe(self) -> str:
        if self.observed is None:
            shown = "no data" if self.rule.timing is None else f"no data: no {self.rule.timing} samples"
        else:
            shown = _format(self.rule.stat, self.observed)
        if self.rule.baseline is not None and self.rule.baseline != self.rule.baseline:  # NaN
            shown += "; the baseline has no figure for it"
        elif self.rule.baseline is not None:
            stat = self.rule.stat
            shown += f"; baseline {_format(stat, self.rule.baseline)}, limit {_format(stat, self.rule.value)}"
        return f"{self.rule.selector} {self.rule.text}: {'PASS' if self.passed else 'FAIL'} ({shown})"


def _format(stat: str, value: float) -> str:
    if stat in LATENCY_STATS:
        return f"{value:.2f} ms"
    if stat == "error_rate":
        return f"{value * 100:.2f}%"
    if stat == "rps":
        return f"{value:.1f}/s"
    return f"{value:g}"


def parse_rule(selector: str, text: str) -> Rule:
    kind, _, name = selector.partition(":")
    if kind not in KINDS:
        hint = get_close_matches(kind, KINDS, n=1)
        raise ValueError(
            f"'{kind}' is not a metric kind (use one of {', '.join(KINDS)})"
            + (f"; did you mean '{hint[0]}'?" if hint else "")
        )
    match = _RULE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a rule; write e.g. \"p99 < 500ms\" or \"error_rate < 1%\"")
    stat, op, raw = match.groups()
    timing, stat = _timing(stat, text)
    rule = _parse_value(kind, name or None, stat, op, raw, text)
    return rule if timing is None else replace(rule, timing=timing)


def _timing(stat: str, text: str) -> tuple[str | None, str]:
    """``delivery.p99`` -> (``delivery``, ``p99``); ``p99.9`` is a percentile, not a timing."""
    head, dot, rest = stat.partition(".")
    if not dot or _PERCENTILE.match(head):
        return None, stat
    if head not in TIMINGS:
        hint = get_close_matches(head, TIMINGS, n=1)
        raise ValueError(f"'{text}': unknown timing '{head}' (a timing is one of {', '.join(TIMINGS)})"
                         + (f"; did you mean '{hint[0]}'?" if hint else ""))
    if rest not in LATENCY_STATS:
        raise ValueError(f"'{text}': a timing takes a latency statistic ({' '.join(LATENCY_STATS)}), not '{rest}'")
    return head, rest


def _parse_value(kind: str, name: str | None, stat: str, op: str, raw: str, text: str) -> Rule:
    if raw.startswith("baseline") and stat in LATENCY_STATS + OTHER_STATS:
        return _baseline_rule(kind, name, stat, op, raw, text)
    if stat in LATENCY_STATS + OTHER_STATS and get_close_matches(re.split(r"[-+*/\s]", raw)[0], ["baseline"], n=1, cutoff=0.7):
        raise ValueError(f"'{text}': did you mean 'baseline'? (e.g. \"{stat} {op} baseline + 10%\")")
    if stat in LATENCY_STATS:
        try:
            value = parse_duration(raw) * 1000.0
        except ValueError:
            raise ValueError(f"'{text}': {stat} needs a duration such as 500ms or 1.5s") from None
    elif stat == "error_rate":
        try:
            value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
        except ValueError:
            raise ValueError(f"'{text}': error_rate needs a percentage such as 1% or 0.5%") from None
    elif stat in OTHER_STATS:
        try:
            value = float(raw.removesuffix("/s"))
        except ValueError:
            raise ValueError(f"'{text}': {stat} needs a number") from None
    else:
        hint = get_close_matches(stat, LATENCY_STATS + OTHER_STATS, n=1)
        raise ValueError(
            f"'{text}': unknown statistic '{stat}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
        )
    return Rule(kind, name, stat, op, value, text.strip())


def _baseline_rule(kind: str, name: str | None, stat: str, op: str, raw: str, text: str) -> Rule:
    match = _BASELINE.match(raw)
    if not match:
        raise ValueError(f"'{text}': write the baseline as \"baseline\", \"baseline + 10%\" or \"baseline - 5%\"")
    sign, amount = match.groups()
    relative, offset = 0.0, 0.0
    if amount is not None:
        factor = -1.0 if sign == "-" else 1.0
        try:
            if amount.endswith("%"):
                relative = factor * float(amount[:-1]) / 100.0
            elif stat in LATENCY_STATS:
                offset = factor * parse_duration(amount) * 1000.0
            elif stat == "error_rate":
                raise ValueError
            else:
                offset = factor * float(amount.removesuffix("/s"))
        except ValueError:
            unit = "a percentage (10%) or a duration (20ms)" if stat in LATENCY_STATS else "a percentage such as 10%"
            raise ValueError(f"'{text}': the amount after 'baseline' must be {unit}") from None
    return Rule(kind, name, stat, op, 0.0, text.strip(), relative=relative, offset=offset)


class Thresholds(BaseModel):
    """The ``[thresholds]`` table: ``abort_on_fail`` plus one list of rules per metric selector."""

    model_config = ConfigDict(extra="forbid")

    abort_on_fail: bool = False
    """Stop the run early when a rule can no longer pass (checked every second after 10 s)."""
    rules: dict[str, list[str]] = {}
    """Selector -> rules; in TOML these are the table's other keys."""

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "rules" in data:
            return data
        data = dict(data)
        abort = data.pop("abort_on_fail", False)
        rules: dict[str, list[str]] = {}
        for selector, value in data.items():
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"thresholds.{selector}: expected a list of rules like [\"p99 < 500ms\"]")
            rules[selector] = value
        return {"abort_on_fail": abort, "rules": rules}

    @model_validator(mode="after")
    def _parse(self) -> "Thresholds":
        for selector, texts in self.rules.items():
            for text in texts:
                try:
                    parse_rule(selector, text)
                except ValueError as exc:
                    raise ValueError(f"thresholds.{selector}: {exc}") from None
        return self

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {"abort_on_fail": self.abort_on_fail} if self.abort_on_fail else {}
        out.update(self.rules)
        return out

    def parsed(self) -> list[Rule]:
        return [parse_rule(sel, text) for sel, texts in self.rules.items() for text in texts]

    def check_names(self, names: dict[str, set[str]]) -> None:
        """Raise when a rule names an endpoint the profile never produces."""
        for rule in self.parsed():
            if rule.name is None:
                continue
            known = names.get(rule.kind, set()) if rule.kind != ALL else set().union(*names.values())
            if rule.name not in known:
                hint = get_close_matches(rule.name, sorted(known), n=1)
                raise ValueError(
                    f"thresholds.\"{rule.selector}\": no step produces a {rule.kind} metric named "
                    f"'{rule.name}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
                    + (f" (known: {', '.join(sorted(known))})" if known and not hint else "")
                )


def evaluate(rules: list[Rule], lookup: Callable[[str, str | None, str], float | None]) -> list[Verdict]:
    """Judge each rule with ``lookup(kind, name, metric)`` (``metric``: :attr:`Rule.metric`, ``p99`` or
    ``delivery.p99``), which returns the observed value or None.

    A rule with no data fails: a threshold never passes silently.
    """
    verdicts = []
    for rule in rules:
        if not rule.resolved:
            continue  # relative to a baseline, and no baseline was given
        observed = lookup(rule.kind, rule.name, rule.metric)
        if observed is None:
            passed = False
        else:
            passed = rule.passes(observed)
        verdicts.append(Verdict(rule, observed, passed))
    return verdicts
