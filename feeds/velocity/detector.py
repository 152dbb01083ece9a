"""Attention velocity: is professional attention on a child rising unusually fast?

This module is deliberately pure (no I/O, no ORM, stdlib only) so it can be recomputed
for every child in a few seconds and tested with hand-built histories.

Method, in one paragraph (the long version with measurements is docs/velocity.md):
a child's activity is reduced to one ``DayTally`` per day, and each day's signal is the
number of distinct agencies active (agencies already involved count at most 2 a day: a
routine meeting writes several up at once), plus 1 per agency that raised a hunch or
concern and 1.5 per hunch or concern, less 0.5 per positive post (a day never below 0),
plus 2 per agency that was silent for the whole 12-week baseline. For the last 7 days we
ask how surprising that signal is given the child's own previous 12 weeks, using a
gamma-Poisson (negative-binomial) predictive distribution whose prior comes from the
cohort, so that a child with no history is compared with a typical child. The score is
``-log10`` of that p-value and ranks children. The same test on a *recent view* of the
window (day i weighted 2^(-i/2)) gives ``recent_score``, which raises and keeps the flag
(with hysteresis): it follows attention that is still rising and lets go of one busy day
within days. Low post counts are capped and never flag. It measures *professional
attention*, not risk.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

from feeds.kinds import WORRY_KINDS, PostKind

KINDS: tuple[str, ...] = tuple(kind.value for kind in PostKind)
CONCERN_KINDS: frozenset[str] = frozenset(kind.value for kind in WORRY_KINDS)
SPARKLINE_DAYS = 28
DAY_SECONDS = 86_400.0
_LN10 = math.log(10.0)
# Floor for p-values: a score of 300 is already absurdly certain; this avoids log(0).
_MIN_LOG_P = -300.0 * _LN10


@dataclass(frozen=True)
class ActivityEvent:
    """One post on a child's feed, reduced to what the detector needs."""

    at: datetime  # timezone-aware; compared as absolute instants
    kind: str  # one of KINDS
    author: str
    agency: str

    def __post_init__(self) -> None:
        _require_aware(self.at, "ActivityEvent.at")
        if self.kind not in KINDS:
            raise ValueError(f"unknown post kind {self.kind!r}; expected one of {KINDS}")


@dataclass(frozen=True)
class VelocityParams:
    """Tuning knobs.  Defaults are the ones measured in docs/velocity.md."""

    windows: tuple[int, ...] = (7,)  # test windows, in days ending at `now`
    baseline_days: int = 84  # history used as the child's own baseline (12 weeks)
    prior_mean: float = 0.36  # cohort mean of the daily signal on a weekday (fitted)
    prior_shape: float = 1.0  # gamma shape of the cohort prior (fitted; 1 = exponential, vague)
    dispersion: float = 5.0  # variance / mean allowed for the signal (measured: ~2.6; see docs)
    weekend_weight: float = 0.35  # a weekend day is expected to carry this share of a weekday
    agency_weight: float = 1.0  # signal per distinct agency active that day
    author_weight: float = 0.0  # signal per distinct author that day (no gain measured)
    concern_bonus: float = 1.0  # extra per agency that raised a hunch/concern that day
    worry_weight: float = 1.5  # extra per hunch/concern post
    # per positive post (a day's signal is never below 0): good news is evidence against
    # escalation, and routine positives on a quiet child otherwise read as attention
    positive_weight: float = -0.5
    new_agency_bonus: float = 2.0  # extra per recent agency-day from an agency silent before
    half_life: float = 2.0  # days: the recent view weighs day i of the window 2^(-i/half_life)
    # Agencies already involved count at most this many a day (0: no cap); newly involved
    # ones always count. A routine meeting writes up several usual agencies on one day.
    day_agency_cap: int = 2
    flag_threshold: float = 0.92  # recent_score at or above which an unflagged child is flagged
    release_threshold: float = 0.77  # a flagged child stays flagged while recent_score >= this
    min_recent_posts: int = 3  # fewer posts than this in the test window: never flagged,
    few_posts_max_score: float = 0.5  # ... and the score is at most this
    min_posts_to_flag: int = 4  # a child not yet flagged needs at least this many posts

    def __post_init__(self) -> None:
        if not self.windows or min(self.windows) < 1:
            raise ValueError("windows must be a non-empty tuple of positive day counts")
        if self.release_threshold > self.flag_threshold:
            raise ValueError("release_threshold must not exceed flag_threshold")
        if self.half_life <= 0:
            raise ValueError("half_life must be > 0")
        if self.prior_mean <= 0 or self.prior_shape <= 0 or self.dispersion < 1:
            raise ValueError("prior_mean, prior_shape must be > 0 and dispersion >= 1")

    @cached_property  # read ten times per child in a sweep
    def test_days(self) -> int:
        """Days at the recent end that are never part of the baseline."""
        return max(self.windows)

    @cached_property
    def span(self) -> int:
        """Days of history the detector looks at in total."""
        return self.test_days + self.baseline_days


