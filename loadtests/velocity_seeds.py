"""The velocity benchmark over several seeds, with the mean of each metric (stdlib only).

Usage::

    python -m loadtests.velocity_seeds [--seeds 0-5] [--children N] [--flag-threshold T]

One seeded scenario is a few thousand children and ten of them make p@10, so a single
seed can be lucky or unlucky by 0.2; report the mean over seeds.  Speed is not timed
here (run ``loadtests.velocity_bench`` for that).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from feeds.velocity.detector import DEFAULT_PARAMS, VelocityParams
from loadtests.velocity_bench import MethodResult, evaluate, params_with_flag, scenario
from loadtests.velocity_scenarios import ScenarioConfig

HEADER = ["seed", "method", "p@10", "p@50", "recall", "FPR/day", "median days to detect"]


@dataclass(frozen=True)
class SeedRow:
    """Both methods' results on one seed."""

    seed: int
    ours: MethodResult
    naive: MethodResult
    naive_threshold: int


def parse_seeds(text: str) -> list[int]:
    """'0-5' -> [0, 1, 2, 3, 4, 5]; '1,4,7' -> [1, 4, 7]."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def run_seeds(seeds: Iterable[int], children: int, params: VelocityParams) -> list[SeedRow]:
    """Evaluate both methods on each seed's scenario (no speed timing)."""
    rows = []
    for seed in seeds:
        result = evaluate(scenario(None, children, seed), params, speed_children=0)
        rows.append(SeedRow(seed, result.ours, result.naive, result.naive_threshold))
    return rows


def mean_of(results: Sequence[MethodResult]) -> MethodResult:
    """Mean of every metric; median days are averaged over the seeds that detected any."""
    days = [r.median_days for r in results if r.median_days is not None]
    return MethodResult(
        name=results[0].name,
        p_at_10=statistics.fmean(r.p_at_10 for r in results),
        p_at_50=statistics.fmean(r.p_at_50 for r in results),
        recall=statistics.fmean(r.recall for r in results),
        fpr=statistics.fmean(r.fpr for r in results),
        median_days=statistics.fmean(days) if days else None,
    )


def _cells(label: str, m: MethodResult) -> list[str]:
    days = "-" if m.median_days is None else f"{m.median_days:.1f}"
    rates = [f"{m.p_at_10:.2f}", f"{m.p_at_50:.2f}", f"{m.recall:.1%}", f"{m.fpr:.2%}"]
    return [label, m.name, *rates, days]


def format_rows(rows: Sequence[SeedRow], params: VelocityParams) -> str:
    """Markdown table: one row per seed and method, then the means."""
    table = [HEADER, ["---"] * len(HEADER)]
    for row in rows:
        table.append(_cells(str(row.seed), row.ours))
        table.append(_cells(str(row.seed), row.naive))
    table.append(_cells("**mean**", mean_of([row.ours for row in rows])))
    table.append(_cells("**mean**", mean_of([row.naive for row in rows])))
    thresholds = ", ".join(str(row.naive_threshold) for row in rows)
    return "\n".join(
        [
            *("| " + " | ".join(cells) + " |" for cells in table),
            "",
            f"velocity flagged = recent score >= {params.flag_threshold:g} "
            f"(stays flagged while >= {params.release_threshold:g})",
            f"naive flagged = >= N posts in 72 h, N per seed: {thresholds} "
            "(integer threshold with FPR/day closest to ours)",
        ]
    )


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-5", help="'0-5' or '1,4,7' (default 0-5)")
    parser.add_argument("--children", type=int, default=ScenarioConfig.children)
    parser.add_argument("--flag-threshold", type=float, default=DEFAULT_PARAMS.flag_threshold)
    args = parser.parse_args(argv)
    params = params_with_flag(args.flag_threshold)
    rows = run_seeds(parse_seeds(args.seeds), args.children, params)
    out(f"{args.children} children per seed, seeds {args.seeds}")
    out("")
    out(format_rows(rows, params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
