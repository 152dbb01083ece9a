"""Synthetic child activity histories for the velocity benchmark.

Stdlib only and fully determined by the seed.  Usage::

    python -m loadtests.velocity_scenarios --out scenario.jsonl [--children N] [--days D]
                                           [--seed S]

Each output line is one child (format documented in docs/velocity.md)::

    {"child": "c00042", "known_since": iso, "events": [{"at": iso, "kind": ...,
     "author": ..., "agency": ...}, ...], "episode": null | {"start": iso, "end": iso}}

What is simulated, and why (the detector must cope with all of it):

* heterogeneous baselines: posts per weekday are log-normal across children, from a
  couple a month to a dozen a week, with a slow week-to-week drift;
* clumpy days: a practitioner who posts often posts several times in a row;
* weekly rhythm (weekends carry ~30% of a weekday) and holidays (half-term, Easter,
  bank holidays), when schools in particular go quiet;
* routine multi-agency days (core-group meetings every 4-6 weeks for children on a
  plan, and occasional one-off professionals' meetings), which look like a burst of
  agencies but are normal;
* new children (referrals) whose history starts mid-scenario with a busy intake week;
* ~10% of established children get an *episode* of rising attention lasting 3-14
  days.  Onset is either gradual (worries accumulate: a linear ramp, 60%) or sudden
  (an incident or a disclosure: full strength from the first day, 40%).  At full
  strength the agencies already involved post x1.3-x4 as often, and 1-3 agencies that
  were not involved join, bringing 0.2-1.5 extra sittings per weekday between them and
  the existing agencies; hunches and concerns become much more common.  Strengths are
  drawn log-uniformly, so many episodes are faint (a couple of extra posts).  All
  episodes contain the checkpoint day ``days - 15``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
AGENCIES: tuple[str, ...] = (
    "social-care",
    "school",
    "health",
    "police",
    "early-help",
    "camhs",
    "youth-justice",
    "housing",
    "nursery",
    "probation",
)
# Day offsets from EPOCH: New Year, February half-term, Easter break, May bank holiday.
HOLIDAYS: frozenset[int] = frozenset({0, *range(43, 48), *range(88, 102), 126})
KINDS: tuple[str, ...] = ("update", "visit", "positive", "hunch", "concern")
NORMAL_MIX: tuple[int, ...] = (50, 20, 12, 8, 10)
EPISODE_MIX: tuple[int, ...] = (35, 15, 5, 20, 25)
SUDDEN_SHARE = 0.4  # episodes that start at full strength (an incident, a disclosure)
REPEAT_POST = 0.4  # chance a practitioner adds one more post to the same sitting
MEAN_SITTING = 1.0 / (1.0 - REPEAT_POST)
WEEKEND_FACTOR = 0.3
HOLIDAY_FACTOR = 0.5
PRACTITIONERS_PER_AGENCY = 60
CHECKPOINT_LEAD = 15  # the checkpoint is this many days before the end
# The bench evaluates checkpoint +-14 days, each with the detector's 91 days of history.
MIN_DAYS = 120


@dataclass(frozen=True)
class ScenarioConfig:
    """Size and mix of one generated scenario."""

    children: int = 3000
    days: int = 120
    seed: int = 7
    episode_share: float = 0.10
    new_child_share: float = 0.06
    plan_share: float = 0.30

    @property
    def checkpoint(self) -> int:
        """Day offset (from EPOCH) that every episode contains."""
        return self.days - CHECKPOINT_LEAD


@dataclass(frozen=True)
class Episode:
    """A stretch of rising attention injected into one child's history."""

    start: int  # first day (offset from EPOCH)
    length: int  # days
    strength: float  # multiplier on the usual rate at full strength
    extra_rate: float  # extra sittings per weekday (mostly newcomers) at full strength
    newcomers: tuple[str, ...]  # agencies that join during the episode
    sudden: bool = False  # full strength from day one, instead of a linear ramp

    def progress(self, day: int) -> float:
        """0 outside the episode; inside, 1 if sudden, else rising linearly to 1."""
        if not self.start <= day < self.start + self.length:
            return 0.0
        return 1.0 if self.sudden else (day - self.start + 1) / self.length


