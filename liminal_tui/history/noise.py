"""How large a difference between two runs has to be before it is more than run-to-run variation.

Three measures of noise, each a 95% half-width of the difference ``new - old`` in the metric's unit; a
change counts only when it is larger than every one that applies, and than :data:`MIN_CHANGE` of the old
value (so a 1% move never counts, however quiet the endpoint):

* **percentiles**: the distribution-free interval of a quantile, read from each run's whole HDR histogram
  (the order statistics at ``n·q ± 1.96·sqrt(n·q·(1-q))``: no assumption about the latency's shape);
* **per-second spread**: Welch's interval for the difference of the per-second means (the history CSV:
  one value per tick), with Student's t for small samples: a run that wobbles from second to second needs
  a larger change to count;
* **counts**: Poisson noise of the request count (rates) and binomial noise of the error fraction;
* **between runs**: with 3 or more other runs of the profile against the same target in the history (the
  last :data:`PEERS` before the new run), the spread of the figure across them: the run-to-run variation
  itself, which within-run measures cannot see (a machine busier during one run than the other).
"""

from __future__ import annotations

import math
from statistics import fmean, variance
from typing import Sequence

from hdrh.histogram import HdrHistogram

__all__ = ["MIN_CHANGE", "MIN_ERROR_POINTS", "PEERS", "MIN_PEERS", "MIN_SECONDS", "method", "between_runs", "t975",
           "welch", "quantile_halfwidth", "poisson_rate", "binomial"]

MIN_CHANGE = 0.05
"""The smallest relative change that can count, whatever the noise (5% of the old value; ``--min-change``).
Within-run spread cannot see a machine that is busier during one run than the other: on a shared machine
raise it."""
MIN_ERROR_POINTS = 0.001
"""The smallest change of the error rate that can count: 0.1 percentage point."""
PEERS = 10
"""At most this many earlier runs measure the run-to-run spread."""
MIN_PEERS = 3
"""The run-to-run spread needs at least this many other runs."""
MIN_SECONDS = 3
"""Per-second spread needs this many seconds on each side (with 2, Student's t is 12.7: no information)."""


def method(min_change: float = MIN_CHANGE) -> str:
    """How verdicts were decided, in one paragraph for every output."""
    return (
        "A change counts (better/worse) only when it is larger than the run-to-run noise, taken as the largest "
        "95% interval that applies: percentiles from each run's HDR histogram (distribution-free order-statistic "
        f"interval) and from the spread of per-second values (Welch, Student's t; {MIN_SECONDS} seconds or more a "
        "run, the final partial second left out); req/s from the per-second spread and the Poisson noise of the count; error rate from binomial "
        "noise; and every figure from its spread across the profile's other runs against the same target (at "
        f"least {MIN_PEERS}, the last {PEERS}). Changes under {min_change * 100:g}% (error rate: "
        f"{MIN_ERROR_POINTS * 100:g} point) are always 'same'. max is a single sample, and the timings (connect, "
        "tls, ttfb, delivery) have no noise measure in a report: shown, not judged."
    )

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: float) -> float:
    """Student's t 97.5% quantile (two-sided 95%); 1.96 beyond 30 degrees of freedom."""
    if df < 1:
        return _T975[0]
    return _T975[int(df) - 1] if df <= 30 else 1.96


def between_runs(values: Sequence[float]) -> float | None:
    """95% half-width of the difference of two runs, from the spread of other runs' values (None with
    fewer than :data:`MIN_PEERS`): each run varies by the sample's stdev, their difference by sqrt(2) of it."""
    if len(values) < MIN_PEERS:
        return None
    return t975(len(values) - 1) * math.sqrt(2 * variance(values))


def welch(old: Sequence[float], new: Sequence[float]) -> float | None:
    """95% half-width of the difference of two means (None with under :data:`MIN_SECONDS` values a side)."""
    if len(old) < MIN_SECONDS or len(new) < MIN_SECONDS:
        return None
    a, b = variance(old) / len(old), variance(new) / len(new)
    if a + b == 0:
        return 0.0
    df = (a + b) ** 2 / ((a * a / (len(old) - 1)) + (b * b / (len(new) - 1)))
    return t975(df) * math.sqrt(a + b)


def _quantile_interval(hist: HdrHistogram, q: float) -> tuple[float, float]:
    n = hist.get_total_count()
    spread = 1.96 * math.sqrt(n * q * (1 - q))
    low = max(0.0, (n * q - spread) / n * 100)
    high = min(100.0, (n * q + spread + 1) / n * 100)
    return hist.get_value_at_percentile(low) / 1000.0, hist.get_value_at_percentile(high) / 1000.0


def quantile_halfwidth(old: HdrHistogram, new: HdrHistogram, q: float) -> float:
    """95% half-width (ms) of the difference of the q-quantiles (0 < q < 1) of two histograms (us)."""
    widths = []
    for hist in (old, new):
        low, high = _quantile_interval(hist, q)
        widths.append((high - low) / 2)
    return math.hypot(*widths)


def poisson_rate(count_old: float, seconds_old: float, count_new: float, seconds_new: float) -> float | None:
    """95% half-width (per second) of the difference of two rates from their counts."""
    if seconds_old <= 0 or seconds_new <= 0:
        return None
    return 1.96 * math.hypot(math.sqrt(count_old) / seconds_old, math.sqrt(count_new) / seconds_new)


def binomial(failures_old: int, total_old: int, failures_new: int, total_new: int) -> float | None:
    """95% half-width of the difference of two error fractions."""
    if total_old <= 0 or total_new <= 0:
        return None
    p = (failures_old + failures_new) / (total_old + total_new)  # pooled: the null hypothesis
    return 1.96 * math.sqrt(p * (1 - p) * (1 / total_old + 1 / total_new))


def mean(values: Sequence[float]) -> float:
    return fmean(values) if values else 0.0
