"""The benchmark reads each model's seconds from `lifecycle build`'s lines, whatever mode a model ran in."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run_benchmark.py"


def test_build_profile_reads_every_mode_of_model_line():
    spec = importlib.util.spec_from_file_location("run_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    output = (
        "  staging.cdevents                             0.02s\n"
        "  intermediate.canonical_events              11032447 rows    8.80s  (incremental: 10,001 rows computed)\n"
        "  intermediate.pushed_commits                 1524050 rows    0.31s  (unchanged)\n"
        "  marts.stage_durations                       5799764 rows   94.15s\n"
        "  commit                                                      9.35s\n"
        "  lookup indexes                                             17.20s\n"
        "  quality checks                                              4.13s\n"
        "published /tmp/wh/serving.duckdb\n"
    )
    assert bench.build_profile(output, top=4) == {
        "marts.stage_durations": 94.15, "lookup indexes": 17.20, "commit": 9.35, "intermediate.canonical_events": 8.80}
