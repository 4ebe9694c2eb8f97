"""Time the dashboard's own queries, page by page, on a published snapshot (``LIFECYCLE_SERVING``).

Each page's data functions (dashboards/data.py) are called as the page calls them, with the sidebar's
default filters, bypassing the Streamlit cache (best of ``--repeat`` runs, milliseconds). Prints JSON:
``{page: {function: ms}}`` and, per page, its heaviest query.

    LIFECYCLE_SERVING=wh/serving.duckdb python benchmarks/dashboard_queries.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from typing import Any


def page_queries(data: Any) -> dict[str, dict[str, Callable[[], Any]]]:
    """What each page runs on first load (dashboards/views/*.py), with the default filters."""
    from dashboards import metrics, ui

    f = data.filter_options().default()
    artifacts = data.find_artifacts(f)
    artifact = artifacts["artifact_id"][0] if artifacts.height else ""
    lead = data.changes_summary(f)  # the lead-time page's histogram bins follow from its figures
    bin_s = metrics.bin_width(lead["min_s"], lead["max_s"], metrics.duration_unit([lead["p50_s"]])[1])
    return {
        "dora": {"filter_options": data.filter_options, "dora_summary": lambda: data.dora_summary(f),
                 "dora_table": lambda: data.dora_table(f, "team"), "dora_weekly": lambda: data.dora_weekly(f)},
        "deployments": {"deployments_summary": lambda: data.deployments_summary(f),
                        "deployments_listed": lambda: data.deployments(f, limit=ui.LISTED_ROWS),
                        "deployments_per_period": lambda: data.deployments_per_period(f, "week"),
                        "production_deployment_days": lambda: data.production_deployment_days(f)},
        "lead_time": {"changes_summary": lambda: data.changes_summary(f),
                      "changes_histogram": lambda: data.changes_histogram(f, bin_s),
                      "changes_drawn": lambda: data.changes(f, limit=5000)},  # views/lead_time.py POINTS
        "journeys": {"find_artifacts": lambda: data.find_artifacts(f), "journey": lambda: data.journey(artifact),
                     "journey_events": lambda: data.journey_events(artifact),
                     "journey_commits": lambda: data.journey_commits(artifact),
                     "journey_deployments": lambda: data.journey_deployments(artifact)},
        "funnel": {"funnel_summary": lambda: data.funnel_summary(f), "environment_order": data.environment_order,
                   "funnel_flows": lambda: data.funnel_flows(f),
                   "funnel_stuck": lambda: data.funnel_artifacts(f, stuck=True, limit=ui.LISTED_ROWS),
                   "funnel_artifacts": lambda: data.funnel_artifacts(f, limit=ui.LISTED_ROWS)},
        "bottlenecks": {"bottlenecks": lambda: data.bottlenecks(f), "slowest_step_tools": lambda: data.slowest_step_tools(f)},
        "incidents": {"incidents": lambda: data.incidents(f), "risk_by_service": lambda: data.risk_by_service(f),
                      # the scanned artifacts: from marts.artifact_risk, else (an older snapshot) from scan events
                      **({"vulnerable_artifacts_count": lambda: data.vulnerable_artifacts_count(f),
                          "vulnerable_artifacts": lambda: data.vulnerable_artifacts(f, limit=ui.LISTED_ROWS)}
                         if data.missing("marts.artifact_risk") is None else
                         {"scanned_artifacts": lambda: data.scanned_artifacts(f)})},
        "inventory": {"release_inventory": lambda: data.release_inventory(f),
                      "release_inventory_as_of": lambda: data.release_inventory_as_of(f, f.start_ts)},
        "health": {"health_totals": data.health_totals, "events_by_tool_and_stage": data.events_by_tool_and_stage,
                   "events_per_day": data.events_per_day, "link_coverage": data.link_coverage},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from dashboards import data

    data.query = lambda sql, params=None: data._run(sql, params or {})  # no cache: every call reads the snapshot
    timings: dict[str, dict[str, float]] = {}
    for page, calls in page_queries(data).items():
        for name, call in calls.items():
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                call()
                best = min(best, time.perf_counter() - started)
            timings.setdefault(page, {})[name] = round(best * 1000, 1)
    heaviest = {page: max(calls.items(), key=lambda kv: kv[1]) for page, calls in timings.items()}
    print(json.dumps({"pages": timings, "heaviest_per_page": {p: {"query": q, "ms": ms} for p, (q, ms) in heaviest.items()}}))


if __name__ == "__main__":
    main()
