"""Smoke test: the silence benchmark runs end to end and the detector out-ranks the
naive rule. Run as a subprocess from the repository root (``loadtests`` is importable
only with the root on ``sys.path``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from feeds.silence.detector import DEFAULT_PARAMS

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(
    r"^\| (\S+) \| (silence|naive 21 days) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% \| ([\d.]+)% \|"
)


def run(module: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def rows(out: str) -> dict[tuple[str, str], tuple[float, float, float, float]]:
    found = {}
    for match in map(ROW.match, out.splitlines()):
        if match:
            seed, method, *numbers = match.groups()
            p10, p30, recall, fpr = (float(n) for n in numbers)
            found[(seed, method)] = (p10, p30, recall, fpr)
    return found


def test_quick_bench_ranks_silences_above_the_naive_rule() -> None:
    out = run("loadtests.silence_bench", "--quick", "--seeds", "1", "--speed")
    table = rows(out)
    assert set(table) == {("1", "silence"), ("1", "naive 21 days")}
    for p10, p30, recall, fpr in table.values():
        assert 0.0 <= p10 <= 1.0 and 0.0 <= p30 <= 1.0
        assert 0.0 <= recall <= 100.0 and 0.0 <= fpr <= 100.0
    # Seeded, so deterministic: a quality assertion, not a timing one.
    assert table[("1", "silence")][0] > table[("1", "naive 21 days")][0]
    assert table[("1", "silence")][3] < table[("1", "naive 21 days")][3]
    assert f"silence flagged = score >= {DEFAULT_PARAMS.flag_threshold:g}" in out
    assert "speed: 400 children assessed from posts" in out


def test_bench_reads_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.jsonl"
    run("loadtests.silence_scenarios", "--out", str(scenario), "--children", "100", "--seed", "4")
    assert len(scenario.read_text(encoding="utf-8").splitlines()) == 100
    out = run("loadtests.silence_bench", "--scenario", str(scenario))
    assert out.startswith(f"100 children from {scenario}")
    assert set(rows(out)) == {("scenario.jsonl", "silence"), ("scenario.jsonl", "naive 21 days")}
    assert "8 of 100 children with an injected silence" in out
