"""DORA overview: the five DORA metrics for production, as tiles with tier, trend, sparkline and n."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import streamlit as st

from dashboards import data, filters, metrics, ui
from dashboards.metrics import MIN_N_P50, MIN_N_P90, MIN_N_RATE

view = filters.current()
ui.header(
    "DORA overview — how fast and how safely do we ship to production?",
    "The five DORA metrics over the production deployments in view, each with its performance tier from the "
    "DORA report, its trend against the previous period of the same length, its weekly sparkline and the n "
    "behind it.",
    "Production = environments of tier production. Percentiles are continuous (linearly interpolated). A figure "
    f"needs n ≥ {MIN_N_P50} for a median, n ≥ {MIN_N_P90} for a p90, and ≥ {MIN_N_RATE} production deployments "
    "for a rate; with fewer the tile says *not enough data* instead of a number.",
    view,
)

bench = data.benchmarks()
years = sorted({b["report_year"] for b in bench}, reverse=True)
controls = st.columns([1, 1, 3])
year = controls[0].selectbox("Tiers: DORA report year", years, key="dora_year",
                             help="Benchmarks are versioned data (marts.dora_benchmarks); the newest is the default.")

now = data.dora_summary(view)
previous_view = view.previous()
# a trend needs a previous period the data covers (else "up from nothing" would be invented)
has_previous = previous_view.start >= data.filter_options().first
before = data.dora_summary(previous_view) if has_previous else {}
weekly = data.dora_weekly(view)
previous_label = f"vs {previous_view.start:%b %d}–{previous_view.end:%b %d}"


@dataclass
class Figure:
    value: float | None
    n: int
    need: int
    what: str | None = None  # what n counts, for the n = 0 message

    @property
    def reason(self) -> str | None:
        return metrics.not_enough(self.n, self.need, self.what)

    @property
    def shown(self) -> float | None:
        return None if self.reason or metrics.is_missing(self.value) else self.value


def figures(row: dict, days: int) -> dict[str, Figure]:
    deployments = int(row.get("deployments") or 0)
    return {
        "frequency": Figure(deployments / days * 7 if days else None, deployments, 0),
        "lead_p50": Figure(row.get("lead_time_p50_s"), int(row.get("lead_time_n") or 0), MIN_N_P50,
                           "change delivered to production"),
        "lead_p90": Figure(row.get("lead_time_p90_s"), int(row.get("lead_time_n") or 0), MIN_N_P90),
        "cfr": Figure(row.get("change_fail_rate"), deployments, MIN_N_RATE, "production deployment"),
        "recovery_p50": Figure(row.get("recovery_time_p50_s"), int(row.get("recovery_time_n") or 0), MIN_N_P50,
                               "recovered failed change"),
        "recovery_p90": Figure(row.get("recovery_time_p90_s"), int(row.get("recovery_time_n") or 0), MIN_N_P90),
        "rework": Figure(row.get("rework_rate"), deployments, MIN_N_RATE, "production deployment"),
        "restore_p50": Figure(row.get("incident_time_to_restore_p50_s"),
                              int(row.get("incident_time_to_restore_n") or 0), MIN_N_P50, "resolved incident"),
    }


cur = figures(now, view.days)
prev = figures(before, previous_view.days)


def delta(key: str, kind: str) -> str | None:
    a, b = cur[key].shown, prev[key].shown
    if not has_previous or a is None or b is None:
        return None
    diff = a - b
    if kind == "duration":
        return metrics.fmt_delta_duration(diff, like=a)
    if kind == "rate":
        return f"{diff * 100:+.1f} pp"
    return f"{diff:+.1f} per week"


def spark(column: str, scale: float = 1.0) -> list[float] | None:
    if column not in weekly.columns:
        return None
    return ui.sparkline_values([None if v is None else v / scale for v in weekly[column].to_list()])


def tile(container, label: str, value: str, fig: Figure, *, delta_text: str | None, lower_is_better: bool,
         help_text: str, tier_line: str, n_line: str, chart: list[float] | None, chart_type: str = "line") -> None:
    with container.container(border=True):
        reason = fig.reason
        st.metric(
            label,
            "Not enough data" if reason else value,
            delta=None if reason else delta_text,
            delta_color="inverse" if lower_is_better else "normal",
            delta_description=previous_label if (delta_text and not reason) else None,
            help=help_text,
            chart_data=None if reason else chart,
            chart_type=chart_type,
        )
        if reason:
            st.markdown(f":orange[**{reason}**]")
        st.markdown(tier_line)
        st.caption(n_line)


def tier_text(metric: str, fig: Figure, none_text: str = "no tier") -> str:
    tier = metrics.tier_for(metric, fig.shown, bench, year) if fig.shown is not None else None
    if tier is None:
        return ui.tier_badge(None, none_text)
    return f"{ui.tier_badge(tier)} DORA {tier.year}: {tier.label}"


# -- tiles -------------------------------------------------------------------------------------------
deployments = int(now.get("deployments") or 0)
bucket = metrics.frequency_bucket(now.get("median_deployment_days_per_week"),
                                  now.get("share_of_weeks_with_deployments"), deployments, int(now.get("weeks") or 0))
freq_tier = metrics.tier_for("deployment_frequency", bucket, bench, year)

row1 = st.columns(3)
row2 = st.columns(3)

tile(
    row1[0], "Deployment frequency",
    f"{cur['frequency'].value:.1f} per week" if cur["frequency"].value is not None else "–",
    cur["frequency"], delta_text=delta("frequency", "count"), lower_is_better=False,
    help_text="Successful production deployments (each production cluster counts; rollbacks and redeploys "
              "included) per week of the range. The tier comes from the median number of deployment days per "
              "ISO week, weeks without a deployment counted as zero.",
    tier_line=(f"{ui.tier_badge(freq_tier, 'no tier')} {bucket or ''}"
               + (f" · DORA {year}" if freq_tier else "")),
    n_line=(f"n = {deployments} production deployments on {now.get('deployment_days') or 0} days · median "
            f"{(now.get('median_deployment_days_per_week') or 0):g} deployment days/week over "
            f"{now.get('weeks') or 0} weeks"),
    chart=spark("deployments"), chart_type="bar",
)

lead_unit, lead_div = metrics.duration_unit([cur["lead_p50"].value])
p90_text = (metrics.fmt_duration(cur["lead_p90"].shown) if cur["lead_p90"].shown is not None
            else cur["lead_p90"].reason)
excluded = int(now.get("lead_time_nonpositive_excluded") or 0)
tile(
    row1[1], "Change lead time (p50)", metrics.fmt_duration(cur["lead_p50"].value), cur["lead_p50"],
    delta_text=delta("lead_p50", "duration"), lower_is_better=True,
    help_text="Per commit: from its timestamp to the first successful production deployment of an artifact "
              "built from a commit that contains it. Median (continuous) over the changes delivered by "
              "deployments in view; non-positive lead times (clock skew) are excluded and counted.",
    tier_line=tier_text("lead_time", cur["lead_p50"]),
    n_line=(f"n = {cur['lead_p50'].n} changes · p90 {p90_text}"
            + (f" · {excluded} non-positive excluded" if excluded else "")),
    chart=spark("lead_time_p50_s", lead_div),
)

failed = int(now.get("failed_changes") or 0)
incl = now.get("change_fail_rate_incl_failed_attempts")
tile(
    row1[2], "Change fail rate", metrics.fmt_pct(cur["cfr"].value), cur["cfr"],
    delta_text=delta("cfr", "rate"), lower_is_better=True,
    help_text="Share of successful production deployments that needed intervention: followed by a rollback or "
              "a hotfix in the same cluster, or with an incident attributed to them.",
    tier_line=tier_text("change_fail_rate", cur["cfr"]),
    n_line=(f"{metrics.plural(failed, 'failed change')} of n = {deployments} production deployments · counting "
            f"{metrics.plural(int(now.get('failed_deployment_attempts') or 0), 'failed attempt')} too: "
            f"{metrics.fmt_pct(incl)}"),
    chart=spark("change_fail_rate", 0.01),
)

unrecovered = int(now.get("unrecovered") or 0)
rec_p90 = (metrics.fmt_duration(cur["recovery_p90"].shown) if cur["recovery_p90"].shown is not None
           else cur["recovery_p90"].reason)
tile(
    row2[0], "Failed deployment recovery time (p50)", metrics.fmt_duration(cur["recovery_p50"].value),
    cur["recovery_p50"], delta_text=delta("recovery_p50", "duration"), lower_is_better=True,
    help_text="For each failed change: from the failure (or the attributed incident's start) until service is "
              "restored — the rollback or fix deployed, or the incident resolved. Median (continuous).",
    tier_line=tier_text("recovery_time", cur["recovery_p50"]),
    n_line=f"n = {cur['recovery_p50'].n} recovered failed changes · {unrecovered} unrecovered · p90 {rec_p90}",
    chart=spark("recovery_time_p50_s", metrics.HOUR),
)

rework = int(now.get("rework_deployments") or 0)
tile(
    row2[1], "Deployment rework rate", metrics.fmt_pct(cur["rework"].value), cur["rework"],
    delta_text=delta("rework", "rate"), lower_is_better=True,
    help_text="Share of successful production deployments that were unplanned, to fix a user-facing problem: "
              "rollbacks and hotfixes.",
    tier_line=":gray-badge[no DORA tier] the DORA reports publish no clusters for it yet",
    n_line=f"{metrics.plural(rework, 'rollback or hotfix', 'rollbacks and hotfixes')} of n = {deployments} "
           "production deployments",
    chart=spark("rework_rate", 0.01),
)

incidents = int(now.get("incidents") or 0)
tile(
    row2[2], "Incident time to restore (p50)",
    metrics.fmt_duration(cur["restore_p50"].value), cur["restore_p50"],
    delta_text=delta("restore_p50", "duration"), lower_is_better=True,
    help_text="Plain incident time: resolved − opened, for incidents opened in view. Shown beside the DORA "
              "recovery time, which starts from the failed deployment; they are different figures.",
    tier_line=":gray-badge[not a DORA metric] plain incident time: resolved − opened",
    n_line=f"n = {cur['restore_p50'].n} resolved incidents of {incidents} opened in view",
    chart=spark("incident_time_to_restore_p50_s", metrics.HOUR),
)

st.caption(
    (f"Trends compare with the previous {view.days} days ({previous_view.start} → {previous_view.end}); shown "
     "only when both periods have enough data. " if has_previous else
     f"No trend: the data starts {data.filter_options().first}, so there is no previous {view.days}-day period "
     "to compare with (narrow the date range to see trends). ")
    + f"Sparklines: one point per ISO week (lead time in {lead_unit}, recovery and restore in hours, rates in %)."
)

weekly_out = weekly.select(
    pl.col("week_start"), "deployments", "deployment_days", "failed_changes", "rework_deployments",
    "failed_deployment_attempts", "lead_time_n", (pl.col("lead_time_p50_s") / 3600).alias("lead_time_p50_hours"),
    (pl.col("lead_time_p90_s") / 3600).alias("lead_time_p90_hours"), "change_fail_rate", "rework_rate",
    "recovery_time_n", (pl.col("recovery_time_p50_s") / 3600).alias("recovery_time_p50_hours"), "incidents",
    (pl.col("incident_time_to_restore_p50_s") / 3600).alias("incident_time_to_restore_p50_hours"),
)
ui.download(weekly_out, "dora_weekly.csv", label="Download the weekly figures behind the sparklines")

# -- breakdown ---------------------------------------------------------------------------------------
st.subheader("Who is where? The same figures per group")
group = controls[1].selectbox("Break down by", ["team", "app", "service", "environment"], key="dora_group",
                              help="The table below the tiles: one row per group, same definitions and thresholds.")
table = data.dora_table(view, group)
if table.height == 0:
    ui.empty()
else:
    def keep(value: pl.Expr, n: pl.Expr, need: int) -> pl.Expr:
        return pl.when(n >= need).then(value).otherwise(None)

    lt_div = lead_div
    breakdown = table.select(
        pl.col("group_value").alias(group),
        pl.col("deployments").alias("production_deployments"),
        (pl.col("deployments") / view.days * 7).round(1).alias("deployments_per_week"),
        pl.col("lead_time_n"),
        keep(pl.col("lead_time_p50_s") / lt_div, pl.col("lead_time_n"), MIN_N_P50).round(1)
        .alias(f"lead_time_p50_{lead_unit}"),
        keep(pl.col("lead_time_p90_s") / lt_div, pl.col("lead_time_n"), MIN_N_P90).round(1)
        .alias(f"lead_time_p90_{lead_unit}"),
        pl.col("failed_changes"),
        keep(pl.col("change_fail_rate") * 100, pl.col("deployments"), MIN_N_RATE).round(1).alias("change_fail_rate_pct"),
        pl.col("recovery_time_n"),
        keep(pl.col("recovery_time_p50_s") / 3600, pl.col("recovery_time_n"), MIN_N_P50).round(1)
        .alias("recovery_time_p50_hours"),
        pl.col("rework_deployments"),
        keep(pl.col("rework_rate") * 100, pl.col("deployments"), MIN_N_RATE).round(1).alias("rework_rate_pct"),
        pl.col("incidents"),
    ).sort("production_deployments", descending=True)
    number = st.column_config.NumberColumn
    config = {
        group: st.column_config.TextColumn(group.capitalize()),
        "production_deployments": number("Prod deploys", help="n for the rates"),
        "deployments_per_week": number("per week", format="%.1f"),
        "lead_time_n": number("Changes (n)"),
        f"lead_time_p50_{lead_unit}": number(f"Lead p50 ({lead_unit})", format="%.1f"),
        f"lead_time_p90_{lead_unit}": number(f"Lead p90 ({lead_unit})", format="%.1f"),
        "failed_changes": number("Failed changes"),
        "change_fail_rate_pct": number("Change fail %", format="%.1f"),
        "recovery_time_n": number("Recovered (n)"),
        "recovery_time_p50_hours": number("Recovery p50 (h)", format="%.1f"),
        "rework_deployments": number("Rework deploys"),
        "rework_rate_pct": number("Rework %", format="%.1f"),
        "incidents": number("Incidents"),
    }
    st.caption("— : not enough data for that group (the n columns say how much there is).")
    ui.table(breakdown, f"dora_by_{group}.csv", column_config=config)
