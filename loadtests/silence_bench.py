"""Detection-quality benchmark for feeds.silence (stdlib only).

Usage::

    python -m loadtests.silence_bench [--seeds 11-15] [--children N] [--quick]
                                      [--scenario FILE] [--flag-threshold T]

Scenarios come from loadtests.silence_scenarios (generated in memory per seed, or read
from a file). Every child is assessed at the end of each of the 14 days up to the
checkpoint (the end of the scenario), carrying ``flagged`` from day to day as the sweep
does; a child with an injected silence is assessed every day from its agency's last
contact on, to find the first day it is flagged. Side by side with the naive rule "an
agency that posted 3+ times in 120 days has been silent 21+ days" (ranked by days
silent). Metrics:

* p@10 / p@30: share of children with an injected silence among the top 10 / 30 of the
  ranking at the checkpoint;
* recall: share of injected silences flagged at the checkpoint, for the right agency;
* FPR: share of children without an injected silence flagged at the checkpoint;
* median days after due: first day flagged (for the right agency) minus the day two
  usual occurrences were missed, over the silences flagged by the checkpoint (negative:
  flagged before due).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from feeds.silence import assess
from feeds.silence.detector import DEFAULT_PARAMS, SilenceParams, assess_contacts, contact_ages
from feeds.velocity.detector import ActivityEvent
from loadtests.silence_scenarios import ScenarioConfig, checkpoint, generate

DAY = timedelta(days=1)
WARM_UP_DAYS = 14  # days before the checkpoint assessed to carry `flagged` into it
NAIVE_POSTS, NAIVE_WINDOW, NAIVE_SILENT = 3, 120, 21
QUICK_CHILDREN = 400
TUNING_SEEDS = "1-3"
REPORTED_SEEDS = "11-15"
# (score, agencies it flags, flagged): what one method says about one child at one moment.
Verdict = tuple[float, frozenset[str], bool]
Method = Callable[[Sequence[ActivityEvent], datetime, bool], Verdict]


@dataclass(frozen=True)
class Silence:
    agency: str
    cadence: int
    due: datetime  # the end of the day two usual occurrences were missed
    last: datetime  # the day of the last contact (midnight)


@dataclass(frozen=True)
class History:
    child: str
    events: tuple[ActivityEvent, ...]  # sorted by time
    stamps: tuple[float, ...]  # POSIX seconds of `events`, for bisect
    silence: Silence | None

    def window(self, now: datetime, days: int) -> Sequence[ActivityEvent]:
        lo = bisect_left(self.stamps, (now - days * DAY).timestamp())
        hi = bisect_left(self.stamps, now.timestamp())
        return self.events[lo:hi]


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    name: str
    p10: float
    p30: float
    recall: float
    fpr: float
    after_due: float | None  # median days after due, over detected silences
    by_cadence: dict[int, float]  # the same median per injected cadence (7, 14, 28-31)


def parse(record: dict[str, Any]) -> History:
    events = tuple(
        ActivityEvent(datetime.fromisoformat(e["at"]), e["kind"], e["author"], e["agency"])
        for e in record["events"]
    )
    found = record.get("silence")
    silence = None
    if found:
        due, last = datetime.fromisoformat(found["due"]), datetime.fromisoformat(found["last"])
        silence = Silence(found["agency"], int(found["cadence"]), due, last)
    return History(record["child"], events, tuple(e.at.timestamp() for e in events), silence)


def detector_method(params: SilenceParams) -> Method:
    def run(events: Sequence[ActivityEvent], now: datetime, previously: bool) -> Verdict:
        found = assess(events, now, previously, params=params)
        return found.score, frozenset(found.silent_agencies), found.flagged

    return run


def naive(events: Sequence[ActivityEvent], now: datetime, previously: bool) -> Verdict:
    """Agencies with 3+ posts in 120 days, silent 21+ days; score = longest such silence."""
    del previously  # the rule has no memory
    posts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    since = now - NAIVE_WINDOW * DAY
    for ev in events:
        if since <= ev.at < now:
            posts[ev.agency] = posts.get(ev.agency, 0) + 1
            last[ev.agency] = max(last.get(ev.agency, ev.at), ev.at)
    quiet = {a: (now - last[a]) // DAY for a, n in posts.items() if n >= NAIVE_POSTS}
    silent = frozenset(a for a, days in quiet.items() if days >= NAIVE_SILENT)
    return float(max(quiet.values(), default=0)), silent, bool(silent)


def _carry(
    method: Method, child: History, days: Iterable[datetime], history: int
) -> Iterator[tuple[datetime, Verdict]]:
    flagged = False
    for now in days:
        verdict = method(child.window(now, history), now, flagged)
        flagged = verdict[2]
        yield now, verdict


def _days(first: datetime, last: datetime) -> list[datetime]:
    return [first + n * DAY for n in range((last - first) // DAY + 1)]


def evaluate(name: str, method: Method, children: Sequence[History], end: datetime) -> Row:
    """Rank at `end`, flags carried over the days before it, first flag per silence."""
    history = DEFAULT_PARAMS.history_days
    final: dict[str, Verdict] = {}
    after_due: list[tuple[int, float]] = []
    for child in children:
        start = end - WARM_UP_DAYS * DAY
        if child.silence is not None:
            start = min(start, child.silence.last + DAY)
        first = None
        for now, verdict in _carry(method, child, _days(start, end), history):
            final[child.child] = verdict
            hit = child.silence is not None and child.silence.agency in verdict[1]
            if hit and first is None:
                first = now
            if not hit:
                first = None  # must still be flagged at the checkpoint
        if child.silence is not None and first is not None:
            after_due.append((child.silence.cadence, (first - child.silence.due) / DAY))
    return _row(name, children, final, after_due)


def _row(
    name: str,
    children: Sequence[History],
    final: dict[str, Verdict],
    after_due: list[tuple[int, float]],
) -> Row:
    silent = {c.child: c.silence for c in children if c.silence is not None}
    ranked = sorted(children, key=lambda c: (-final[c.child][0], c.child))
    top = [c.child in silent for c in ranked]
    caught = sum(1 for c, s in silent.items() if s.agency in final[c][1])
    others = [c.child for c in children if c.child not in silent]
    false = sum(1 for c in others if final[c][2])
    by_cadence: dict[int, list[float]] = {}
    for cadence, days in after_due:
        by_cadence.setdefault(min(cadence, 28), []).append(days)
    return Row(
        name=name,
        p10=sum(top[:10]) / 10,
        p30=sum(top[:30]) / 30,
        recall=caught / len(silent) if silent else 0.0,
        fpr=false / len(others) if others else 0.0,
        after_due=statistics.median(d for _, d in after_due) if after_due else None,
        by_cadence={k: statistics.median(v) for k, v in sorted(by_cadence.items())},
    )


def _fmt_days(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


HEADER = (
    "| seed | method | p@10 | p@30 | recall | FPR | median days after due "
    "(weekly / fortnightly / monthly) |\n| --- | --- | --- | --- | --- | --- | --- |"
)


def format_row(seed: str, row: Row) -> str:
    parts = " / ".join(_fmt_days(row.by_cadence.get(k)) for k in (7, 14, 28))
    return (
        f"| {seed} | {row.name} | {row.p10:.2f} | {row.p30:.2f} | {row.recall:.1%} | "
        f"{row.fpr:.2%} | {_fmt_days(row.after_due)} ({parts}) |"
    )


def mean_row(rows: Sequence[Row]) -> Row:
    dues = [r.after_due for r in rows if r.after_due is not None]
    keys = sorted({k for r in rows for k in r.by_cadence})
    return Row(
        name=rows[0].name,
        p10=statistics.fmean(r.p10 for r in rows),
        p30=statistics.fmean(r.p30 for r in rows),
        recall=statistics.fmean(r.recall for r in rows),
        fpr=statistics.fmean(r.fpr for r in rows),
        after_due=statistics.fmean(dues) if dues else None,
        by_cadence={
            k: statistics.fmean(r.by_cadence[k] for r in rows if k in r.by_cadence) for k in keys
        },
    )


def speed(children: Sequence[History], end: datetime, params: SilenceParams) -> str:
    """Time the detector on the checkpoint's events, and on contact days (the sweep's input)."""
    windows = [c.window(end, params.history_days) for c in children]
    started = time.perf_counter()
    for events in windows:
        assess(events, end, params=params)
    from_events = time.perf_counter() - started
    days = [_contact_days(events, end, params) for events in windows]
    started = time.perf_counter()
    for active in days:
        assess_contacts(active, params=params)
    from_days = time.perf_counter() - started
    n = len(children)
    return (
        f"speed: {n} children assessed from posts in {from_events:.2f} s "
        f"({n / from_events:,.0f}/s); from contact days in {from_days:.2f} s "
        f"({n / from_days:,.0f}/s)"
    )


def _contact_days(
    events: Sequence[ActivityEvent], end: datetime, params: SilenceParams
) -> list[tuple[int, frozenset[str]]]:
    by_age: dict[int, set[str]] = {}
    for agency, ages in contact_ages(events, end, params.history_days).items():
        for age in ages:
            by_age.setdefault(age, set()).add(agency)
    return [(age, frozenset(agencies)) for age, agencies in sorted(by_age.items())]


def seed_list(text: str) -> list[int]:
    """'11-15' or '1,4,7' as a list of seeds."""
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def load(path: Path) -> tuple[list[History], datetime]:
    """A scenario file's children and its checkpoint."""
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [parse(r) for r in records], datetime.fromisoformat(records[0]["checkpoint"])


