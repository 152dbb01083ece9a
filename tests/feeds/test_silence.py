"""The pure silence detector, on hand-built histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from feeds.silence import SilenceAssessment, assess
from feeds.silence.detector import (
    DEFAULT_PARAMS,
    SilenceParams,
    Skips,
    assess_contacts,
    contact_ages,
    gap_survival,
)
from feeds.velocity.detector import ActivityEvent

NOW = datetime(2024, 6, 1, tzinfo=UTC)  # midnight: day ages are whole UTC dates


def contacts(
    agency: str, every: float, count: int, silent: int, author: str = "a", jitter: int = 0
) -> list[ActivityEvent]:
    """`count` contacts `every` days apart, the last one `silent` whole days ago."""
    rng = random.Random(count * 100 + silent)
    found = []
    for n in range(count):
        wobble = rng.randint(-jitter, jitter) if n else 0
        at = NOW - timedelta(days=silent + n * every + wobble + 1, hours=-10)
        found.append(ActivityEvent(at, "update", f"{agency}/{author}", agency))
    return found


def test_a_weekly_school_that_stops_is_flagged_in_plain_words() -> None:
    found = assess(contacts("school", 7, 14, silent=23), NOW)
    assert found.flagged
    assert found.silent_agencies == ["school"]
    assert found.reasons == ["school posted about every 7 days for 13 weeks; nothing for 23 days"]
    assert found.score >= DEFAULT_PARAMS.flag_threshold


def test_a_cadence_kept_is_no_silence() -> None:
    found = assess(contacts("school", 7, 20, silent=3, jitter=1), NOW)
    assert not found.flagged
    assert found.reasons == [] and found.silent_agencies == []
    assert found.score < 1.0
    (cadence,) = found.cadences
    assert cadence.regular and cadence.typical_gap == 7.0


@pytest.mark.parametrize("every", [7, 14, 30])
def test_each_cadence_is_flagged_by_two_days_after_two_missed_occurrences(every: int) -> None:
    history = 12 if every < 30 else 7

    def flagged(silent: int) -> bool:
        return assess(contacts("health", every, history, silent, jitter=1), NOW).flagged

    assert not flagged(every + 2)  # one occurrence missed is not yet a silence
    assert not flagged(2 * every - 1)  # nor the day before the second is missed
    assert flagged(2 * every + 2)


def test_score_grows_with_the_silence() -> None:
    scores = [assess(contacts("gp", 14, 12, silent), NOW).score for silent in (10, 20, 30, 40)]
    assert scores == sorted(scores)
    assert scores[0] < 1.0 < scores[-1]


def test_a_handover_inside_the_agency_keeps_the_cadence() -> None:
    before = contacts("health", 14, 12, silent=38, author="old")
    after = contacts("health", 14, 3, silent=10, author="new")
    found = assess(before + after, NOW)
    assert not found.flagged
    assert [c.agency for c in found.cadences] == ["health"]


def test_an_agency_seen_three_times_has_no_cadence_yet() -> None:
    found = assess(contacts("police", 7, 3, silent=60), NOW)
    assert found.cadences == [] and not found.flagged and found.score == 0.0


def test_bursts_with_long_natural_gaps_are_not_a_cadence() -> None:
    # Three bursts of contact a few days apart, 50-70 days between bursts.
    days = [200, 198, 195, 140, 139, 136, 134, 70, 69, 66]
    events = [
        ActivityEvent(NOW - timedelta(days=d, hours=12), "visit", "camhs/p", "camhs") for d in days
    ]
    found = assess(events, NOW)
    assert not found.flagged
    assert all(not c.regular for c in found.cadences)


def test_extra_contacts_do_not_hide_a_monthly_rhythm() -> None:
    monthly = contacts("gp", 30, 7, silent=65)  # days 66, 96, 126, ... ago
    # Follow-up calls a few days after some visits (a gap of 4-6 days, then 24-26).
    calls = [
        ActivityEvent(NOW - timedelta(days=d, hours=12), "update", "gp/x", "gp")
        for d in (92, 180, 240)
    ]
    (cadence,) = assess(monthly + calls, NOW).cadences
    assert 28.0 <= cadence.typical_gap <= 32.0
    assert cadence.regular


def test_a_long_ended_short_piece_of_work_is_not_a_silence() -> None:
    # Weekly for four weeks, half a year ago: a piece of work that ended, not a cadence.
    found = assess(contacts("early-help", 7, 5, silent=180), NOW)
    assert not found.flagged


def test_the_child_score_is_the_most_unusual_agency() -> None:
    quiet = contacts("school", 7, 14, silent=30)
    steady = contacts("gp", 14, 10, silent=2)
    found = assess(quiet + steady, NOW)
    assert found.silent_agencies == ["school"]
    by_agency = {c.agency: c.score for c in found.cadences}
    assert found.score == by_agency["school"] > by_agency["gp"]


def test_hysteresis_keeps_a_flag_below_the_flag_threshold() -> None:
    params = SilenceParams(flag_threshold=5.0, release_threshold=1.5)
    events = contacts("school", 7, 14, silent=16)
    first = assess(events, NOW, params=params)
    assert 1.5 <= first.score < 5.0 and not first.flagged
    assert assess(events, NOW, previously_flagged=True, params=params).flagged


def test_events_at_or_after_now_and_beyond_the_history_are_ignored() -> None:
    late = ActivityEvent(NOW, "update", "school/a", "school")
    old = ActivityEvent(NOW - timedelta(days=400), "update", "school/a", "school")
    assert contact_ages([late, old], NOW, DEFAULT_PARAMS.history_days) == {}


def test_contact_days_give_the_same_verdict_as_events() -> None:
    events = contacts("school", 7, 14, silent=23) + contacts("gp", 14, 10, silent=2)
    by_age: dict[int, set[str]] = {}
    for agency, ages in contact_ages(events, NOW, DEFAULT_PARAMS.history_days).items():
        for age in ages:
            by_age.setdefault(age, set()).add(agency)
    from_days = assess_contacts(sorted(by_age.items()))
    assert from_days == assess(events, NOW)
    assert isinstance(from_days, SilenceAssessment)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess([], datetime(2024, 6, 1))


def test_gap_survival_is_a_probability_that_falls_with_the_silence() -> None:
    values = [gap_survival(s, 7.0, Skips(0.5, 10.0), 1.0) for s in range(0, 60, 3)]
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values, reverse=True)