@dataclass(frozen=True)
class Profile:
    """Everything random about one child, drawn up front."""

    rate: float  # posts per ordinary weekday
    agencies: tuple[str, ...]
    weights: tuple[float, ...]  # share of sittings per agency
    authors: dict[str, tuple[str, ...]]
    start_day: int  # first day the child is known
    plan: tuple[int, int] | None  # (cycle days, offset) of core-group meetings
    drift: tuple[float, ...]  # weekly multiplier on rate
    episode: Episode | None


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson variate (Knuth for small means, rounded normal above 30)."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def calendar_factor(day: int) -> float:
    """How much of an ordinary weekday's activity this day carries."""
    factor = WEEKEND_FACTOR if (EPOCH + timedelta(days=day)).weekday() >= 5 else 1.0
    return factor * (HOLIDAY_FACTOR if day in HOLIDAYS else 1.0)


def _authors(rng: random.Random, agencies: Sequence[str]) -> dict[str, tuple[str, ...]]:
    # Practitioners are shared across children, as in real caseloads.
    return {
        a: tuple(
            f"{a}/p{rng.randrange(PRACTITIONERS_PER_AGENCY)}" for _ in range(rng.randint(1, 3))
        )
        for a in agencies
    }


def _drift(rng: random.Random, weeks: int) -> tuple[float, ...]:
    level, out = 0.0, []
    for _ in range(weeks):
        level = 0.8 * level + rng.gauss(0.0, 0.15)
        out.append(math.exp(level))
    return tuple(out)


