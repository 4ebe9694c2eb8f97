"""``lifecycle``: the command line. Thin: every command calls the same functions Dagster does.

Errors are one line on stderr with a non-zero exit; counts are printed at the end of every command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines import export as export_mod
from pipelines import gitlog, loader, tasks, warehouse
from pipelines.config import resolve_paths

console = Console()
err_console = Console(stderr=True)

warehouse_option = click.option(
    "--warehouse",
    "warehouse_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Warehouse DuckDB file [env LIFECYCLE_WAREHOUSE; default ./data/warehouse.duckdb].",
)


class CliError(click.ClickException):
    """A one-line error: `lifecycle: error: …` and exit code 1."""

    def show(self, file=None) -> None:  # noqa: ARG002 - click's signature
        err_console.print(f"[bold red]lifecycle: error:[/] {self.message}", highlight=False, soft_wrap=True)


def _fail_on_known_errors(func):
    """Turn the errors users can act on into one-line messages instead of tracebacks."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (loader.InputError, gitlog.GitError, warehouse.WarehouseBusy, warehouse.NoSnapshot, ValueError) as exc:
            raise CliError(str(exc)) from None
        except Exception as exc:  # DuckDB errors in user SQL and the like
            if type(exc).__module__.startswith(("duckdb", "_duckdb")):
                raise CliError(str(exc).splitlines()[0]) from None
            raise

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecycle-analytics")
def main() -> None:
    """Lifecycle analytics: artifact journeys and DORA metrics from lifecycle events."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", type=click.Choice(loader.KNOWN_SOURCES), default=None,
              help="Force how records are read (e.g. github for bare webhook bodies). Default: auto-detect.")
@click.option("--strict", is_flag=True, help="Validate every CDEvent against its schema (default: one per shape).")
@warehouse_option
@_fail_on_known_errors
def ingest(paths: tuple[Path, ...], source: str | None, strict: bool, warehouse_path: Path | None) -> None:
    """Load event files or directories (NDJSON, JSON arrays, captured requests; .gz too) into raw.events."""
    resolved = resolve_paths(warehouse_path)
    files = loader.discover(paths)
    table = Table("file", "records", "accepted", "duplicate", "quarantined", "note", title="ingest")
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=len(files) < 2,
    ) as progress:
        task = progress.add_task("loading", total=len(files))

        def on_file(path: Path, result: loader.FileResult) -> None:
            progress.advance(task)
            table.add_row(_short_path(path), str(result.records), str(result.accepted), str(result.duplicates),
                          str(result.quarantined), result.note)

        result = tasks.ingest(resolved, files, source=source, strict=strict, on_file=on_file)
    if len(files) <= 50:
        console.print(table)
    totals = result.as_metadata()
    console.print(
        f"{totals['files']} files ({totals['files_skipped']} already loaded): {totals['records']} records, "
        f"{totals['accepted']} accepted, {totals['duplicates']} duplicate, {totals['quarantined']} quarantined"
    )
    if totals["quarantined"]:
        console.print(f"see why: lifecycle sql \"select * from raw.quarantine\" (after `lifecycle build`)")


@main.command("ingest-git")
@click.argument("repo", type=click.Path(path_type=Path))
@click.option("--branch", default=None,
              help="Read the commits reachable from this branch (default: every branch and tag).")
@click.option("--repo-url", default=None,
              help="The repository's URL or org/name, to match other sources (default: the origin remote).")
@warehouse_option
@_fail_on_known_errors
def ingest_git(repo: Path, branch: str | None, repo_url: str | None, warehouse_path: Path | None) -> None:
    """Load a local clone's history (commits with parents, tags) via the landing zone into raw.events."""
    resolved = resolve_paths(warehouse_path)
    with console.status("reading git history…"):
        result = tasks.ingest_git(resolved, repo, branch=branch, repo_url=repo_url)
    totals = result.load.as_metadata()
    note = " (file already loaded)" if totals["files_skipped"] else ""
    console.print(
        f"{result.repository}: {result.commits} commits and {result.tags} tags read → {_short_path(result.landing_file)}; "
        f"{totals['accepted']} accepted, {totals['duplicates']} duplicate, {totals['quarantined']} quarantined{note}",
        highlight=False, soft_wrap=True,
    )


@main.command()
@warehouse_option
@click.option("--full-refresh", is_flag=True,
              help="Recompute incremental models from all of raw.events instead of only the new loads.")
@_fail_on_known_errors
def build(warehouse_path: Path | None, full_refresh: bool) -> None:
    """Run the SQL models, check data quality, and publish the read-only snapshot."""
    resolved = resolve_paths(warehouse_path)
    with console.status("building models…"):
        result = tasks.build(resolved, full_refresh=full_refresh, on_model=lambda run: console.print(
            f"  {run.model:<40} {'' if run.rows is None else f'{run.rows:>10} rows'} {run.seconds:7.2f}s"
            + ("" if run.mode in ("full", "view") else f"  ({run.mode})"), highlight=False))
    for check in result.checks:
        mark = "[green]ok[/]  " if check.passed else "[yellow]warn[/]"
        console.print(f"{mark} {check.name}: {check.description}", highlight=False, soft_wrap=True)
    console.print(f"published {result.snapshot}")


