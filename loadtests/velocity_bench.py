"""Detection-quality and speed benchmark for feeds.velocity.detector (stdlib only).

Usage::

    python -m loadtests.velocity_bench [--scenario FILE] [--children N] [--seed S]
                                       [--quick] [--speed-children N]
                                       [--flag-threshold T]

Without ``--scenario`` a scenario is generated in memory (loadtests.velocity_scenarios).
Every child is assessed at the end of each day of an evaluation period around the
checkpoint, carrying ``flagged`` from one day to the next (hysteresis), exactly as a
nightly job would.  The same days are scored by the naive baseline "raw posts in the
last 72 h".  Metrics:

* precision@10 / @50: share of episode children among the top 10 / 50 of the ranking
  at the checkpoint (the day every generated episode contains);
* recall: share of episodes flagged on at least one of their days or of the
  GRACE_DAYS after (an episode that has just peaked and ended is still news);
* FPR/day: mean daily share of children without an episode who are flagged;
* median days to detect: first such flagged day minus episode start, over detected
  episodes.

The naive baseline has no ``flagged`` of its own, so it is given the integer threshold
on 72 h post counts whose FPR/day is closest to ours (printed with the table).
Speed is timed on the same pre-sliced events for ``assess`` and the naive count, and
on their daily tallies for ``assess_days``; wall and CPU time (database time excluded).
Average several seeds with ``python -m loadtests.velocity_seeds``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feeds.velocity.detector import (
    DEFAULT_PARAMS,
    ActivityEvent,
    DayTally,
    VelocityParams,
    assess,
    assess_days,
    tally_days,
)
from loadtests.velocity_scenarios import ScenarioConfig, generate

DAY = timedelta(days=1)
EVAL_HALF_WIDTH = 14  # days either side of the checkpoint that are evaluated
# An episode counts as detected by a flag while it runs or within this many days after it
# ends: attention that has just peaked is still the thing a manager should be shown.
GRACE_DAYS = 3
QUICK_CHILDREN = 300
QUICK_SPEED_CHILDREN = 5_000
FULL_SPEED_CHILDREN = 100_000


@dataclass(frozen=True)
class History:
    """One child's scenario line, parsed and indexed for fast day-by-day slicing."""

    child: str
    events: tuple[ActivityEvent, ...]  # sorted by time
    stamps: tuple[float, ...]  # POSIX seconds of `events`, for bisect
    known_since: datetime | None
    episode: tuple[datetime, datetime] | None  # [start, end)


@dataclass(frozen=True)
class MethodResult:
    """One row of the results table."""

    name: str
    p_at_10: float
    p_at_50: float
    recall: float
    fpr: float  # mean share of non-episode children flagged per day
    median_days: float | None  # None when nothing was detected


