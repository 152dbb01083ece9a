"""CI runs the load-test runner's smoke profile: it must work end to end with no errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.db_backends import postgres_only

pytestmark = postgres_only("the load runner needs PostgreSQL: it runs in the PostgreSQL pass")
ROOT = Path(__file__).resolve().parents[2]


def test_smoke_profile_runs_without_request_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--profile", "smoke", "--port", "8911"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (ROOT / "loadtests/results/load_smoke.md").read_text()
    assert "| jigsaw | POST post |" in report and "| bare | POST insert |" in report
    assert "Ratios (Jigsaw / bare, same run)" in report
