"""``lifecycle``: the command line. Thin: every command calls the same functions Dagster does.

Errors are one line on stderr with a non-zero exit; counts are printed at the end of every command.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
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
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Read only date=YYYY-MM-DD partitions from this UTC day on; older ones are not even listed.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Read only date=YYYY-MM-DD partitions up to this UTC day (inclusive).")
@warehouse_option
@_fail_on_known_errors
def ingest(paths: tuple[Path, ...], source: str | None, strict: bool, since: datetime | None, until: datetime | None,
           warehouse_path: Path | None) -> None:
    """Load event files or directories (NDJSON, JSON arrays, captured requests; .gz too) into raw.events."""
    if since and until and since > until:
        raise CliError(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}: nothing would be read")
    resolved = resolve_paths(warehouse_path)
    files = loader.discover(paths, since=since and since.date(), until=until and until.date())
    table = Table("file", "records", "accepted", "duplicate", "quarantined", "note", title="ingest")
    total_bytes = sum(f.stat().st_size for f in files)
    with Progress(  # by input bytes: a large file (loaded in pieces) moves the bar too
        TextColumn("[progress.description]{task.description}"), BarColumn(), DownloadColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=len(files) < 2 and total_bytes <= loader.PIECE_BYTES,
    ) as progress:
        task = progress.add_task(f"loading {len(files)} file(s)", total=total_bytes)

        def on_file(path: Path, result: loader.FileResult) -> None:
            table.add_row(_short_path(path), str(result.records), str(result.accepted), str(result.duplicates),
                          str(result.quarantined), result.note)

        result = tasks.ingest(resolved, files, source=source, strict=strict, on_file=on_file,
                              on_bytes=lambda n: progress.advance(task, n))
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


@main.command("ingest-kubernetes")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--cluster", default=None,
              help="The cluster the snapshots come from (default: lifecycle.toml [kubernetes] files / cluster).")
@warehouse_option
@_fail_on_known_errors
def ingest_kubernetes(files: tuple[Path, ...], cluster: str | None, warehouse_path: Path | None) -> None:
    """Load `kubectl get deployments -A -o json` snapshots: one deployment per Deployment, via the landing zone."""
    resolved = resolve_paths(warehouse_path)
    result = tasks.ingest_kubernetes(resolved, files, cluster=cluster)
    for snap in result.snapshots:
        others = f" ({snap.other_objects} other objects skipped)" if snap.other_objects else ""
        console.print(f"{_short_path(snap.file)}: cluster {snap.cluster}, {snap.deployments} Deployments{others} "
                      f"→ {_short_path(snap.landing_file)}", highlight=False, soft_wrap=True)
    totals = result.load.as_metadata()
    note = f" ({totals['files_skipped']} files already loaded)" if totals["files_skipped"] else ""
    console.print(f"{totals['accepted']} accepted, {totals['duplicates']} duplicate, "
                  f"{totals['quarantined']} quarantined{note}", highlight=False)


@main.command("ingest-catalog")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", default=None,
              help="When this catalogue state became valid (ISO 8601, UTC unless an offset is given; default: now).")
@warehouse_option
@_fail_on_known_errors
def ingest_catalog(paths: tuple[Path, ...], as_of: str | None, warehouse_path: Path | None) -> None:
    """Record the Backstage catalogue (catalog-info.yaml files or directories): who owns each service, from now on."""
    resolved = resolve_paths(warehouse_path)
    result = tasks.ingest_catalog(resolved, paths, as_of=_timestamp(as_of) if as_of else None)
    read = result.read
    kinds = {k: sum(1 for e in read.entities if e["kind"] == k) for k in ("component", "system")}
    skipped = f", {len(read.skipped_files)} other YAML files skipped" if read.skipped_files else ""
    console.print(
        f"{read.files} catalogue files: {kinds['component']} components, {kinds['system']} systems "
        f"({read.other_entities} other entities skipped{skipped}); {result.recorded} recorded as of "
        f"{result.valid_from.isoformat()}, {len(read.entities) - result.recorded} unchanged",
        highlight=False, soft_wrap=True,
    )


@main.command()
@warehouse_option
@click.option("--full-refresh", is_flag=True,
              help="Recompute the incremental models in full (those kept by load and by partition).")
@_fail_on_known_errors
def build(warehouse_path: Path | None, full_refresh: bool) -> None:
    """Run the SQL models, check data quality, and publish the read-only snapshot."""
    resolved = resolve_paths(warehouse_path)
    with console.status("building models…"):
        result = tasks.build(resolved, full_refresh=full_refresh, on_model=lambda run: console.print(
            f"  {run.model:<40} {'' if run.rows is None else f'{run.rows:>10} rows'} {run.seconds:7.2f}s"
            + ("" if run.mode in ("full", "view") else f"  ({run.mode}"
               + ("" if run.mode == "unchanged" else f": {run.computed_rows:,} rows computed") + ")"),
            highlight=False, soft_wrap=True))
    for check in result.checks:
        mark = "[green]ok[/]  " if check.passed else "[yellow]warn[/]"
        console.print(f"{mark} {check.name}: {check.description}", highlight=False, soft_wrap=True)
    console.print(f"  {'commit':<40} {'':>15} {result.commit_seconds:7.2f}s", highlight=False)
    console.print(f"  {'lookup indexes':<40} {'':>15} {result.index_seconds:7.2f}s", highlight=False)
    console.print(f"  {'quality checks':<40} {'':>15} {result.checks_seconds:7.2f}s", highlight=False)
    console.print(f"  {'publish snapshot':<40} {'':>15} {result.publish_seconds:7.2f}s", highlight=False)
    console.print(f"published {result.snapshot}", highlight=False, soft_wrap=True)


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


@main.group()
def subscriptions() -> None:
    """Route lifecycle events from the landing zone to HTTP sinks and chat (docs/subscriptions.md)."""


rules_option = click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                            help="Rules file [env LIFECYCLE_SUBSCRIPTIONS; default ./subscriptions.yaml].")


@subscriptions.command("run")
@click.option("--once", is_flag=True, help="One round (read new files, try what is due), then exit.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Seconds between rounds (sooner when a retry falls due).")
@click.option("--landing", "landing_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Landing zone [env LIFECYCLE_LANDING; default landing/ beside the warehouse].")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Ledger, outbox, dead letters, metrics.prom [default subscriptions/ beside the warehouse].")
@click.option("--backlog", is_flag=True, help="On the first run, also deliver the files already in the landing zone.")
@rules_option
@warehouse_option
@_fail_on_known_errors
def subscriptions_run(once: bool, interval: float, landing_dir: Path | None, state_dir: Path | None, backlog: bool,
                      rules_file: Path | None, warehouse_path: Path | None) -> None:
    """Deliver new landing-zone events to the targets their rules name (at least once)."""
    import logging
    import signal
    import threading

    from pipelines.receiver.app import JsonLogFormatter
    from pipelines.subscriptions import dispatch

    resolved = resolve_paths(warehouse_path, landing_dir)
    logger = logging.getLogger("lifecycle.subscriptions")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    state = state_dir or resolved.data_dir / "subscriptions"
    try:
        dispatcher = dispatch.Dispatcher(resolved.landing, state, rules_file, deliver_backlog=backlog)
    except dispatch.DispatcherBusy as exc:
        raise CliError(str(exc)) from None
    try:
        if once:
            report = dispatcher.run_once()
            o = report.outcomes
            console.print(f"{report.files} files, {report.events} events ({report.backlog_skipped} files skipped as "
                          f"backlog): {report.queued} deliveries queued; {o['delivered']} delivered, {o['retried']} "
                          f"to retry, {o['dead_lettered']} dead-lettered", highlight=False, soft_wrap=True)
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        err_console.print(f"subscriptions: {resolved.landing} → {len(dispatcher.rules.targets)} targets "
                          f"({dispatcher.rules_file}); state in {state}", highlight=False, soft_wrap=True)
        dispatcher.run_forever(interval, stop)
    finally:
        dispatcher.close()


@subscriptions.command("status")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The dispatcher's state directory [default subscriptions/ beside the warehouse].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@warehouse_option
@_fail_on_known_errors
def subscriptions_status(state_dir: Path | None, fmt: str, warehouse_path: Path | None) -> None:
    """Per target: delivered, retried, failed, dead-lettered, queue depth, last success."""
    from pipelines.subscriptions import dispatch

    state = state_dir or resolve_paths(warehouse_path).data_dir / "subscriptions"
    try:
        result = dispatch.status(state)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(result) + "\n")
        return
    table = Table("target", "queue", "delivered", "retried", "failed", "dead-lettered", "last success",
                  title="subscriptions")
    for name, s in result["targets"].items():
        table.add_row(name, str(s["queue_depth"]), str(s["delivered"]), str(s["retried"]), str(s["failed"]),
                      str(s["dead_lettered"]), s["last_success_at"] or "never")
    console.print(table)
    files = result["files"]
    console.print(f"{files['files']} files read ({files['events']} events, {files['queued']} deliveries), last at "
                  f"{files['last_processed_at'] or 'never'}", highlight=False, soft_wrap=True)
    for path in result["dead_letter_files"]:
        console.print(f"dead letters: {path}", highlight=False, soft_wrap=True)


@subscriptions.command("test")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@rules_option
@_fail_on_known_errors
def subscriptions_test(event_file: Path, rules_file: Path | None) -> None:
    """Show which rules and targets each event of EVENT_FILE matches, with the attributes it matched on."""
    from pipelines.subscriptions import dispatch, rules
    from pipelines.subscriptions.match import ATTRIBUTES

    loaded = rules.load_rules(rules_file)
    result, routes = dispatch.explain([event_file], loaded)
    for n, (event, routed) in enumerate(zip(result.events, routes, strict=True), start=1):
        a = event.attributes
        console.print(f"{n}. {a['raw_type']}  id {a['event_id']}  at {a['occurred_at'] or a['received_at']}",
                      highlight=False, soft_wrap=True)
        console.print("   " + " ".join(f"{k}={a.get(k) if a.get(k) is not None else '-'}" for k in ATTRIBUTES),
                      highlight=False, soft_wrap=True)
        for target, rule_names in routed.items():
            console.print(f"   → {target} ({loaded.targets[target].describe()}) by rule {', '.join(rule_names)}",
                          highlight=False, soft_wrap=True)
        if not routed:
            console.print("   → no rule matches", highlight=False)
    matched = sum(1 for r in routes if r)
    console.print(f"{len(result.events)} events ({result.quarantined} records quarantined), {matched} matched by a rule, "
                  f"{sum(len(r) for r in routes)} deliveries", highlight=False, soft_wrap=True)


def _timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; without an offset it is UTC (as everywhere in the warehouse)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--as-of {text!r} is not an ISO 8601 timestamp (e.g. 2026-07-01T08:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@main.group("alerts")
def alerts_group() -> None:
    """Alerts: failed production deployments, stuck and vulnerable artifacts, DORA regressions (docs/alerts.md)."""


@alerts_group.command("evaluate")
@click.option("--lead-time-increase", type=click.FloatRange(min=0), default=None,
              help="dora_regression fires when the last 7 days' lead time p50 exceeds the 4 weeks before by more "
                   "than this fraction [env LIFECYCLE_ALERT_LEAD_TIME_INCREASE; default 0.5].")
@click.option("--min-n", type=click.IntRange(min=1), default=None,
              help="dora_regression needs at least this many figures in both windows [env LIFECYCLE_ALERT_MIN_N; "
                   "default 5].")
@warehouse_option
@_fail_on_known_errors
def alerts_evaluate(lead_time_increase: float | None, min_n: int | None, warehouse_path: Path | None) -> None:
    """Evaluate the alert conditions on the warehouse; write fired / cleared alerts to the landing zone."""
    from pipelines import alerts as alerts_mod

    resolved = resolve_paths(warehouse_path)
    settings = alerts_mod.AlertSettings.from_env(lead_time_increase=lead_time_increase, min_n=min_n)
    evaluation = tasks.evaluate_alerts(resolved, settings)
    for label, events in (("[red]fired[/]  ", evaluation.fired), ("[green]cleared[/]", evaluation.cleared)):
        for event in events:
            console.print(f"{label} {event['data']['severity']:<8} {event['data']['summary']}", highlight=False,
                          soft_wrap=True)
    written = f"; written to {_short_path(evaluation.file)}" if evaluation.file else ""
    console.print(f"{len(evaluation.fired)} fired, {len(evaluation.cleared)} cleared, {evaluation.active} active"
                  f"{written}", highlight=False, soft_wrap=True)


@alerts_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@warehouse_option
@_fail_on_known_errors
def alerts_list(fmt: str, warehouse_path: Path | None) -> None:
    """The active alerts (fired, not yet cleared), from the published snapshot."""
    from pipelines import alerts as alerts_mod

    with warehouse.snapshot_reader(resolve_paths(warehouse_path)) as conn:
        active = alerts_mod.active_episodes(conn)
    if fmt == "json":
        sys.stdout.write(json.dumps(active, default=_json_default) + "\n")
        return
    table = Table("fired at", "severity", "kind", "service", "environment", "summary", title="active alerts")
    for a in active:
        table.add_row(f"{a['fired_at']:%Y-%m-%d %H:%M}", a["severity"], a["kind"], a["service"] or "",
                      a["environment"] or "", a["summary"])
    console.print(table)
    err_console.print(f"{len(active)} active")


@main.command("metrics-exporter")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9109, show_default=True, type=click.IntRange(0, 65535))
@warehouse_option
@_fail_on_known_errors
def metrics_exporter(host: str, port: int, warehouse_path: Path | None) -> None:
    """Serve /metrics for Prometheus: the snapshot's DORA and flow figures over the last 30 days."""
    from pipelines import metrics_export

    resolved = resolve_paths(warehouse_path)
    err_console.print(f"metrics exporter: http://{host}:{port}/metrics ← {resolved.serving}", highlight=False,
                      soft_wrap=True)
    metrics_export.run(resolved, host, port)


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