@dataclass(frozen=True)
class BenchResult:
    """Everything the benchmark prints."""

    ours: MethodResult
    naive: MethodResult
    naive_threshold: int
    flag_threshold: float
    release_threshold: float
    children: int
    episodes: int
    checkpoint: datetime
    eval_days: int
    speed_children: int
    timings: dict[str, Timing]  # "posts" (assess), "tallies" (assess_days), "naive"


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of one timed loop (CPU is what a shared box can't steal)."""

    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class _Runs:
    """Day-by-day outputs for all children (rows = children, columns = eval days)."""

    flags: list[list[bool]]
    counts: list[list[int]]
    scores_at_checkpoint: list[float]


def parse_history(record: dict[str, Any]) -> History:
    """Turn one JSON-lines record into a History."""
    events = sorted(
        (
            ActivityEvent(datetime.fromisoformat(e["at"]), e["kind"], e["author"], e["agency"])
            for e in record["events"]
        ),
        key=lambda ev: ev.at,
    )
    ep = record.get("episode")
    known = record.get("known_since")
    return History(
        child=str(record["child"]),
        events=tuple(events),
        stamps=tuple(ev.at.timestamp() for ev in events),
        known_since=datetime.fromisoformat(known) if known else None,
        episode=None
        if ep is None
        else (datetime.fromisoformat(ep["start"]), datetime.fromisoformat(ep["end"])),
    )


def load(path: Path) -> list[History]:
    """Read a scenario file written by loadtests.velocity_scenarios."""
    with path.open(encoding="utf-8") as lines:
        return [parse_history(json.loads(line)) for line in lines if line.strip()]


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def checkpoint_of(histories: Sequence[History]) -> datetime:
    """The day (midnight UTC) covered by the most episodes; ties go to the earliest."""
    cover: dict[datetime, int] = {}
    for h in histories:
        if h.episode is not None:
            day = _midnight(h.episode[0])
            while day < h.episode[1]:
                cover[day] = cover.get(day, 0) + 1
                day += DAY
    if not cover:
        raise ValueError("scenario has no episodes")
    return max(sorted(cover), key=lambda d: cover[d])


def eval_days(histories: Sequence[History], checkpoint: datetime) -> list[datetime]:
    """Midnights starting each evaluated day: checkpoint +-14 days, within the data."""
    last = max(_midnight(h.events[-1].at) for h in histories if h.events)
    first = checkpoint - EVAL_HALF_WIDTH * DAY
    return [first + i * DAY for i in range(2 * EVAL_HALF_WIDTH + 1) if first + i * DAY <= last]


def _slice(h: History, start: datetime, end: datetime) -> tuple[ActivityEvent, ...]:
    lo = bisect_left(h.stamps, start.timestamp())
    return h.events[lo : bisect_left(h.stamps, end.timestamp())]


def _run_child(
    tallies: Sequence[DayTally], h: History, days: Sequence[datetime], params: VelocityParams
) -> tuple[list[bool], list[int], list[float]]:
    """Assess one child at the end of each day; ``tallies[0]`` is the last evaluated day."""
    flags, counts, scores, flagged = [], [], [], False
    for back in range(len(days) - 1, -1, -1):  # oldest evaluated day first
        now = days[-1 - back] + DAY  # assessed at the end of the day
        window = tallies[back : back + params.span]
        result = assess_days(window, now, flagged, known_since=h.known_since, params=params)
        flagged = result.flagged
        flags.append(flagged)
        scores.append(result.score)
        counts.append(sum(day.posts for day in window[:3]))
    return flags, counts, scores


def run_all(
    histories: Sequence[History], days: Sequence[datetime], at: int, params: VelocityParams
) -> _Runs:
    """Assess every child on every evaluated day; `at` indexes the checkpoint in `days`.

    Each child's events are tallied into UTC calendar days once, and every day is
    assessed with ``assess_days``, as the server does (tests check it equals ``assess``).
    """
    runs = _Runs([], [], [])
    end = days[-1] + DAY
    for h in histories:
        tallies = tally_days(h.events, end, params.span + len(days))
        flags, counts, scores = _run_child(tallies, h, days, params)
        runs.flags.append(flags)
        runs.counts.append(counts)
        runs.scores_at_checkpoint.append(scores[at])
    return runs


def precision_at(scores: Sequence[float], positive: Sequence[bool], k: int) -> float:
    """Share of positives among the k highest scores (ties broken by input order)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return sum(positive[i] for i in order[:k]) / min(k, len(order))


def false_positive_rate(flags: Sequence[Sequence[bool]], negative: Sequence[bool]) -> float:
    """Mean over days of the share of negative children flagged that day."""
    rows = [row for row, neg in zip(flags, negative, strict=True) if neg]
    if not rows:
        return 0.0
    return statistics.fmean(sum(col) / len(rows) for col in zip(*rows, strict=True))


def detection_delays(
    flags: Sequence[Sequence[bool]], histories: Sequence[History], days: Sequence[datetime]
) -> list[int | None]:
    """Per episode: days from its start to the first flag while it runs or within
    GRACE_DAYS after it ends (None = missed)."""
    delays: list[int | None] = []
    for row, h in zip(flags, histories, strict=True):
        if h.episode is None:
            continue
        start, end = _midnight(h.episode[0]), h.episode[1] + GRACE_DAYS * DAY
        hits = [d for d, f in zip(days, row, strict=True) if f and start <= d < end]
        delays.append((hits[0] - start).days if hits else None)
    return delays


def method_result(
    name: str,
    ranking: Sequence[float],
    flags: Sequence[Sequence[bool]],
    histories: Sequence[History],
    days: Sequence[datetime],
) -> MethodResult:
    """Compute one table row from a checkpoint ranking and day-by-day flags."""
    positive = [h.episode is not None for h in histories]
    delays = detection_delays(flags, histories, days)
    found = [d for d in delays if d is not None]
    return MethodResult(
        name=name,
        p_at_10=precision_at(ranking, positive, 10),
        p_at_50=precision_at(ranking, positive, 50),
        recall=len(found) / len(delays) if delays else 0.0,
        fpr=false_positive_rate(flags, [not p for p in positive]),
        median_days=statistics.median(found) if found else None,
    )


def naive_flags(counts: Sequence[Sequence[int]], threshold: int) -> list[list[bool]]:
    """Naive `flagged`: at least `threshold` posts in the last 72 h."""
    return [[c >= threshold for c in row] for row in counts]


def match_threshold(
    counts: Sequence[Sequence[int]], negative: Sequence[bool], target_fpr: float
) -> int:
    """Integer 72 h post-count threshold whose FPR/day is closest to `target_fpr`."""
    top = max((max(row) for row in counts if row), default=1)
    candidates = range(1, top + 2)

    def gap(t: int) -> float:
        return abs(false_positive_rate(naive_flags(counts, t), negative) - target_fpr)

    return min(candidates, key=gap)


def naive_count(events: Iterable[ActivityEvent], now: datetime) -> int:
    """The naive baseline's whole computation: posts in the 72 h before `now`."""
    since = now - 3 * DAY
    return sum(1 for ev in events if since <= ev.at < now)


def time_assessments(
    histories: Sequence[History], now: datetime, n: int, params: VelocityParams
) -> dict[str, Timing]:
    """Time `n` children each way, cycling through the scenario's histories.

    "posts": ``assess`` on the child's pre-sliced ~91 days of posts (what a job reading
    posts does); "tallies": ``assess_days`` on its daily tallies (what the server does
    with stored per-day rows); "naive": counting the posts in the last 72 h.
    """
    if n <= 0:
        return {}
    pool = [_slice(h, now - params.span * DAY, now) for h in histories]
    days = [tally_days(events, now, params.span) for events in pool]
    known = [h.known_since for h in histories]
    size = len(pool)
    return {
        "posts": _timed(
            lambda i: assess(pool[i], now, known_since=known[i], params=params), n, size
        ),
        "tallies": _timed(
            lambda i: assess_days(days[i], now, known_since=known[i], params=params), n, size
        ),
        "naive": _timed(lambda i: naive_count(pool[i], now), n, size),
    }


def _timed(work: Callable[[int], object], n: int, size: int) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        work(i % size)
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def scenario(path: Path | None, children: int, seed: int) -> list[History]:
    """Load `path`, or generate a scenario in memory."""
    if path is not None:
        return load(path)
    return [parse_history(r) for r in generate(ScenarioConfig(children=children, seed=seed))]


def evaluate(
    histories: Sequence[History], params: VelocityParams = DEFAULT_PARAMS, speed_children: int = 0
) -> BenchResult:
    """Run both methods over the scenario and time `speed_children` assessments."""
    checkpoint = checkpoint_of(histories)
    days = eval_days(histories, checkpoint)
    runs = run_all(histories, days, days.index(checkpoint), params)
    ours = method_result("velocity", runs.scores_at_checkpoint, runs.flags, histories, days)
    negative = [h.episode is None for h in histories]
    timings = time_assessments(histories, checkpoint + DAY, speed_children, params)
    threshold = match_threshold(runs.counts, negative, ours.fpr)
    naive_rank = [float(row[days.index(checkpoint)]) for row in runs.counts]
    naive = method_result(
        "naive 72 h posts", naive_rank, naive_flags(runs.counts, threshold), histories, days
    )
    return BenchResult(
        ours=ours,
        naive=naive,
        naive_threshold=threshold,
        flag_threshold=params.flag_threshold,
        release_threshold=params.release_threshold,
        children=len(histories),
        episodes=sum(not n for n in negative),
        checkpoint=checkpoint,
        eval_days=len(days),
        speed_children=speed_children,
        timings=timings,
    )


def run(
    *,
    scenario_path: Path | None = None,
    children: int = ScenarioConfig.children,
    seed: int = ScenarioConfig.seed,
    quick: bool = False,
    speed_children: int | None = None,
    params: VelocityParams = DEFAULT_PARAMS,
) -> BenchResult:
    """The whole benchmark; ``quick`` shrinks it to a CI-sized smoke run."""
    if quick:
        children = min(children, QUICK_CHILDREN)
    if speed_children is None:
        speed_children = QUICK_SPEED_CHILDREN if quick else FULL_SPEED_CHILDREN
    return evaluate(scenario(scenario_path, children, seed), params, speed_children)


def _fmt_days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def format_table(result: BenchResult) -> str:
    """Markdown table of both methods plus the speed line."""
    lines = [
        f"{result.children} children, {result.episodes} with an episode; checkpoint "
        f"{result.checkpoint.date()}; {result.eval_days} days evaluated",
        "",
        _row(["method", "p@10", "p@50", "recall", "FPR/day", "median days to detect"]),
        _row(["---"] * 6),
    ]
    for m in (result.ours, result.naive):
        lines.append(
            _row(
                [
                    m.name,
                    f"{m.p_at_10:.2f}",
                    f"{m.p_at_50:.2f}",
                    f"{m.recall:.0%}",
                    f"{m.fpr:.2%}",
                    _fmt_days(m.median_days),
                ]
            )
        )
    lines += [
        "",
        f"velocity flagged = recent score >= {result.flag_threshold:g} "
        f"(stays flagged while >= {result.release_threshold:g})",
        f"naive flagged = >= {result.naive_threshold} posts in 72 h "
        "(integer threshold with FPR/day closest to ours)",
    ]
    lines += _speed_lines(result)
    return "\n".join(lines)


def _speed_lines(result: BenchResult) -> list[str]:
    if not result.speed_children:
        return []
    n, t = result.speed_children, result.timings
    return [
        f"speed, velocity: {n:,} children assessed from posts in {_timing(n, t['posts'])}",
        f"speed, velocity: {n:,} children assessed from daily tallies in "
        f"{_timing(n, t['tallies'])}",
        f"speed, naive:    {n:,} children counted in {_timing(n, t['naive'])}",
    ]


def _timing(n: int, timing: Timing) -> str:
    return (
        f"{timing.wall:.2f} s wall, {timing.cpu:.2f} s CPU "
        f"({_rate(n, timing.wall)} children/s wall, {_rate(n, timing.cpu)} /s CPU, one process)"
    )


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "-"


def params_with_flag(flag: float) -> VelocityParams:
    """The default parameters with another flag threshold, release lowered by as much."""
    gap = DEFAULT_PARAMS.flag_threshold - DEFAULT_PARAMS.release_threshold
    return replace(DEFAULT_PARAMS, flag_threshold=flag, release_threshold=max(0.0, flag - gap))


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, help="JSON-lines scenario (default: generate)")
    parser.add_argument("--children", type=int, default=ScenarioConfig.children)
    parser.add_argument("--seed", type=int, default=ScenarioConfig.seed)
    parser.add_argument("--quick", action="store_true", help="CI smoke run: few hundred children")
    parser.add_argument("--speed-children", type=int, help="children to time (0 = skip)")
    parser.add_argument(
        "--flag-threshold",
        type=float,
        default=DEFAULT_PARAMS.flag_threshold,
        help="score that flags a child (the release threshold keeps the default gap)",
    )
    args = parser.parse_args(argv)
    params = params_with_flag(args.flag_threshold)
    result = run(
        scenario_path=args.scenario,
        children=args.children,
        seed=args.seed,
        quick=args.quick,
        speed_children=args.speed_children,
        params=params,
    )
    out(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
