"""Smoke test: the velocity benchmark runs end to end and prints a sane table.

Run as a subprocess from the repository root, because ``loadtests`` is not an installed
package (it is importable only with the repository root on ``sys.path``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from feeds.velocity.detector import VelocityParams

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(
    r"^\| (velocity|naive 72 h posts) \| ([\d.]+) \| ([\d.]+) \| (\d+)% \| ([\d.]+)% \|"
)


def run_bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.velocity_bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def test_quick_bench_prints_both_methods_and_speed() -> None:
    out = run_bench("--quick", "--speed-children", "500")
    rows = {m.group(1): m.groups()[1:] for m in map(ROW.match, out.splitlines()) if m}
    assert set(rows) == {"velocity", "naive 72 h posts"}
    for p10, p50, recall, fpr in rows.values():
        assert 0.0 <= float(p10) <= 1.0
        assert 0.0 <= float(p50) <= 1.0
        assert 0 <= int(recall) <= 100
        assert 0.0 <= float(fpr) <= 100.0
    # The scenario is seeded, so this is deterministic: the detector must out-rank a raw count.
    assert float(rows["velocity"][0]) > float(rows["naive 72 h posts"][0])
    assert "speed, velocity: 500 children assessed from posts" in out
    assert "speed, velocity: 500 children assessed from daily tallies" in out
    assert "speed, naive:    500 children counted" in out
    params = VelocityParams()
    assert (
        f"score >= {params.flag_threshold:g} (stays flagged while >= {params.release_threshold:g})"
        in out
    )


def test_bench_reads_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtests.velocity_scenarios",
            "--out",
            str(scenario),
            "--children",
            "120",
            "--seed",
            "3",
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    assert len(scenario.read_text(encoding="utf-8").splitlines()) == 120
    out = run_bench("--scenario", str(scenario), "--speed-children", "0")
    assert out.startswith("120 children, 12 with an episode")
    assert "speed" not in out


SEED_ROW = re.compile(r"^\| (\S+) \| (velocity|naive 72 h posts) \| ([\d.]+) \| ([\d.]+) \|")


def test_seeds_command_prints_each_seed_and_the_mean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.velocity_seeds", "--seeds", "1-2", "--children", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = [m.groups() for m in map(SEED_ROW.match, done.stdout.splitlines()) if m]
    assert [(seed, method) for seed, method, *_ in rows] == [
        ("1", "velocity"),
        ("1", "naive 72 h posts"),
        ("2", "velocity"),
        ("2", "naive 72 h posts"),
        ("**mean**", "velocity"),
        ("**mean**", "naive 72 h posts"),
    ]
    p_at_10 = {(seed, method): float(p10) for seed, method, p10, _ in rows}
    for method in ("velocity", "naive 72 h posts"):
        mean = (p_at_10[("1", method)] + p_at_10[("2", method)]) / 2
        assert abs(p_at_10[("**mean**", method)] - mean) < 0.006  # printed to 2 decimals
