"""Synthetic contact histories for the silence benchmark (stdlib only, seeded).

Usage::

    python -m loadtests.silence_scenarios --out scenario.jsonl [--children N] [--seed S]

Each output line is one child::

    {"child": "c00042", "events": [{"at": iso, "kind": ..., "author": ..., "agency": ...}],
     "agencies": {"school": "weekly", ...},
     "silence": null | {"agency": ..., "cadence": days, "last": iso, "due": iso},
     "checkpoint": iso}

What is simulated (the detector must cope with all of it):

* each child has 2-5 agencies, each with its own pattern: weekly, fortnightly,
  monthly (every 28-31 days), *bursty* (2-6 contact days within a fortnight, then
  30-75 days of nothing on average) or *random* (contacts at random, a mean gap of
  3-30 days);
* a regular agency's contacts wobble (a standard deviation of up to 12% of the period),
  skip 0-12% of occurrences independently, add unplanned extra contacts at random
  times (one for every five usual occurrences, on average) and write 1-4 posts per
  contact day. Two skips in a row happen (under 1.5% of occurrences) but no longer
  runs are added as noise: two or more missed in a row *is* a silence by definition,
  and a child in one that was not injected counts as a false positive;
* 40% of agencies hand over to a new worker at a random day, who keeps the cadence;
  30% of agencies joined the child part-way (some too recently to have a cadence);
* ``silence_share`` of children get an injected *silence*: one regular agency that has
  been involved from the start stops. The stop is placed so that at the checkpoint (the
  end of the last day) it is between two periods + 3 days and four periods old, so every
  injected silence is due (two usual occurrences missed) by the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
AGENCIES: tuple[str, ...] = (
    "social-care",
    "school",
    "health-visiting",
    "gp",
    "police",
    "early-help",
    "camhs",
    "youth-justice",
    "housing",
    "nursery",
)
PATTERNS: tuple[str, ...] = ("weekly", "fortnightly", "monthly", "bursty", "random")
PATTERN_WEIGHTS: tuple[float, ...] = (0.25, 0.2, 0.2, 0.2, 0.15)
PERIODS = {"weekly": (7, 7), "fortnightly": (14, 14), "monthly": (28, 31)}
KINDS: tuple[str, ...] = ("update", "visit", "positive", "hunch", "concern")
KIND_WEIGHTS: tuple[int, ...] = (50, 25, 12, 6, 7)
MAX_SKIP = 0.12
MAX_WOBBLE = 0.12  # standard deviation of a contact's timing, as a share of the period
EXTRA_SHARE = 0.2  # unplanned extra contacts per usual occurrence
HANDOVER_SHARE = 0.4
LATE_JOIN_SHARE = 0.3


@dataclass(frozen=True)
class ScenarioConfig:
    """Size and mix of one generated scenario."""

    children: int = 2000
    days: int = 300  # the checkpoint is the end of the last day
    seed: int = 1
    silence_share: float = 0.08


@dataclass(frozen=True)
class Agency:
    """One agency's pattern of contact with one child, drawn up front."""

    name: str
    pattern: str
    period: int  # days; 0 for bursty and random
    start: int  # first day it may contact the child
    stop: int  # first day it no longer does (days for no stop)


def _geometric_posts(rng: random.Random) -> int:
    n = 1
    while n < 4 and rng.random() < 0.4:
        n += 1
    return n


def _regular_days(rng: random.Random, ag: Agency, days: int) -> list[int]:
    wobble = rng.uniform(0.0, MAX_WOBBLE) * ag.period
    skip = rng.uniform(0.0, MAX_SKIP)
    out = []
    slot = float(ag.start + rng.randrange(ag.period))
    while slot < days:
        if rng.random() >= skip:
            out.append(round(slot + rng.gauss(0.0, wobble)))
        slot += ag.period
    extra_rate = EXTRA_SHARE / ag.period
    t = ag.start + rng.expovariate(extra_rate)
    while t < days:
        out.append(int(t))
        t += rng.expovariate(extra_rate)
    return out


def _bursty_days(rng: random.Random, ag: Agency, days: int) -> list[int]:
    out: list[int] = []
    mean_quiet = rng.uniform(30.0, 75.0)
    t = ag.start + rng.expovariate(1.0 / mean_quiet)
    while t < days:
        length = rng.randint(3, 14)
        out += [int(t) + rng.randrange(length) for _ in range(rng.randint(2, 6))]
        t += length + rng.expovariate(1.0 / mean_quiet)
    return out


def _random_days(rng: random.Random, ag: Agency, days: int) -> list[int]:
    mean_gap = rng.uniform(3.0, 30.0)
    out, t = [], ag.start + rng.expovariate(1.0 / mean_gap)
    while t < days:
        out.append(int(t))
        t += rng.expovariate(1.0 / mean_gap)
    return out


