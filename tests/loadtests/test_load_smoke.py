"""CI runs the load-test runner's smoke profile: it must work end to end with no errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from loadtests.pg_private import free_port
from tests.db_backends import postgres_only

pytestmark = postgres_only("the load runner needs PostgreSQL: it runs in the PostgreSQL pass")
ROOT = Path(__file__).resolve().parents[2]


def three_free_ports() -> int:
    """A port p with p + 1 and p + 2 free too: the runner serves Jigsaw on p, the bare app
    on p + 1, the day mix on p + 2. Never a fixed port: the runner takes any server already
    answering there for its own (another run's suite, a developer's bench) and loads it."""
    while True:
        base = free_port()
        try:
            for port in (base + 1, base + 2):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base


def test_smoke_profile_runs_without_request_errors() -> None:
    port = str(three_free_ports())
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--profile", "smoke", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (ROOT / "loadtests/results/load_smoke.md").read_text()
    assert "| jigsaw | POST post |" in report and "| bare | POST post |" in report
    assert "| bare | GET feed |" in report and "| jigsaw day | GET caseload |" in report
    assert "Ratios (Jigsaw / bare, same run)" in report
