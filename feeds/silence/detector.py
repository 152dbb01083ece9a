"""Unusual silence: has an agency that used to be in regular contact stopped?

Pure like the velocity detector (no I/O, no ORM, stdlib only), so a sweep can run it for
every child and tests can build histories by hand.

Method, in one paragraph (measurements in docs/silence.md): each agency's posts are
collapsed to the days it posted, over the last 40 weeks. Its cadence is learnt from
the gaps between those days: contacts closer than half the typical gap are extras
(an extra call after a visit) and are merged; the typical gap ``m`` is the median of the
rest. Each gap is read as a whole number of cycles ``k`` (a gap of 15 days in a weekly
rhythm is two cycles, one occurrence skipped), which gives a Beta belief about the
agency's skip rate (a prior of 10% worth 5 cycles, plus the occurrences seen and
missed) and its jitter ``sigma`` (the robust spread of the per-cycle residuals). The gap
is modelled as ``K`` cycles, ``K - 1`` skipped in a row (beta-geometric: with a short
history the tail is heavier), each cycle normal(m, sigma^2).
The score of an agency is ``-log10 P(gap > days silent so far)``; the child's score is
the maximum over its *regular* agencies: at least 4 contact days, skip rate, jitter,
spread of the raw gaps (coefficient of variation) and share of extras all low, and
silent for at most twice the stretch its rhythm was seen over. Agencies that come in
bursts, at random or too rarely to have a cadence never score. A child is flagged once
an agency's score passes the threshold *and* two usual occurrences have been missed.
Cadence is per agency, not per author: a new worker keeping the rhythm is no silence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feeds.velocity.detector import ActivityEvent

DAY_SECONDS = 86_400.0
_MIN_P = 1e-300  # floor for probabilities, so a score is at most 300


@dataclass(frozen=True)
class SilenceParams:
    """Tuning knobs. Defaults are the ones measured in docs/silence.md."""

    history_days: int = 280  # contacts older than this are not looked at (40 weeks)
    min_contacts: int = 4  # contact days (after merging extras) before a cadence is learnt
    min_gap: float = 5.0  # typical gaps shorter than this are not a "cadence" (daily work)
    max_gap: float = 45.0  # nor longer than this (26 weeks hold too few of them)
    max_skip: float = 0.22  # an agency skipping more occurrences than this is irregular
    max_jitter: float = 0.3  # ... and so is one whose timing wobbles more (sigma / m)
    max_gap_cv: float = 0.7  # ... or whose raw gaps vary more (sd / mean: bursts, chance)
    max_extra_share: float = 0.35  # ... or whose contacts are more often extras
    max_silence_per_span: float = 2.0  # silence longer than this many times the stretch
    # the rhythm was seen over is a piece of work that ended long ago, not a cadence
    skip_prior: float = 0.1  # skip rate assumed before seeing the agency's own history
    skip_prior_weight: float = 5.0  # ... worth this many cycles of evidence
    jitter_floor: float = 0.1  # sigma is at least this share of the typical gap
    jitter_floor_days: float = 1.0  # ... and at least this many days
    flag_threshold: float = 1.85  # score at or above which a child is flagged
    min_missed: float = 2.0  # ... once this many usual occurrences have been missed ("due")
    release_threshold: float = 1.5  # a flagged child stays flagged until below this

    def __post_init__(self) -> None:
        if self.min_contacts < 3:
            raise ValueError("min_contacts must be at least 3 (two gaps)")
        if self.release_threshold > self.flag_threshold:
            raise ValueError("release_threshold must not exceed flag_threshold")
        if not 0.0 < self.skip_prior < 1.0 or self.skip_prior_weight <= 0.0:
            raise ValueError("skip_prior must be in (0, 1) and skip_prior_weight > 0")


DEFAULT_PARAMS = SilenceParams()


@dataclass(frozen=True)
class Cadence:
    """What was learnt about one agency's contact with one child."""

    agency: str
    contacts: int  # contact days used (extras merged)
    typical_gap: float  # days between contacts (median)
    skip_rate: float  # share of expected occurrences that did not happen
    jitter: float  # days: spread of one cycle around the typical gap
    weeks: int  # from the first to the last contact used
    days_silent: int  # whole days since the agency's last contact
    regular: bool  # regular enough for its silence to mean something
    score: float  # -log10 P(gap this long | cadence); 0 when not regular


@dataclass(frozen=True)
class SilenceAssessment:
    """The silence verdict for one child at one moment."""

    score: float  # max over regular agencies; higher = more unusual
    flagged: bool
    reasons: list[str]  # plain words, one per silent agency (empty when nothing to say)
    silent_agencies: list[str]  # agencies whose silence flags (or keeps flagged) the child
    cadences: list[Cadence] = field(default_factory=list)  # every agency with a cadence


# --- binning ---------------------------------------------------------------------------


