"""The dashboard's pure helpers: thresholds, tiers, units, percentiles."""

from __future__ import annotations

import pytest

from dashboards import metrics, ui

BENCH = [  # the 2024 clusters as marts.dora_benchmarks has them (subset)
    {"report_year": 2024, "metric": "change_fail_rate", "tier": t, "tier_rank": r, "upper_bound": b, "label": lab}
    for t, r, b, lab in (("elite", 1, 0.05, "5%"), ("high", 2, 0.20, "20%"), ("medium", 3, 0.10, "10%"),
                         ("low", 4, None, "40%"))
] + [
    {"report_year": 2024, "metric": "lead_time", "tier": t, "tier_rank": r, "upper_bound": b, "label": t}
    for t, r, b in (("elite", 1, 86400.0), ("high", 2, 604800.0), ("medium", 3, 2592000.0), ("low", 4, None))
] + [
    {"report_year": 2024, "metric": "deployment_frequency", "tier": t, "tier_rank": r, "upper_bound": None,
     "label": lab}
    for t, r, lab in (("elite", 1, "on-demand"), ("high", 2, "daily-weekly"), ("medium", 3, "weekly-monthly"),
                      ("low", 4, "monthly-6-monthly"))
]


@pytest.mark.parametrize(("n", "need", "expected"), [
    (2, 5, "not enough data (n = 2 < 5)"), (5, 5, None), (9, 10, "not enough data (n = 9 < 10)"),
    (None, 5, "not enough data (n = 0 < 5)"),
])
def test_not_enough(n, need, expected):
    assert metrics.not_enough(n, need) == expected


def test_not_enough_names_what_is_missing_when_there_is_none():
    assert metrics.not_enough(0, 5, "resolved incident") == "not enough data (n = 0 < 5): no resolved incident in view"


def test_percentile_is_continuous():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20]
    assert metrics.percentile_cont(values, 0.5) == 8
    assert metrics.percentile_cont(values, 0.9) == pytest.approx(17.2)  # h = 12.6: 16 + 0.6 × 2
    assert metrics.percentile_cont([3.0], 0.9) == 3.0
    assert metrics.percentile_cont([], 0.5) is None


def test_tiers_take_the_best_tier_whose_bound_holds():
    assert metrics.tier_for("change_fail_rate", 0.05, BENCH, 2024).tier == "elite"  # bound included
    assert metrics.tier_for("change_fail_rate", 0.08, BENCH, 2024).tier == "high"  # 2024 is not monotonic
    assert metrics.tier_for("change_fail_rate", 0.5, BENCH, 2024).tier == "low"
    assert metrics.tier_for("lead_time", 86400.0, BENCH, 2024).tier == "high"  # lead time: strictly below
    assert metrics.tier_for("deployment_frequency", "daily-weekly", BENCH, 2024).tier == "high"
    assert metrics.tier_for("lead_time", None, BENCH, 2024) is None
    assert metrics.tier_for("lead_time", 10.0, BENCH, 2023) is None  # no such year in this list


@pytest.mark.parametrize(("median", "share", "deployments", "weeks", "bucket"), [
    (5.5, 1.0, 16, 2, "on-demand"), (1, 0.5, 4, 4, "daily-weekly"), (0, 0.25, 1, 4, "weekly-monthly"),
    (0, 0.2, 1, 5, "monthly-6-monthly"), (0, 0.0, 0, 3, "fewer"), (None, None, 0, 0, None),
])
def test_frequency_bucket(median, share, deployments, weeks, bucket):
    assert metrics.frequency_bucket(median, share, deployments, weeks) == bucket


def test_durations_for_people():
    assert metrics.fmt_duration(42 * 60) == "42 min"
    assert metrics.fmt_duration(5.5 * 3600) == "5.5 h"
    assert metrics.fmt_duration(4.2 * 86400) == "4.2 days"
    assert metrics.fmt_duration(None) == "–"
    assert metrics.fmt_delta_duration(1.6 * 86400, like=5.7 * 86400) == "+1.6 days"
    assert metrics.fmt_delta_duration(-4 * 3600, like=9 * 3600) == "-4.0 h"
    assert metrics.duration_unit([3600, 7200, 10800]) == ("hours", 3600.0)
    assert metrics.duration_unit([3 * 86400, 4 * 86400]) == ("days", 86400.0)
    assert metrics.fmt_pct(0.0625) == "6.2 %"


def test_sparkline_values_carry_gaps_and_need_two_points():
    assert ui.sparkline_values([1.0, None, 3.0]) == [1.0, 1.0, 3.0]
    assert ui.sparkline_values([None, 2.0, float("nan")]) is None


@pytest.mark.parametrize(("low", "high", "unit", "expected"), [
    (3600, 12 * 3600, 3600, 1800),  # 11 h / 40 = 0.275 h → 0.5 h
    (3600, 20 * 3600, 3600, 1800),  # 19 h / 40 = 0.475 h → 0.5 h
    (0, 300 * 86400, 86400, 10 * 86400),  # 300 days / 40 = 7.5 days → 10 days
    (0, 80 * 3600, 3600, 2 * 3600),  # exactly 2 h per bin
    (5 * 3600, 5 * 3600, 3600, 3600),  # no spread: one unit
])
def test_bin_width(low, high, unit, expected):
    assert metrics.bin_width(low, high, unit) == pytest.approx(expected)
