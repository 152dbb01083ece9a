"""The search benchmark runs end to end at a tiny size (its own process and database)."""

from __future__ import annotations

import subprocess
import sys


def test_search_bench_reports_throughput_and_latency_percentiles() -> None:
    command = [sys.executable, "-m", "loadtests.search_bench", "--backends", "sqlite"]
    args = ["--posts", "300", "--children", "60", "--queries", "6"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "sqlite: indexed 300 posts" in done.stdout
    assert done.stdout.count("p95") == 4
