"""End-to-end benchmark: generate N sample events, then time each step against a baseline measured in the
same run (the machines are noisy: ratios, not seconds, are what compare across runs).

Steps, each in its own process so its peak memory (ru_maxrss) is its own:
  baseline  DuckDB's own read_json of the same files into a table, extracting the canonical columns —
            the practical limit of this machine for "read the events";
  ingest    `lifecycle ingest` of the same files;
  build     `lifecycle build` (all models + quality checks + snapshot publish);
  increment the last 10k events of the generated stream (carved out of every file before the first ingest,
            so the base is the organisation up to a moment and the increment its next deliveries: artifacts in
            flight move on, old journeys change), ingested and built on top;
  queries   the dashboard's own queries, page by page, on the snapshot (benchmarks/dashboard_queries.py).

    python benchmarks/run_benchmark.py --events 1000000 [--out benchmarks/results/1m.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

BASELINE_SQL = """
create table baseline as
select id, source, type, try_cast(time as timestamptz) as occurred_at,
       data->>'$.subject.id' as subject_id, data->>'$.customData.service' as service,
       data->>'$.customData.environment' as environment, data->>'$.subject.content.artifactId' as artifact_id
from read_json(?, format = 'newline_delimited', columns = {
    'id': 'VARCHAR', 'source': 'VARCHAR', 'type': 'VARCHAR', 'time': 'VARCHAR', 'data': 'JSON'})
