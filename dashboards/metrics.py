"""Pure helpers behind the dashboard's figures: thresholds, tiers, units. No Streamlit, no DuckDB.

The thresholds below decide when a figure is shown or replaced by "not enough data (n = 2 < 5)". They are
the dashboard's rule, not the marts' (``marts.dora_metrics`` publishes every figure with its n):

- a **median** (p50) or a mean needs at least ``MIN_N_P50`` = 5 values — below that one value moves it a lot;
- a **p90** needs at least ``MIN_N_P90`` = 10 values — with fewer, the continuous p90 is an interpolation
  between the two largest values, i.e. mostly the maximum;
- a **rate** (change fail rate, rework rate) needs at least ``MIN_N_RATE`` = 10 production deployments —
  with fewer, one deployment moves it by more than ten percentage points;
- deployment frequency is a count and is always shown.

A trend (delta vs the previous period of the same length) is shown only when both periods clear the bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_N_P50 = 5
MIN_N_P90 = 10
MIN_N_RATE = 10

HOUR = 3600.0
DAY = 86400.0

# lower is better for these metrics; deployment frequency is better when higher
LOWER_IS_BETTER = {"lead_time": True, "change_fail_rate": True, "recovery_time": True, "rework_rate": True,
                   "incident_time_to_restore": True, "deployment_frequency": False}

TIER_COLOURS = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}

FREQUENCY_BUCKETS = ("on-demand", "daily-weekly", "weekly-monthly", "monthly-6-monthly", "fewer")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 failed change``, ``2 failed changes``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def not_enough(n: int | None, need: int, what: str | None = None) -> str | None:
    """The on-screen reason a figure is hidden, or None when ``n`` is enough; ``what`` names the n when it is 0."""
    n = int(n or 0)
    if n >= need:
        return None
    reason = f"not enough data (n = {n} < {need})"
    return f"{reason}: no {what} in view" if n == 0 and what else reason


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def duration_unit(values: Iterable[float | None]) -> tuple[str, float]:
    """The unit to draw a set of durations in (seconds in): hours, or days when their median is ≥ 2 days."""
    clean = sorted(v for v in values if not is_missing(v) and v > 0)
    if not clean:
        return "hours", HOUR
    median = clean[len(clean) // 2]
    return ("days", DAY) if median >= 2 * DAY else ("hours", HOUR)


def fmt_duration(seconds: float | None) -> str:
    """A duration for people: minutes under an hour, hours under three days, else days."""
    if is_missing(seconds):
        return "–"
    seconds = float(seconds)
    sign = "−" if seconds < 0 else ""
    s = abs(seconds)
    if s < HOUR:
        return f"{sign}{s / 60:.0f} min"
    if s < 3 * DAY:
        return f"{sign}{s / HOUR:.1f} h"
    return f"{sign}{s / DAY:.1f} days"


def duration_scale(seconds: float | None) -> tuple[str, float]:
    """The unit ``fmt_duration`` would write ``seconds`` in: (suffix, seconds per unit)."""
    s = abs(float(seconds or 0))
    if s < HOUR:
        return "min", 60.0
    if s < 3 * DAY:
        return "h", HOUR
    return "days", DAY


def fmt_delta_duration(seconds: float, like: float | None = None) -> str:
    """A signed duration delta (st.metric reads the leading sign for the arrow), in the unit of ``like`` (the
    figure it changes) so "5.7 days" moves by "+1.6 days", not "+39.4 h"."""
    unit, div = duration_scale(like if like is not None else seconds)
    value = abs(seconds) / div
    return ("-" if seconds < 0 else "+") + (f"{value:.0f} {unit}" if unit == "min" else f"{value:.1f} {unit}")


def fmt_pct(rate: float | None, digits: int = 1) -> str:
    return "–" if is_missing(rate) else f"{rate * 100:.{digits}f} %"


def frequency_bucket(median_days_per_week: float | None, share_of_weeks: float | None, deployments: int,
                     weeks: int) -> str | None:
    """The deployment-frequency bucket, the rule of marts.dora_metrics (docs/metrics.md)."""
    if not weeks:
        return None
    if (median_days_per_week or 0) >= 5:
        return "on-demand"
    if (median_days_per_week or 0) >= 1:
        return "daily-weekly"
    if (share_of_weeks or 0) >= 0.25:
        return "weekly-monthly"
    if deployments > 0:
        return "monthly-6-monthly"
    return "fewer"


@dataclass(frozen=True)
class Tier:
    tier: str
    label: str
    year: int


def tier_for(metric: str, value: float | str | None, benchmarks: Sequence[Mapping], year: int) -> Tier | None:
    """The best tier of ``year``'s DORA clusters whose bound ``value`` meets (the marts' rule).

    Lead time and recovery time: value < upper bound; change fail rate: value ≤ upper bound; a null bound
    matches anything; deployment frequency matches its bucket label.
    """
    if is_missing(value):
        return None
    rows = sorted((b for b in benchmarks if b["report_year"] == year and b["metric"] == metric),
                  key=lambda b: b["tier_rank"])
    for b in rows:
        bound = b["upper_bound"]
        if metric == "deployment_frequency":
            hit = b["label"] == value
        elif is_missing(bound):
            hit = True
        elif metric == "change_fail_rate":
            hit = value <= bound
        else:
            hit = value < bound
        if hit:
            return Tier(b["tier"], b["label"], year)
    return None


def percentile_cont(values: Sequence[float], q: float) -> float | None:
    """Continuous (linearly interpolated) percentile — DuckDB's quantile_cont, numpy's default."""
    data = sorted(values)
    if not data:
        return None
    h = (len(data) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (h - lo) * (data[hi] - data[lo])


def bin_width(low: float | None, high: float | None, unit_s: float, bins: int = 40) -> float:
    """A round histogram bin width, in seconds: 1, 2 or 5 × 10^k of the unit (``unit_s`` seconds), the smallest
    that covers [``low``, ``high``] in about ``bins`` bins (one unit when there is no spread), so bin edges read
    as round numbers of the unit."""
    span = ((high or 0) - (low or 0)) / unit_s / bins
    if span <= 0:
        return unit_s
    scale = 10 ** math.floor(math.log10(span))
    return next(m * scale for m in (1, 2, 5, 10) if m * scale >= span) * unit_s