def run_one(children: Sequence[History], end: datetime, params: SilenceParams) -> list[Row]:
    return [
        evaluate("silence", detector_method(params), children, end),
        evaluate("naive 21 days", naive, children, end),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", default=REPORTED_SEEDS, help="e.g. 11-15 or 1,2,3")
    parser.add_argument("--children", type=int, default=ScenarioConfig.children)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CHILDREN} children")
    parser.add_argument("--scenario", type=Path, help="a JSON-lines file instead of seeds")
    parser.add_argument("--flag-threshold", type=float, default=DEFAULT_PARAMS.flag_threshold)
    parser.add_argument("--speed", action="store_true", help="also time the detector")
    args = parser.parse_args(argv)
    params = DEFAULT_PARAMS
    if args.flag_threshold != params.flag_threshold:
        release = min(params.release_threshold, args.flag_threshold)
        params = replace(params, flag_threshold=args.flag_threshold, release_threshold=release)
    children_n = QUICK_CHILDREN if args.quick else args.children
    runs: list[tuple[str, list[History], datetime]] = []
    if args.scenario:
        children, end = load(args.scenario)
        runs.append((args.scenario.name, children, end))
        print(f"{len(children)} children from {args.scenario}")
    else:
        print(f"{children_n} children per seed, seeds {args.seeds}")
        for seed in seed_list(args.seeds):
            cfg = ScenarioConfig(children=children_n, seed=seed)
            runs.append((str(seed), [parse(r) for r in generate(cfg)], checkpoint(cfg)))
    print(HEADER)
    table: dict[str, list[Row]] = {}
    for label, children, end in runs:
        for row in run_one(children, end, params):
            table.setdefault(row.name, []).append(row)
            print(format_row(label, row), flush=True)
    if len(runs) > 1:
        for rows in table.values():
            print(format_row("**mean**", mean_row(rows)))
    silent = sum(1 for c in runs[0][1] if c.silence is not None)
    print(f"\n{silent} of {len(runs[0][1])} children with an injected silence (first run)")
    print(
        f"silence flagged = score >= {params.flag_threshold:g} "
        f"(stays flagged while >= {params.release_threshold:g})"
    )
    print(
        f"naive flagged = an agency with {NAIVE_POSTS}+ posts in {NAIVE_WINDOW} days, "
        f"silent {NAIVE_SILENT}+ days"
    )
    if args.speed:
        print(speed(runs[0][1], runs[0][2], params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