"""

INCREMENT_EVENTS = 10_000
EVENT_FILES = (".ndjson", ".json")


def event_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in EVENT_FILES and p.name != "expected.json")


def _record_lines(path: Path) -> list[int]:
    """Byte offset of every record line: an NDJSON line, or an element line of the generator's batch file
    (``[`` and ``]`` on lines of their own, one element per line)."""
    offsets, pos = [], 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip() not in (b"[", b"]", b""):
                offsets.append(pos)
            pos += len(line)
    return offsets


def split_increment(events: Path, increment: Path, count: int = INCREMENT_EVENTS) -> int:
    """Move the last records of every file (the generator writes them in time order) into ``increment``, in
    place (a 10M-event stream is 11 GB: no copy). Returns the records moved."""
    done = increment / ".split"
    if done.exists():
        return int(done.read_text())
    increment.mkdir(parents=True, exist_ok=True)
    files = {path: _record_lines(path) for path in event_files(events)}
    share = count / sum(len(offsets) for offsets in files.values())
    moved = 0
    for path, offsets in files.items():
        keep = len(offsets) - round(len(offsets) * share)
        if keep >= len(offsets):
            continue
        with open(path, "rb+") as fh:
            fh.seek(offsets[keep])
            tail = fh.read()
            fh.truncate(offsets[keep])
            if path.suffix == ".json":  # a JSON array: close both halves
                tail = b"[\n" + tail
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 2))
                end = fh.read()
                fh.truncate(size - (2 if end == b",\n" else 1 if end.endswith(b",") else 0))
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n]\n")
        (increment / path.name).write_bytes(tail)
        moved += len(offsets) - keep
    done.write_text(str(moved))
    return moved


_MODEL_LINE = re.compile(
    r"^\s+((?:staging|intermediate|marts)\.[a-z_]+|commit|lookup indexes|quality checks|publish snapshot)\s+(?:\d+ rows\s+)?([\d.]+)s"
    r"(?:\s+\((?:incremental|unchanged)[^)]*\))?\s*$", re.M)


def build_profile(output: str, top: int = 12) -> dict[str, float]:
    """The slowest models of a `lifecycle build`, from its per-model lines."""
    seconds = {name: float(s) for name, s in _MODEL_LINE.findall(output)}
    return dict(sorted(seconds.items(), key=lambda kv: -kv[1])[:top])


def run_step(name: str, argv: list[str], env: dict[str, str]) -> dict:
    """Run one step under a fresh wrapper process, so the peak RSS reported is that step's alone."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(r.ru_utime + r.ru_stime, r.ru_maxrss, file=sys.stderr); sys.exit(p.returncode)")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu, peak_kib = proc.stderr.strip().splitlines()[-1].split()
    # CPU seconds (user + system, all threads) vary less than wall time on a busy machine
    return {"seconds": round(seconds, 3), "cpu_seconds": round(float(cpu), 3),
            "peak_rss_mib": round(int(peak_kib) / 1024, 1), "output": proc.stdout}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep (default: a temp dir)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="lifecycle-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data, extra = work / "events", work / "increment"
    env = dict(os.environ, LIFECYCLE_WAREHOUSE=str(work / "wh" / "warehouse.duckdb"))
    env.pop("LIFECYCLE_SERVING", None)
    env.pop("LIFECYCLE_LANDING", None)
    result: dict = {"events_requested": args.events, "cpus": os.cpu_count()}

    if not (data / "cloudevents.ndjson").exists():
        result["generate"] = run_step("generate", [sys.executable, "-m", "sample_events.generate", "--out", str(data),
                                                   "--events", str(args.events)], env)
    result["increment_records"] = split_increment(data, extra)
    structured = data / "cloudevents.ndjson"
    files = [str(p) for p in event_files(data)]
    result["input_bytes"] = sum(Path(f).stat().st_size for f in files)

    baseline_db = work / "baseline.duckdb"
    baseline_db.unlink(missing_ok=True)
    result["baseline"] = run_step("baseline", python(
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        f"c.execute({BASELINE_SQL!r}, [sys.argv[2]])") + [str(baseline_db), str(structured)], env)
    result["baseline"]["events"] = int(subprocess.run(
        python("import duckdb, sys; print(duckdb.connect(sys.argv[1]).execute('select count(*) from baseline').fetchone()[0])")
        + [str(baseline_db)], capture_output=True, text=True).stdout)
    baseline_ingest = run_step("ingest-structured", [str(BIN / "lifecycle"), "ingest", str(structured)], env)
    result["ingest_structured_only"] = baseline_ingest
    result["ingest_rest"] = run_step("ingest", [str(BIN / "lifecycle"), "ingest", *files], env)
    result["build"] = run_step("build", [str(BIN / "lifecycle"), "build"], env)
    result["build"]["slowest_models_s"] = build_profile(result["build"]["output"])

    inc_ingest = run_step("increment-ingest", [str(BIN / "lifecycle"), "ingest", *map(str, event_files(extra))], env)
    inc_build = run_step("increment-build", [str(BIN / "lifecycle"), "build"], env)
    inc_build["slowest_models_s"] = build_profile(inc_build["output"])
    result["increment"] = {"ingest": inc_ingest, "build": inc_build,
                           "seconds": round(inc_ingest["seconds"] + inc_build["seconds"], 3)}

    queries = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "dashboard_queries.py")],
        env=dict(env, LIFECYCLE_SERVING=str(work / "wh" / "serving.duckdb")), capture_output=True, text=True, check=True)
    result["dashboard_queries_ms"] = json.loads(queries.stdout.strip().splitlines()[-1])

    base = result["baseline"]["seconds"]
    base_cpu = result["baseline"]["cpu_seconds"]
    result["ratios_to_baseline"] = {
        "ingest_structured_file": round(baseline_ingest["seconds"] / base, 2),
        "build": round(result["build"]["seconds"] / base, 2),
        "ingest_structured_file_cpu": round(baseline_ingest["cpu_seconds"] / base_cpu, 2),
        "build_cpu": round(result["build"]["cpu_seconds"] / base_cpu, 2),
    }
    result["increment_share_of_build"] = round(result["increment"]["seconds"] / result["build"]["seconds"], 3)
    result["increment_share_of_build_cpu"] = round(
        (inc_ingest["cpu_seconds"] + inc_build["cpu_seconds"]) / result["build"]["cpu_seconds"], 3)
    result["events_per_s"] = {"baseline": round(result["baseline"]["events"] / base),
                              "ingest_structured_file": round(result["baseline"]["events"] / baseline_ingest["seconds"])}
    for step in (result.get("generate", {}), result["baseline"], result["ingest_structured_only"], result["ingest_rest"], result["build"],
                 inc_ingest, inc_build):
        step.pop("output", None)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