def contact_ages(
    events: Iterable[ActivityEvent], now: datetime, history_days: int
) -> dict[str, set[int]]:
    """Per agency, the ages in days of its contact days (0 = the 24 h ending at `now`).

    Days are binned exactly as the velocity detector's ``tally_days``: with ``now`` at
    midnight UTC, age ``i`` is one UTC date. Events at or after `now`, or older than
    ``history_days``, are ignored.
    """
    _require_aware(now, "now")
    limit = history_days * DAY_SECONDS
    ages: dict[str, set[int]] = {}
    for ev in events:
        age = (now - ev.at).total_seconds()
        if 0.0 < age <= limit:
            ages.setdefault(ev.agency, set()).add(int(-(-age // DAY_SECONDS)) - 1)
    return ages


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC)")


# --- learning a cadence ----------------------------------------------------------------


def _merge_extras(days: Sequence[int], typical: float) -> list[int]:
    """Drop contacts closer than half the typical gap to the last one kept (oldest first)."""
    kept = [days[0]]
    for day in days[1:]:
        if day - kept[-1] >= 0.5 * typical:
            kept.append(day)
    return kept


def _gaps(days: Sequence[int]) -> list[int]:
    return [b - a for a, b in itertools.pairwise(days)]


def _median(values: Iterable[float]) -> float:
    """statistics.median, the same value, without its generality (a sweep calls this
    for every agency of every child)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _typical_gap(days: Sequence[int], gaps: list[int]) -> tuple[list[int], float, list[int]]:
    """Contact days with extras merged, the median gap between them and those gaps, given
    the days and their gaps. Repeated because extras shorten the median that decides what
    an extra is (a monthly visit plus a call or two looks fortnightly at first)."""
    own = float(_median(gaps))
    kept, kept_gaps, typical = list(days), gaps, own
    for _ in range(4):
        merged = _merge_extras(days, typical)
        if len(merged) < 2:
            break
        settled = typical
        if len(merged) == len(days):  # nothing merged (most agencies): the days' own gaps
            kept, kept_gaps, typical = merged, gaps, own
        else:
            kept, kept_gaps = merged, _gaps(merged)
            typical = float(_median(kept_gaps))
        if typical == settled:
            break
    return kept, typical, kept_gaps


def learn_cadence(
    agency: str,
    ages: Collection[int],
    params: SilenceParams = DEFAULT_PARAMS,
    *,
    regular_only: bool = False,
) -> Cadence | None:
    """The agency's cadence from its contact-day ages, or None with too few contacts (with
    `regular_only`, also None when it is not regular: its score would be 0, and only
    regular agencies can make a child silent, so the verdict is the same)."""
    if len(ages) < params.min_contacts:
        return None  # (a shortcut: fewer ages cannot make enough contact days)
    unique = ages if isinstance(ages, set | frozenset) else set(ages)
    every = sorted([-age for age in unique if 0 <= age < params.history_days])
    if len(every) < params.min_contacts:
        return None
    raw = _gaps(every)
    variation = _variation(raw)
    if regular_only and variation > params.max_gap_cv:
        return None  # bursts or chance contact: never regular, whatever its typical gap
    days, typical, gaps = _typical_gap(every, raw)
    if len(days) < params.min_contacts:
        return None
    extras = 1.0 - len(days) / len(every)
    silent = -days[-1]
    # The checks of `regular` that need neither skips nor jitter, first: with
    # `regular_only`, an agency failing one is dropped before the costlier part.
    plain = (
        params.min_gap <= typical <= params.max_gap
        and extras <= params.max_extra_share
        and silent <= params.max_silence_per_span * (days[-1] - days[0])
    )
    if regular_only and not plain:
        return None
    cycles = [max(1, round(gap / typical)) for gap in gaps]
    skipped = sum(cycles) - len(cycles)
    # Beta prior on the skip rate, updated with the occurrences seen and missed.
    skips = Skips(
        params.skip_prior * params.skip_prior_weight + skipped,
        (1.0 - params.skip_prior) * params.skip_prior_weight + len(gaps),
    )
    if regular_only and skips.mean > params.max_skip:
        return None
    jitter = _jitter(gaps, cycles, typical, params)
    regular = (
        plain
        and skips.mean <= params.max_skip
        and jitter <= params.max_jitter * typical
        and variation <= params.max_gap_cv
    )
    score = _score(silent, typical, skips, jitter) if regular else 0.0
    weeks = (days[-1] - days[0]) // 7
    return Cadence(agency, len(days), typical, skips.mean, jitter, weeks, silent, regular, score)


def _variation(gaps: Sequence[int]) -> float:
    """Coefficient of variation (population sd / mean), in floats: statistics.pstdev's
    exact fractions were a third of the detector's time."""
    mean = sum(gaps) / len(gaps)
    return math.sqrt(sum([(g - mean) ** 2 for g in gaps]) / len(gaps)) / mean  # a list: faster


def _jitter(
    gaps: Sequence[int], cycles: Sequence[int], typical: float, params: SilenceParams
) -> float:
    """Robust spread of one cycle: MAD of the per-cycle residuals, with a floor (a few
    gaps that happen to agree exactly do not prove clockwork)."""
    # |x / sqrt(k)| is |x| / sqrt(k) exactly, and x / sqrt(1) is x: one pass, same values.
    mad = _median(
        [
            abs(gap - typical) if k == 1 else abs(gap - k * typical) / math.sqrt(k)
            for gap, k in zip(gaps, cycles, strict=True)
        ]
    )
    return max(1.4826 * mad, params.jitter_floor * typical, params.jitter_floor_days)


@dataclass(frozen=True)
class Skips:
    """Beta(missed, kept) belief about an agency's skip rate: pseudo-counts of expected
    occurrences that did not and that did happen."""

    missed: float
    kept: float

    @property
    def mean(self) -> float:
        return self.missed / (self.missed + self.kept)

    def log_more_than(self, k: int) -> float:
        """log P(more than k occurrences in a row are skipped), averaged over the belief
        (beta-geometric): with little history this tail is heavy, so scores stay modest."""
        a, b = self.missed, self.kept
        return math.lgamma(a + k) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(a + b + k)


def gap_survival(silent: int, typical: float, skips: Skips, jitter: float) -> float:
    """P(next contact comes after `silent` more quiet days): the gap is K cycles (K - 1
    occurrences skipped in a row), each cycle normal(typical, jitter^2); gaps are whole
    days, hence the half-day continuity correction."""
    edge = silent + 0.5
    total, beyond, k = 0.0, 1.0, 1  # beyond = P(K > k - 1)
    while beyond > _MIN_P:
        spread = jitter * math.sqrt(k)
        if k * typical > edge + 8.0 * spread:  # this gap and all longer ones are still open
            return min(1.0, total + beyond)
        later = math.exp(skips.log_more_than(k))
        tail = 0.5 * math.erfc((edge - k * typical) / (spread * math.sqrt(2.0)))
        total += (beyond - later) * tail
        beyond, k = later, k + 1
    return min(1.0, total)


def _score(silent: int, typical: float, skips: Skips, jitter: float) -> float:
    return -math.log10(max(gap_survival(silent, typical, skips, jitter), _MIN_P)) + 0.0


# --- the verdict -----------------------------------------------------------------------


def reason(cadence: Cadence) -> str:
    """One plain sentence: 'school posted about every 7 days for 14 weeks; nothing for
    23 days'."""
    every = f"about every {cadence.typical_gap:.0f} days"
    span = f"{cadence.weeks} weeks" if cadence.weeks != 1 else "1 week"
    return f"{cadence.agency} posted {every} for {span}; nothing for {cadence.days_silent} days"


def assess_contacts(
    contact_days: Iterable[tuple[int, Collection[str]]],
    previously_flagged: bool = False,
    *,
    params: SilenceParams = DEFAULT_PARAMS,
    regular_only: bool = False,
) -> SilenceAssessment:
    """``assess`` given each day's agencies, as ``(age in days, agencies)`` pairs in any
    order (what a server keeping daily tallies has at hand: velocity's ``active`` days).
    With `regular_only`, agencies that are not regular are left out of ``cadences`` (most
    as soon as their raw gaps rule it out): the verdict is the same, for less work (what a
    sweep stores)."""
    ages: dict[str, set[int]] = {}
    for age, agencies in contact_days:
        for agency in agencies:
            found = ages.get(agency)
            if found is None:
                ages[agency] = {age}
            else:
                found.add(age)
    return assess_ages(ages, previously_flagged, params=params, regular_only=regular_only)


def assess_ages(
    ages: Mapping[str, Collection[int]],
    previously_flagged: bool = False,
    *,
    params: SilenceParams = DEFAULT_PARAMS,
    regular_only: bool = False,
) -> SilenceAssessment:
    """``assess`` given each agency's contact-day ages (see ``contact_ages``; for
    `regular_only`, ``assess_contacts``)."""
    cadences = [
        c
        for a in sorted(ages)
        if (c := learn_cadence(a, ages[a], params, regular_only=regular_only)) is not None
    ]
    if not cadences:  # most children: nothing to say
        return SilenceAssessment(score=0.0, flagged=False, reasons=[], silent_agencies=[])
    score = max(c.score for c in cadences)
    bar = params.release_threshold if previously_flagged else params.flag_threshold
    due = [c for c in cadences if c.days_silent >= params.min_missed * c.typical_gap]
    silent = sorted((c for c in due if c.regular and c.score >= bar), key=lambda c: -c.score)
    return SilenceAssessment(
        score=score,
        flagged=bool(silent),
        reasons=[reason(c) for c in silent],
        silent_agencies=[c.agency for c in silent],
        cadences=cadences,
    )


def assess(
    events: Iterable[ActivityEvent],
    now: datetime,
    previously_flagged: bool = False,
    *,
    params: SilenceParams = DEFAULT_PARAMS,
) -> SilenceAssessment:
    """Score how unusual the current silence of a child's regular agencies is.

    ``events`` are the child's posts in any order (the same values as
    ``feeds.velocity.assess``); only the last ``params.history_days`` before ``now``
    count. ``previously_flagged`` is the child's last ``flagged``: it applies the lower
    release threshold, so a verdict does not flap while the fit wobbles.
    """
    return assess_ages(
        contact_ages(events, now, params.history_days), previously_flagged, params=params
    )
