"""CSV reports for people who live in spreadsheets: header row, ISO 8601 UTC timestamps, no index.

Each report is a query on the published snapshot, so exporting never touches the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Report:
    name: str
    description: str
    sql: str  # may use $since (timestamp) and $team (varchar); both null when not given


REPORTS: tuple[Report, ...] = (
    Report(
        "events_weekly",
        "Events per ISO week, tool and stage.",
        """
        select date_trunc('week', occurred_at) as week_start, source_tool, coalesce(stage, '(unmapped)') as stage,
               count(*) as events
        from marts.lifecycle_events
        where ($since::timestamptz is null or occurred_at >= $since::timestamptz)
          and ($team::varchar is null or team = $team::varchar)
        group by all order by week_start, source_tool, stage
        """,
    ),
    Report(
        "quarantine",
        "Records rejected at load, with the reason to act on.",
        """
        select file, line, element, reason, quarantined_at
        from raw.quarantine
        where $since::timestamptz is null or quarantined_at >= $since::timestamptz
        order by quarantined_at, file, line
        """,
    ),
)


def export_reports(
    conn: duckdb.DuckDBPyConnection,
    out_dir: Path,
    since: str | None = None,
    team: str | None = None,
    reports: tuple[Report, ...] = REPORTS,
) -> dict[str, int]:
    """Write every report to ``out_dir/<name>.csv``; returns rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for report in reports:
        target = out_dir / f"{report.name}.csv"
        tmp = target.with_name(f".{target.name}.tmp")
        conn.execute(
            f"copy ({report.sql}) to '{_sql_path(tmp)}' "
            "(format csv, header true, timestampformat '%Y-%m-%dT%H:%M:%SZ')",
            {k: v for k, v in {"since": since, "team": team}.items() if f"${k}" in report.sql},
        )
        tmp.replace(target)
        written[target.name] = conn.execute("select count(*) from read_csv(?, header = true)", [str(target)]).fetchone()[0]
    return written


def _sql_path(path: Path) -> str:
    """COPY takes no parameter for its target, so the path is quoted here; it is ours, not user SQL."""
    return str(path).replace("'", "''")