DEFAULT_PARAMS = VelocityParams()


@dataclass(frozen=True)
class Assessment:
    """The detector's verdict for one child at one moment."""

    score: float  # -log10(corrected p-value); higher = more unusual, comparable across children
    flagged: bool
    reasons: list[str]  # plain-language explanation, always filled in
    recent_posts: int = 0  # posts in the last 72 h
    usual_posts: float = 0.0  # posts expected in 72 h from the child's own baseline
    agencies: list[str] = field(default_factory=list)  # agencies active in the last 7 days
    new_agencies: list[str] = field(default_factory=list)  # of those, silent in the baseline
    concerns: int = 0  # hunches + concerns in the last 7 days
    window_days: int = 0  # the test window that produced the score
    p_value: float = 1.0  # corrected for the number of windows tried
    sparkline: list[int] = field(default_factory=list)  # daily posts, oldest first, 28 days
    # For a child not flagged, the week in plain words ("usual for this child: 3 posts
    # this week, usually 2-4"); also the last of `reasons`. Empty when flagged or too new.
    usual: str = ""
    # -log10 p of the recent view (the same test, the window's days weighted 1, 0.71, 0.5,
    # ... back in time): what raises and keeps the flag; `score` ranks. 0 (not tested)
    # when too few posts to raise the flag (to keep it, for a flagged child).
    recent_score: float = 0.0


@dataclass(frozen=True)
class PeriodStats:
    """Activity inside one half-open period [start, end)."""

    posts_by_kind: dict[str, int]  # every kind in KINDS is present, zero if unused
    total_posts: int
    distinct_authors: int
    distinct_agencies: int


@dataclass(frozen=True)
class PeriodComparison:
    """Two periods side by side; ``change`` is always ``b - a``."""

    a: PeriodStats
    b: PeriodStats
    change: PeriodStats  # same shape, holding differences (may be negative)


@dataclass(frozen=True)
class DayTally:
    """One day's activity on one child (what the server stores per child per UTC day)."""

    posts: int = 0
    by_kind: tuple[tuple[str, int], ...] = ()  # (kind, count) pairs, kinds from KINDS
    authors: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()
    concern_agencies: frozenset[str] = frozenset()  # agencies that posted a hunch or concern
    concern_authors: frozenset[str] = frozenset()  # authors that posted a hunch or concern

    # Derived once per tally (a sweep shares tallies between many children's days).
    worries: int = field(init=False, repr=False, compare=False)  # hunches + concerns
    hunches: int = field(init=False, repr=False, compare=False)
    positives: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "worries", self.count(*CONCERN_KINDS))
        object.__setattr__(self, "hunches", self.count(PostKind.HUNCH.value))
        object.__setattr__(self, "positives", self.count(PostKind.POSITIVE.value))

    def count(self, *kinds: str) -> int:
        """Posts of these kinds that day."""
        return sum(n for kind, n in self.by_kind if kind in kinds)


QUIET_DAY = DayTally()
_NOBODY: frozenset[str] = frozenset()