@main.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@warehouse_option
@_fail_on_known_errors
def sql(query: str, fmt: str, warehouse_path: Path | None) -> None:
    """Run a read-only SQL query on the published snapshot (schemas raw, staging, marts)."""
    resolved = resolve_paths(warehouse_path)
    with warehouse.snapshot_reader(resolved) as conn:
        relation = conn.sql(query)
        if relation is None:  # a statement with no result (e.g. SET); writes are refused read-only
            console.print("ok")
            return
        frame = relation.pl()
    if fmt == "csv":
        sys.stdout.write(frame.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.fZ"))
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=_json_default, indent=None) + "\n")
    else:
        table = Table(*frame.columns)
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        err_console.print(f"{frame.height} rows")


@main.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Directory for the CSV files.")
@click.option("--since", default=None, help="Only events from this date/timestamp on (ISO 8601).")
@click.option("--team", default=None, help="Only this team's events.")
@warehouse_option
@_fail_on_known_errors
def export_cmd(out_dir: Path, since: str | None, team: str | None, warehouse_path: Path | None) -> None:
    """Write the CSV reports from the published snapshot."""
    resolved = resolve_paths(warehouse_path)
    with warehouse.snapshot_reader(resolved) as conn:
        written = export_mod.export_reports(conn, out_dir, since=since, team=team)
    for name, rows in written.items():
        console.print(f"  {out_dir / name}: {rows} rows", highlight=False)
    console.print(f"{len(written)} reports written to {out_dir}")


@main.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@warehouse_option
def dashboard(port: int, host: str, warehouse_path: Path | None) -> None:
    """Serve the Streamlit dashboard on the published snapshot."""
    from pipelines import serve_processes

    resolved = resolve_paths(warehouse_path)
    proc = serve_processes.start_dashboard(resolved, host=host, port=port)
    console.print(f"dashboard: http://{host}:{port}")
    serve_processes.wait([proc])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Beyond loopback a secret must be configured (see docs/receiver.md).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--landing", "landing_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Landing zone [env LIFECYCLE_LANDING; default landing/ beside the warehouse]; "
                   "files go to <landing>/receiver/date=YYYY-MM-DD/.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=5 * 1024 * 1024, show_default=True,
              help="Largest request body accepted (413 above).")
@warehouse_option
@_fail_on_known_errors
def serve(host: str, port: int, landing_dir: Path | None, max_body_bytes: int, warehouse_path: Path | None) -> None:
    """Receive CloudEvents, CDEvents and webhooks over HTTP into the landing zone (never the warehouse)."""
    from pipelines.receiver import app as receiver_app
    from pipelines.receiver.settings import Settings

    resolved = resolve_paths(warehouse_path, landing_dir)
    settings = Settings.from_env(resolved.landing, host=host, port=port, max_body_bytes=max_body_bytes)
    settings.check_can_start()
    err_console.print(f"receiver: http://{host}:{port}/ → {settings.receiver_dir}  "
                      f"(auth: {', '.join(settings.secrets.configured) or 'none, loopback only'})",
                      highlight=False, soft_wrap=True)
    receiver_app.run(settings)


@main.command()
@click.option("--serve/--no-serve", default=True, help="Start Dagster UI and the dashboard afterwards.")
@click.option("--dagster-port", default=3000, show_default=True)
@click.option("--dashboard-port", default=8501, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Directory for the CSV reports.")
@click.option("--via-receiver", is_flag=True,
              help="Post the sample events through a local `lifecycle serve` instead of copying the files.")
@warehouse_option
@_fail_on_known_errors
def demo(serve: bool, dagster_port: int, dashboard_port: int, out_dir: Path, via_receiver: bool,
         warehouse_path: Path | None) -> None:
    """Load the sample events, build, export CSVs, then serve Dagster UI and the dashboard."""
    from pipelines import demo as demo_mod

    resolved = resolve_paths(warehouse_path)
    summary = demo_mod.prepare(resolved, out_dir, echo=lambda msg: console.print(msg, highlight=False),
                               via_receiver=via_receiver)
    console.print(summary)
    if serve:
        from pipelines import serve_processes

        procs = [
            serve_processes.start_dagster(resolved, port=dagster_port),
            serve_processes.start_dashboard(resolved, port=dashboard_port),
        ]
        console.print(f"Dagster UI: http://127.0.0.1:{dagster_port}   dashboard: http://127.0.0.1:{dashboard_port}")
        console.print("Ctrl-C stops both.")
        serve_processes.wait(procs)


def _short_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _json_default(value: object) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":
    main()