def contact_days(rng: random.Random, ag: Agency, days: int) -> list[int]:
    """The days (offsets from EPOCH) this agency posts about the child, sorted, unique."""
    draw = {"bursty": _bursty_days, "random": _random_days}.get(ag.pattern, _regular_days)
    found = draw(rng, ag, days)
    return sorted({d for d in found if ag.start <= d < min(days, ag.stop)})


def _authors(rng: random.Random, name: str, days: int) -> tuple[str, str, int]:
    """Before and after a handover (the same worker throughout when there is none)."""
    first = f"{name}/p{rng.randrange(60)}"
    if rng.random() >= HANDOVER_SHARE:
        return first, first, days
    return first, f"{name}/p{60 + rng.randrange(60)}", rng.randrange(days)


def _posts(rng: random.Random, ag: Agency, days: Sequence[int], total: int) -> list[dict[str, str]]:
    before, after, handover = _authors(rng, ag.name, total)
    events = []
    for day in days:
        start = EPOCH + timedelta(days=day, hours=rng.uniform(8.0, 18.0))
        author = before if day < handover else after
        for i in range(_geometric_posts(rng)):
            events.append(
                {
                    "at": (start + timedelta(minutes=9 * i)).isoformat(),
                    "kind": rng.choices(KINDS, weights=KIND_WEIGHTS)[0],
                    "author": author,
                    "agency": ag.name,
                }
            )
    return events


def _draw_agencies(rng: random.Random, cfg: ScenarioConfig, silent: bool) -> list[Agency]:
    names = rng.sample(AGENCIES, rng.randint(2, 5))
    found = []
    for n, name in enumerate(names):
        pattern = rng.choices(PATTERNS, weights=PATTERN_WEIGHTS)[0]
        if silent and n == 0:  # the agency that will stop: regular, there from the start
            pattern = rng.choice(tuple(PERIODS))
        low, high = PERIODS.get(pattern, (0, 0))
        late = rng.random() < LATE_JOIN_SHARE and not (silent and n == 0)
        start = rng.randrange(cfg.days - 20) if late else 0
        found.append(Agency(name, pattern, rng.randint(low, high), start, cfg.days))
    return found


def _silence(rng: random.Random, ag: Agency, days: int) -> Agency:
    """The same agency, stopping between 2 periods + 3 days and 4 periods before the end."""
    quiet = rng.randint(2 * ag.period + 3, 4 * ag.period)
    return Agency(ag.name, ag.pattern, ag.period, ag.start, days - quiet)


def _iso_day(day: int) -> str:
    return (EPOCH + timedelta(days=day)).isoformat()


def child_record(
    rng: random.Random, cfg: ScenarioConfig, index: int, silent: bool
) -> dict[str, Any]:
    """One JSON-ready line: the child's events, sorted, plus its injected silence if any."""
    agencies = _draw_agencies(rng, cfg, silent)
    if silent:
        agencies[0] = _silence(rng, agencies[0], cfg.days)
    events: list[dict[str, str]] = []
    last = {}
    for ag in agencies:
        days = contact_days(rng, ag, cfg.days)
        if days:
            last[ag.name] = days[-1]
        events += _posts(rng, ag, days, cfg.days)
    events.sort(key=lambda e: e["at"])
    silence = None
    if silent:
        ag = agencies[0]
        silence = {
            "agency": ag.name,
            "cadence": ag.period,
            "last": _iso_day(last[ag.name]),
            # Two usual occurrences missed: the end of day last + 2 periods.
            "due": _iso_day(last[ag.name] + 2 * ag.period + 1),
        }
    return {
        "child": f"c{index:05d}",
        "events": events,
        "agencies": {ag.name: ag.pattern for ag in agencies},
        "silence": silence,
        "checkpoint": checkpoint(cfg).isoformat(),
    }


def generate(cfg: ScenarioConfig) -> Iterator[dict[str, Any]]:
    """Yield every child of the scenario, deterministically from ``cfg.seed``."""
    rng = random.Random(cfg.seed)
    silent = set(rng.sample(range(cfg.children), round(cfg.children * cfg.silence_share)))
    for index in range(cfg.children):
        yield child_record(rng, cfg, index, index in silent)


def checkpoint(cfg: ScenarioConfig) -> datetime:
    """The moment every injected silence is assessed at: the end of the last day."""
    return EPOCH + timedelta(days=cfg.days)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to write")
    parser.add_argument("--children", type=int, default=ScenarioConfig.children)
    parser.add_argument("--seed", type=int, default=ScenarioConfig.seed)
    args = parser.parse_args(argv)
    cfg = ScenarioConfig(children=args.children, seed=args.seed)
    with args.out.open("w", encoding="utf-8") as out:
        for record in generate(cfg):
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"wrote {cfg.children} children to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