@dataclass
class _Digest:
    """What the test and the verdict need from a child's days (day 0 is the 24 h ending
    at `now`), summed in one pass over the days with posts."""

    recent_agencies: set[str]  # active in the test window
    baseline_agencies: set[str]  # active in the baseline
    window_signal: list[float]  # signal summed over each test window (params.windows)
    baseline_signal: float = 0.0  # signal summed over the baseline the child is known for
    baseline_posts: int = 0
    test_posts: int = 0  # posts in the test window
    posts_72h: int = 0
    hunches: int = 0  # in the test window
    concerns: int = 0  # hunches + concerns in the test window
    sparkline: list[int] = field(default_factory=list)  # posts per day, oldest first
    week_posts: int = 0  # posts in the last 7 days
    weekly: list[int] = field(default_factory=list)  # posts per whole baseline week
    decayed_signal: float = 0.0  # test window signal, day i weighted 2^(-i/half_life)


@dataclass(frozen=True)
class _WindowTest:
    days: int
    log10_p: float  # uncorrected, <= 0


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC)")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


# --- negative-binomial tail ------------------------------------------------------------


@lru_cache(maxsize=1 << 16)  # a sweep asks for few distinct tails (signals are sums of halves)
def nb_log10_sf(k: float, shape: float, p: float) -> float:
    """Return log10 P(X >= k) for X ~ NegBin(shape, p), P(X=j) ∝ C(j+shape-1, j) p^shape q^j.

    Uses the identity P(X >= k) = I_q(k, shape) (regularised incomplete beta, q = 1 - p),
    which also extends the tail smoothly to non-integer ``k`` (needed because counts are
    scaled for over-dispersion).  Works in log space, so tiny tails do not underflow.
    """
    if k <= 0.0:
        return 0.0
    if not 0.0 < p < 1.0 or shape <= 0.0:
        raise ValueError("need 0 < p < 1 and shape > 0")
    q = 1.0 - p
    if q < (k + 1.0) / (k + shape + 2.0):
        # Upper tail is the small side: evaluate it directly for full relative precision.
        log_sf = _log_beta_front(k, shape, q) + math.log(_beta_cf(k, shape, q) / k)
        return max(log_sf, _MIN_LOG_P) / _LN10
    lower = math.exp(_log_beta_front(shape, k, p)) * _beta_cf(shape, k, p) / shape
    return math.log10(max(1.0 - lower, 1e-300))