def _episode(rng: random.Random, cfg: ScenarioConfig, agencies: Sequence[str]) -> Episode:
    length = rng.randint(3, 14)
    outsiders = [a for a in AGENCIES if a not in agencies]
    return Episode(
        start=cfg.checkpoint - rng.randrange(length),
        length=length,
        strength=_log_uniform(rng, 1.3, 4.0),
        extra_rate=_log_uniform(rng, 0.2, 1.5),
        newcomers=tuple(rng.sample(outsiders, rng.randint(1, 3))),
        sudden=rng.random() < SUDDEN_SHARE,
    )


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def draw_profile(rng: random.Random, cfg: ScenarioConfig, with_episode: bool) -> Profile:
    """Draw one child's baseline behaviour (and episode, if any)."""
    agencies = tuple(rng.sample(AGENCIES, rng.randint(2, 5)))
    weights = tuple(rng.expovariate(1.0) for _ in agencies)
    is_new = not with_episode and rng.random() < cfg.new_child_share
    on_plan = rng.random() < cfg.plan_share
    return Profile(
        rate=min(3.0, math.exp(rng.gauss(math.log(0.2), 1.1))) * (1.6 if on_plan else 1.0),
        agencies=agencies,
        weights=weights,
        authors=_authors(rng, AGENCIES),  # every agency: newcomers need authors too
        start_day=rng.randrange(cfg.days - 3) if is_new else 0,
        plan=(rng.randint(28, 42), rng.randrange(42)) if on_plan else None,
        drift=_drift(rng, cfg.days // 7 + 1),
        episode=_episode(rng, cfg, agencies) if with_episode else None,
    )


def _sitting(
    rng: random.Random, prof: Profile, agency: str, day: int, mix: Sequence[int]
) -> list[dict[str, str]]:
    author = rng.choice(prof.authors[agency])
    n = 1
    while rng.random() < REPEAT_POST:
        n += 1
    start = EPOCH + timedelta(days=day, hours=rng.uniform(8.0, 17.0))
    return [
        {
            "at": (start + timedelta(minutes=7 * i)).isoformat(),
            "kind": rng.choices(KINDS, weights=mix)[0],
            "author": author,
            "agency": agency,
        }
        for i in range(n)
    ]


def _meeting(rng: random.Random, prof: Profile, day: int) -> list[dict[str, str]]:
    """A routine multi-agency meeting: several agencies write it up the same day."""
    present = rng.sample(prof.agencies, min(len(prof.agencies), rng.randint(2, 4)))
    return [_sitting(rng, prof, a, day, NORMAL_MIX)[0] for a in present]


def _is_meeting_day(rng: random.Random, prof: Profile, day: int) -> bool:
    if calendar_factor(day) < 1.0:
        return False
    if prof.plan is not None and (day - prof.plan[1]) % prof.plan[0] == 0:
        return True
    return rng.random() < 0.01


def _usual_rate(prof: Profile, day: int, progress: float) -> float:
    intake = 3.0 if day - prof.start_day < 5 and prof.start_day > 0 else 1.0
    surge = 1.0 + ((prof.episode.strength - 1.0) * progress if prof.episode else 0.0)
    return prof.rate * calendar_factor(day) * prof.drift[day // 7] * intake * surge


def day_events(rng: random.Random, prof: Profile, day: int) -> list[dict[str, str]]:
    """All posts about one child on one day."""
    progress = prof.episode.progress(day) if prof.episode else 0.0
    mix = EPISODE_MIX if progress else NORMAL_MIX
    events: list[dict[str, str]] = []
    for _ in range(poisson(rng, _usual_rate(prof, day, progress) / MEAN_SITTING)):
        agency = rng.choices(prof.agencies, weights=prof.weights)[0]
        events += _sitting(rng, prof, agency, day, mix)
    if prof.episode and progress:
        extra = prof.episode.extra_rate * progress * calendar_factor(day)
        for _ in range(poisson(rng, extra)):
            pool = prof.episode.newcomers if rng.random() < 0.6 else prof.agencies
            events += _sitting(rng, prof, rng.choice(pool), day, mix)
    if _is_meeting_day(rng, prof, day):
        events += _meeting(rng, prof, day)
    return events


def _iso_day(day: int) -> str:
    return (EPOCH + timedelta(days=day)).isoformat()


def child_record(
    rng: random.Random, cfg: ScenarioConfig, index: int, with_episode: bool
) -> dict[str, Any]:
    """One JSON-ready line: the child's events, sorted, plus its episode if any."""
    prof = draw_profile(rng, cfg, with_episode)
    events: list[dict[str, str]] = []
    for day in range(prof.start_day, cfg.days):
        events += day_events(rng, prof, day)
    events.sort(key=lambda e: e["at"])
    ep = prof.episode
    return {
        "child": f"c{index:05d}",
        # Established children were known long before the scenario starts.
        "known_since": _iso_day(prof.start_day if prof.start_day else -365),
        "events": events,
        "episode": None
        if ep is None
        else {
            "start": _iso_day(ep.start),
            "end": _iso_day(ep.start + ep.length),
            "onset": "sudden" if ep.sudden else "gradual",
        },
    }


def generate(cfg: ScenarioConfig) -> Iterator[dict[str, Any]]:
    """Yield every child of the scenario, deterministically from ``cfg.seed``."""
    rng = random.Random(cfg.seed)
    n_episodes = round(cfg.children * cfg.episode_share)
    with_episode = set(rng.sample(range(cfg.children), n_episodes))
    for index in range(cfg.children):
        yield child_record(rng, cfg, index, index in with_episode)


def write(cfg: ScenarioConfig, path: Path) -> int:
    """Write the scenario as JSON lines; returns the number of events written."""
    total = 0
    with path.open("w", encoding="utf-8") as out:
        for record in generate(cfg):
            total += len(record["events"])
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return total


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to write")
    parser.add_argument("--children", type=int, default=ScenarioConfig.children)
    parser.add_argument("--days", type=int, default=ScenarioConfig.days)
    parser.add_argument("--seed", type=int, default=ScenarioConfig.seed)
    args = parser.parse_args(argv)
    if args.days < MIN_DAYS:
        parser.error(f"--days must be at least {MIN_DAYS} (91 days of history + 29 evaluated)")
    cfg = ScenarioConfig(children=args.children, days=args.days, seed=args.seed)
    events = write(cfg, args.out)
    print(f"wrote {cfg.children} children, {events} events to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