def _log_beta_front(a: float, b: float, x: float) -> float:
    """log of x^a (1-x)^b / B(a, b)."""
    return (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz, as in Numerical Recipes).

    Converges in a handful of terms when x < (a+1)/(a+b+2), which the caller ensures.
    """
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-12:
            break
    return h


# --- binning ---------------------------------------------------------------------------


def tally_days(events: Iterable[ActivityEvent], now: datetime, length: int) -> list[DayTally]:
    """days[0] is the 24 h ending at `now`, days[i] the 24 h i days earlier.

    Each day is half-open, [now - (i+1) days, now - i days), like a calendar day: with
    ``now`` at midnight UTC, days[i] is exactly one UTC date.  Events at or after
    ``now`` or older than ``length`` days are ignored.
    """
    _require_aware(now, "now")
    buckets: dict[int, list[ActivityEvent]] = {}
    limit = length * DAY_SECONDS
    for ev in events:
        age = (now - ev.at).total_seconds()
        if 0.0 < age <= limit:
            day = int(-(-age // DAY_SECONDS)) - 1  # ceil: an event at the boundary is older
            buckets.setdefault(day, []).append(ev)
    days = [QUIET_DAY] * length  # most days are quiet: share one empty tally
    for day, bucket in buckets.items():
        days[day] = _tally(bucket) if len(bucket) > 1 else _tally_one(bucket[0])
    return days


def _tally(events: Sequence[ActivityEvent]) -> DayTally:
    counts: dict[str, int] = {}
    authors, agencies, worried_authors, worried_agencies = set(), set(), set(), set()
    for ev in events:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
        authors.add(ev.author)
        agencies.add(ev.agency)
        if ev.kind in CONCERN_KINDS:
            worried_authors.add(ev.author)
            worried_agencies.add(ev.agency)
    return DayTally(
        posts=len(events),
        by_kind=tuple((kind, counts[kind]) for kind in KINDS if kind in counts),
        authors=frozenset(authors),
        agencies=frozenset(agencies),
        concern_agencies=frozenset(worried_agencies),
        concern_authors=frozenset(worried_authors),
    )


def _tally_one(ev: ActivityEvent) -> DayTally:
    """The common quiet-child day: a single post (same result as ``_tally([ev])``)."""
    author, agency = frozenset((ev.author,)), frozenset((ev.agency,))
    worried = ev.kind in CONCERN_KINDS
    return DayTally(
        1,
        ((ev.kind, 1),),
        author,
        agency,
        agency if worried else frozenset(),
        author if worried else frozenset(),
    )


def _active(days: Sequence[DayTally], length: int) -> list[tuple[int, DayTally]]:
    """The days with posts among the first `length`, as (day index, tally)."""
    return [(i, day) for i, day in enumerate(days[:length]) if day.posts]


def _digest(
    active: Sequence[tuple[int, DayTally]], params: VelocityParams, known: int, length: int
) -> _Digest:
    """Reduce a child's days with posts to the sums the test and the verdict need.

    Written for speed (a full sweep calls it 100,000 times): locals only, one pass over
    the active days, then one over the test window's (newcomers are known only once the
    baseline is). Signals are summed in day order, as a sum over all days would be.
    """
    test_days, windows = params.test_days, params.windows
    end = max(test_days, known)  # the baseline is days test_days..end-1
    agency_weight, concern_bonus, author_weight = (
        params.agency_weight,
        params.concern_bonus,
        params.author_weight,
    )
    worry_weight, cap, positive = params.worry_weight, params.day_agency_cap, params.positive_weight
    recent_agencies: set[str] = set()
    baseline_agencies: set[str] = set()
    sparkline = [0] * SPARKLINE_DAYS
    n_weeks = (end - test_days) // 7
    weekly = [0] * (n_weeks + 1)  # the last, partial week is dropped below
    recent = []
    posts_72h = test_posts = baseline_posts = hunches = concerns = 0
    baseline_signal = 0.0
    for i, day in active:
        if i >= length:
            continue
        posts = day.posts
        if i < SPARKLINE_DAYS:
            sparkline[SPARKLINE_DAYS - 1 - i] = posts
            if i < 3:
                posts_72h += posts
        if i < test_days:
            recent.append((i, day))
            recent_agencies |= day.agencies
            concerns += day.worries
            hunches += day.hunches
            test_posts += posts
            continue
        baseline_agencies |= day.agencies
        if i < end:
            # _day_signal, inlined: this line runs for every baseline day of every child.
            units = len(day.agencies)
            if cap and units > cap:
                units = cap
            signal = agency_weight * units + concern_bonus * len(day.concern_agencies)
            if author_weight:
                signal += author_weight * len(day.authors)
            if worry_weight:
                signal += worry_weight * day.worries
            if positive and day.positives:
                signal = max(0.0, signal + positive * day.positives)
            baseline_posts += posts
            baseline_signal += signal
            weekly[(i - test_days) // 7] += posts
    # "Silent for 12 weeks" is weaker evidence when the child is known for less.
    newness = params.new_agency_bonus * max(
        0.0, min(1.0, (known - test_days) / params.baseline_days)
    )
    newcomers = recent_agencies - baseline_agencies
    window_signal = [0.0] * len(windows)
    fading, decayed = _fading(params.half_life, test_days), 0.0
    for i, day in recent:
        new = len(day.agencies & newcomers) if newcomers else 0
        signal = _day_signal(day, params, new)
        if new:  # and more for agencies not heard from in the baseline
            signal += newness * new
        decayed += signal * fading[i]
        for n, width in enumerate(windows):
            if i < width:
                window_signal[n] += signal
    return _Digest(
        recent_agencies,
        baseline_agencies,
        window_signal,
        baseline_signal,
        baseline_posts,
        test_posts,
        posts_72h,
        hunches,
        concerns,
        sparkline,
        sum(sparkline[-7:]),
        weekly[:n_weeks],
        decayed,
    )


def _day_signal(day: DayTally, params: VelocityParams, new: int = 0) -> float:
    """A day's signal before the newcomer bonus: a unit per agency active (the `new` of
    them, newly involved, escape `day_agency_cap`), more for agencies that raised a worry."""
    active = len(day.agencies)
    if params.day_agency_cap and active - new > params.day_agency_cap:
        active = params.day_agency_cap + new
    signal = params.agency_weight * active + params.concern_bonus * len(day.concern_agencies)
    if params.author_weight:
        signal += params.author_weight * len(day.authors)
    if params.worry_weight:
        signal += params.worry_weight * day.worries
    if params.positive_weight and day.positives:
        signal = max(0.0, signal + params.positive_weight * day.positives)
    return signal


@lru_cache(maxsize=256)
def _exposure_prefix(weekday_of_day0: int, length: int, weekend_weight: float) -> tuple[float, ...]:
    """Cumulative expected-activity weight of days 0..n-1 (weekend days weigh less).

    Without this, a Monday-Tuesday window would look busier than a Saturday-Sunday one
    for every child, purely because practitioners work weekdays.
    """
    prefix = [0.0]
    for day in range(length):
        weekend = (weekday_of_day0 - day) % 7 >= 5
        prefix.append(prefix[-1] + (weekend_weight if weekend else 1.0))
    return tuple(prefix)


def _exposure(now: datetime, params: VelocityParams, length: int) -> tuple[float, ...]:
    return _exposure_at(now, length, params.weekend_weight)


@lru_cache(maxsize=64)  # a sweep asks 100,000 times for the same `now`
def _exposure_at(now: datetime, length: int, weekend_weight: float) -> tuple[float, ...]:
    # Day 0's midpoint is 12 h before `now`; its weekday stands for the whole day.
    middle = now - timedelta(hours=12)
    return _exposure_prefix(middle.weekday(), length, weekend_weight)


@lru_cache(maxsize=16)
def _fading(half_life: float, days: int) -> tuple[float, ...]:
    """The recent view's weight of day i (day 0 = the last 24 h): 1, then halving every
    `half_life` days."""
    return tuple(0.5 ** (i / half_life) for i in range(days))


@lru_cache(maxsize=64)  # a sweep asks 100,000 times for the same `now`
def _faded_exposure(now: datetime, days: int, weekend_weight: float, half_life: float) -> float:
    """Expected activity of the recent view's window: each day's weight times its fading."""
    exposure, fading = _exposure_at(now, days, weekend_weight), _fading(half_life, days)
    return sum((exposure[i + 1] - exposure[i]) * fading[i] for i in range(days))


def _known_days(now: datetime, known_since: datetime | None, span: int) -> int:
    """How many whole days before `now` the child has been known for (capped at span)."""
    if known_since is None:
        return span
    _require_aware(known_since, "known_since")
    return max(0, min(span, math.ceil((now - known_since).total_seconds() / DAY_SECONDS)))


# --- the test --------------------------------------------------------------------------


def _window_test(
    dig: _Digest, exposure: Sequence[float], window: int, known: int, params: VelocityParams
) -> _WindowTest:
    """Gamma-Poisson predictive test of the last `days` against the baseline period.

    Counts are divided by ``dispersion`` (quasi-Poisson): activity arrives in clumps
    (a meeting, a busy afternoon), so one signal unit is less than one independent event.
    """
    phi = params.dispersion
    days = params.windows[window]
    observed = dig.window_signal[window] / phi
    start, end = params.test_days, max(params.test_days, known)
    shape = params.prior_shape + dig.baseline_signal / phi
    rate = params.prior_shape * phi / params.prior_mean + exposure[end] - exposure[start]
    p = rate / (rate + exposure[days])
    return _WindowTest(days, nb_log10_sf(observed, shape, p))


def _recent_test(
    dig: _Digest, exposure: Sequence[float], now: datetime, known: int, params: VelocityParams
) -> float:
    """The same test on the recent view (the window's days weighted 1, 0.71, 0.5, ... back
    in time): high while attention is still rising, falling within days of one busy day.
    Returns the uncorrected log10 p-value."""
    phi = params.dispersion
    start, end = params.test_days, max(params.test_days, known)
    shape = params.prior_shape + dig.baseline_signal / phi
    rate = params.prior_shape * phi / params.prior_mean + exposure[end] - exposure[start]
    days = params.test_days
    p = rate / (rate + _faded_exposure(now, days, params.weekend_weight, params.half_life))
    return nb_log10_sf(dig.decayed_signal / phi, shape, p)


def _score(tests: Sequence[_WindowTest]) -> tuple[float, _WindowTest]:
    """Best window, Bonferroni-corrected for having looked at several windows."""
    best = min(tests, key=lambda t: t.log10_p)
    corrected = min(0.0, best.log10_p + math.log10(len(tests)))
    return -corrected + 0.0, best  # + 0.0 turns -0.0 into 0.0


def _decide(
    recent_score: float, recent: int, previously_flagged: bool, params: VelocityParams
) -> bool:
    if recent < params.min_recent_posts:
        return False
    # The flag follows the recent view: a rising episode keeps it, and one busy day
    # (a meeting) lets go of it within days, not after the week it stays in the window.
    # Hysteresis: staying flagged needs less evidence than becoming flagged, so a child
    # whose score wobbles around one threshold does not flap on and off every day.
    if previously_flagged:
        return recent_score >= params.release_threshold
    return recent_score >= params.flag_threshold and recent >= params.min_posts_to_flag


# --- plain-language reasons ------------------------------------------------------------


def _posts_reason(recent: int, usual: float, has_history: bool, weeks: int) -> str:
    head = f"{_plural(recent, 'post')} in the last 72 h"
    if not has_history:
        return f"{head}, no earlier history to compare with"
    if usual == 0.0:
        return f"{head}, none in the {weeks} weeks before"
    if usual < 0.05:
        return f"{head}, usually under 0.1"
    return f"{head}, usually {usual:.1f}"


def _agency_reasons(agencies: list[str], new: list[str], weeks: int, days: int) -> list[str]:
    if not agencies:
        return [f"no posts in the last {days} days"]
    reasons = [f"{_plural(len(agencies), 'agency', 'agencies')} in the last {days} days: "]
    reasons[0] += ", ".join(agencies)
    if new:
        reasons.append(
            f"{_plural(len(new), 'agency', 'agencies')} not heard from in the {weeks} weeks "
            f"before: {', '.join(new)}"
        )
    return reasons


def _concern_reason(hunches: int, concerns: int, days: int) -> list[str]:
    """``concerns`` counts hunches too (both are worries); the sentence names them apart."""
    parts = [_plural(hunches, "hunch", "hunches"), _plural(concerns - hunches, "concern")]
    named = [part for part in parts if not part.startswith("0 ")]
    return [f"{' and '.join(named)} in the last {days} days"] if named else []


def _usual_range(weekly: list[int]) -> tuple[int, int] | None:
    """The child's usual posts per week: the range of its baseline weeks without the
    busiest and quietest tenth (so one odd week does not stretch it). None under 2 weeks."""
    if len(weekly) < 2:
        return None
    ordered = sorted(weekly)
    trim = len(ordered) // 10
    return ordered[trim], ordered[-1 - trim]


@lru_cache(maxsize=4096)
def usual_sentence(posts: int, low: int, high: int) -> str:
    """For a child who is not flagged: this week's posts against the child's usual weeks,
    e.g. "usual for this child: 3 posts this week, usually 2-4"."""
    usually = "none" if high == 0 else (str(high) if low == high else f"{low}-{high}")
    week = f"{_plural(posts, 'post')} this week, usually {usually}"
    if posts > high:
        return f"more than usual for this child, not enough to flag: {week}"
    if posts < low:
        return f"quieter than usual for this child: {week}"
    return f"usual for this child: {week}"


@lru_cache(maxsize=4096)  # children share a handful of situations; a sweep formats each once
def _reasons(
    recent: int,
    usual: float,
    has_history: bool,
    agencies: tuple[str, ...],
    new: tuple[str, ...],
    hunches: int,
    concerns: int,
    weeks: int,
    days: int,
) -> tuple[str, ...]:
    reasons = [_posts_reason(recent, usual, has_history, weeks)]
    reasons += _agency_reasons(list(agencies), list(new), weeks, days)
    reasons += _concern_reason(hunches, concerns, days)
    return tuple(reasons)


# --- public API ------------------------------------------------------------------------


def assess(
    events: Sequence[ActivityEvent],
    now: datetime,
    previously_flagged: bool = False,
    *,
    known_since: datetime | None = None,
    params: VelocityParams = DEFAULT_PARAMS,
) -> Assessment:
    """Score how unusually fast professional attention on one child is rising.

    ``events`` may be in any order; events after ``now`` or older than ``params.span``
    days are ignored (pass only the last ~91 days for speed).  ``previously_flagged`` is
    the child's last ``flagged`` value: it applies the lower release threshold.
    ``known_since`` (e.g. when the child's record was created) stops days before the
    child existed from counting as quiet history; when omitted the whole span counts.
    """
    _require_aware(now, "now")
    days = tally_days(events, now, _length(params))
    return assess_days(days, now, previously_flagged, known_since=known_since, params=params)


def assess_days(
    days: Sequence[DayTally],
    now: datetime,
    previously_flagged: bool = False,
    *,
    known_since: datetime | None = None,
    params: VelocityParams = DEFAULT_PARAMS,
) -> Assessment:
    """Same verdict as assess() given the same days; days beyond len(days) count as quiet.

    ``days[0]`` is the 24 h ending at ``now`` (see ``tally_days``); a server keeping
    calendar-day tallies passes ``now`` = the end of the current UTC day.
    """
    active = _active(days, _length(params))
    return assess_active(active, now, previously_flagged, known_since=known_since, params=params)


def assess_active(
    active: Sequence[tuple[int, DayTally]],
    now: datetime,
    previously_flagged: bool = False,
    *,
    known_since: datetime | None = None,
    params: VelocityParams = DEFAULT_PARAMS,
) -> Assessment:
    """``assess_days`` given only the days with posts, as ``(day index, tally)`` pairs in
    ascending day order (what a server reading stored tallies has at hand)."""
    _require_aware(now, "now")
    known = _known_days(now, known_since, params.span)
    length = _length(params)
    dig = _digest(active, params, known, length)
    exposure = _exposure(now, params, length)
    tests = [_window_test(dig, exposure, n, known, params) for n in range(len(params.windows))]
    score, best = _score(tests)
    if dig.test_posts < params.min_recent_posts:
        # A post or two is never news, however worried or new its author (one hunch
        # from a new agency weighs 5 units, which the test would read as many events).
        score = min(score, params.few_posts_max_score)
    recent_score = 0.0
    needed = params.min_recent_posts if previously_flagged else params.min_posts_to_flag
    if dig.test_posts >= needed:  # most children, most days: too few posts to be tested
        recent_score = -min(0.0, _recent_test(dig, exposure, now, known, params)) + 0.0
    flagged = _decide(recent_score, dig.test_posts, previously_flagged, params)
    return _build(dig, exposure, known, params, (score, recent_score, flagged), best)


def _length(params: VelocityParams) -> int:
    return max(params.span, SPARKLINE_DAYS)


def _build(
    dig: _Digest,
    exposure: Sequence[float],
    known: int,
    params: VelocityParams,
    verdict: tuple[float, float, bool],  # score, recent_score, flagged
    best: _WindowTest,
) -> Assessment:
    score, recent_score, flagged = verdict
    start, end = params.test_days, max(params.test_days, known)
    history_exposure = exposure[end] - exposure[start]
    usual = dig.baseline_posts * exposure[3] / history_exposure if end > start else 0.0
    agencies = sorted(dig.recent_agencies)
    new = [a for a in agencies if a not in dig.baseline_agencies] if end > start else []
    weeks = params.baseline_days // 7
    recent = dig.posts_72h
    reasons = _reasons(
        recent,
        usual,
        end > start,
        tuple(agencies),
        tuple(new),
        dig.hunches,
        dig.concerns,
        weeks,
        params.test_days,
    )
    usual_range = None if flagged else _usual_range(dig.weekly)
    sentence = usual_sentence(dig.week_posts, *usual_range) if usual_range else ""
    return Assessment(
        score=score,
        flagged=flagged,
        reasons=[*reasons, sentence] if sentence else list(reasons),
        recent_posts=recent,
        usual_posts=usual,
        agencies=agencies,
        new_agencies=new,
        concerns=dig.concerns,
        window_days=best.days,
        p_value=10.0**-score,
        sparkline=dig.sparkline,
        usual=sentence,
        recent_score=recent_score,
    )


def cohort_prior(
    children: Iterable[Sequence[DayTally]], now: datetime, params: VelocityParams = DEFAULT_PARAMS
) -> tuple[float, float]:
    """Fit ``(prior_mean, prior_shape)`` to a cohort's baselines by the method of moments.

    Pass the days (as from ``tally_days`` at ``now``) of children known for at least
    ``params.span`` days.  The spread of their baseline rates, less the part expected
    from counting noise alone, is the spread of the gamma prior.
    """
    _require_aware(now, "now")
    start, end = params.test_days, params.span
    exposure = _exposure(now, params, end)
    weight = exposure[end] - exposure[start]
    rates = [sum(_baseline_signal(days[start:end], params)) / weight for days in children]
    if len(rates) < 2 or not any(rates):
        raise ValueError("need at least two children with some baseline activity")
    mean = statistics.fmean(rates)
    noise = params.dispersion * mean / weight  # variance of a rate from counting alone
    spread = max(statistics.pvariance(rates) - noise, mean * mean / 50.0)
    return mean, min(50.0, mean * mean / spread)


def _baseline_signal(days: Sequence[DayTally], params: VelocityParams) -> list[float]:
    return [_day_signal(day, params) for day in days]


def daily_counts(
    events: Iterable[ActivityEvent], now: datetime, days: int = SPARKLINE_DAYS
) -> list[int]:
    """Posts per 24 h day for the last `days` days, oldest first; the last element is the
    24 h ending at `now` (days as in ``tally_days``).  Other events are ignored."""
    _require_aware(now, "now")
    counts = [0] * days
    for ev in events:
        age = (now - ev.at).total_seconds()
        if 0.0 < age <= days * DAY_SECONDS:
            counts[days - 1 - (int(-(-age // DAY_SECONDS)) - 1)] += 1
    return counts


def period_stats(events: Iterable[ActivityEvent], start: datetime, end: datetime) -> PeriodStats:
    """Posts by kind, distinct authors and distinct agencies in the half-open [start, end)."""
    _require_aware(start, "period start")
    _require_aware(end, "period end")
    if end < start:
        raise ValueError("period end is before its start")
    inside = [ev for ev in events if start <= ev.at < end]
    by_kind = dict.fromkeys(KINDS, 0)
    for ev in inside:
        by_kind[ev.kind] += 1
    return PeriodStats(
        posts_by_kind=by_kind,
        total_posts=len(inside),
        distinct_authors=len({ev.author for ev in inside}),
        distinct_agencies=len({ev.agency for ev in inside}),
    )


def compare_periods(
    events: Sequence[ActivityEvent],
    a_start: datetime,
    a_end: datetime,
    b_start: datetime,
    b_end: datetime,
) -> PeriodComparison:
    """Summarise periods A = [a_start, a_end) and B = [b_start, b_end) and their change B - A.

    Periods may overlap or be of different lengths; counts are raw, not per day.
    """
    a = period_stats(events, a_start, a_end)
    b = period_stats(events, b_start, b_end)
    return side_by_side(a, b)


def side_by_side(a: PeriodStats, b: PeriodStats) -> PeriodComparison:
    """Periods A and B and their change B - A."""
    change = PeriodStats(
        posts_by_kind={kind: b.posts_by_kind[kind] - a.posts_by_kind[kind] for kind in KINDS},
        total_posts=b.total_posts - a.total_posts,
        distinct_authors=b.distinct_authors - a.distinct_authors,
        distinct_agencies=b.distinct_agencies - a.distinct_agencies,
    )
    return PeriodComparison(a=a, b=b, change=change)
