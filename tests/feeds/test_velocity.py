"""The velocity detector, driven with hand-built histories (pure functions, no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from feeds.velocity.detector import (
    KINDS,
    SPARKLINE_DAYS,
    ActivityEvent,
    DayTally,
    VelocityParams,
    assess,
    assess_days,
    cohort_prior,
    compare_periods,
    daily_counts,
    nb_log10_sf,
    period_stats,
    tally_days,
)

NOW = datetime(2024, 6, 5, 18, 0, tzinfo=UTC)  # a Wednesday evening


def ev(days_ago: float, kind: str = "update", agency: str = "school") -> ActivityEvent:
    """One post `days_ago` days before NOW, written by the agency's one practitioner."""
    return ActivityEvent(NOW - timedelta(days=days_ago), kind, f"{agency}/a", agency)


def fortnightly_school_updates() -> list[ActivityEvent]:
    """A light, steady history: one school update every two weeks for 12 weeks."""
    return [ev(day) for day in range(10, 91, 14)]


def burst(posts: int) -> list[ActivityEvent]:
    """`posts` updates in the last 48 h, rotating through three agencies."""
    agencies = ("school", "health", "police")
    return [ev(0.15 + 0.3 * i, "update", agencies[i % 3]) for i in range(posts)]


# --- assess: who gets flagged ----------------------------------------------------------


def test_quiet_child_with_usual_activity_is_not_flagged() -> None:
    weekly = [ev(day + 0.4) for day in range(3, 91, 7)] + [ev(0.5)]
    result = assess(weekly, NOW)
    assert not result.flagged
    assert result.score < 1.0
    assert result.reasons[0].startswith("1 post in the last 72 h, usually 0.")


def test_busy_child_at_its_usual_busy_rate_is_not_flagged() -> None:
    weekdays = [d for d in range(91) if (NOW - timedelta(days=d + 0.3)).weekday() < 5]
    daily = [ev(d + 0.3, "update", agency) for d in weekdays for agency in ("school", "health")]
    result = assess(daily, NOW)
    assert result.recent_posts == 6
    assert not result.flagged
    assert result.score < 1.0


def test_multi_agency_burst_with_hunches_is_flagged_with_reasons() -> None:
    recent = [
        ev(0.1, "hunch", "school"),
        ev(0.2, "update", "school"),
        ev(0.3, "hunch", "health"),
        ev(1.1, "update", "health"),
        ev(1.2, "hunch", "police"),
        ev(1.3, "concern", "police"),
        ev(2.1, "hunch", "school"),
        ev(2.2, "update", "school"),
        ev(2.5, "visit", "health"),
    ]
    result = assess(fortnightly_school_updates() + recent, NOW)
    assert result.flagged
    assert result.score >= VelocityParams().flag_threshold
    assert result.recent_posts == 9
    assert result.usual_posts == pytest.approx(0.26, abs=0.01)
    assert result.agencies == ["health", "police", "school"]
    assert result.new_agencies == ["health", "police"]
    assert result.concerns == 5
    assert result.reasons == [
        "9 posts in the last 72 h, usually 0.3",
        "3 agencies in the last 7 days: health, police, school",
        "2 agencies not heard from in the 12 weeks before: health, police",
        "4 hunches and 1 concern in the last 7 days",
    ]


def test_events_may_arrive_in_any_order() -> None:
    events = fortnightly_school_updates() + burst(6)
    forwards = assess(events, NOW)
    backwards = assess(list(reversed(events)), NOW)
    assert forwards == backwards
    assert forwards.flagged


def test_future_and_ancient_events_are_ignored() -> None:
    events = fortnightly_school_updates()
    noise = [ev(-1.0, "hunch", "police"), ev(-0.1, "concern", "health"), ev(400.0, "hunch")]
    assert assess(events + noise, NOW) == assess(events, NOW)


# --- per-day tallies (what the server stores) ------------------------------------------


def test_tally_days_counts_each_24h_day_back_from_now() -> None:
    events = [
        ev(0.1, "hunch", "school"),
        ev(0.2, "update", "school"),
        ActivityEvent(NOW - timedelta(hours=5), "concern", "health/b", "health"),
        ev(2.5, "visit", "police"),
        ev(-0.5, "hunch", "police"),  # in the future: ignored
        ev(4.5),  # beyond the requested length: ignored
    ]
    days = tally_days(events, NOW, 4)
    assert len(days) == 4
    assert days[0] == DayTally(
        posts=3,
        by_kind=(("update", 1), ("hunch", 1), ("concern", 1)),
        authors=frozenset({"school/a", "health/b"}),
        agencies=frozenset({"school", "health"}),
        concern_agencies=frozenset({"school", "health"}),
        concern_authors=frozenset({"school/a", "health/b"}),
    )
    assert days[1] == DayTally()
    assert days[2].posts == 1
    assert days[2].agencies == frozenset({"police"})
    assert days[2].concern_agencies == frozenset()
    assert days[3] == DayTally()


def _mixed_history() -> list[ActivityEvent]:
    kinds = ("update", "hunch", "visit", "concern", "positive")
    agencies = ("school", "health", "police", "housing")
    steady = [ev(day + 0.4, kinds[day % 5], agencies[day % 4]) for day in range(3, 91, 3)]
    return steady + burst(7) + [ev(1.5, "concern", "camhs")]


@pytest.mark.parametrize("previously_flagged", [False, True])
@pytest.mark.parametrize("known_days", [None, 5, 40])
def test_assess_and_assess_days_agree(previously_flagged: bool, known_days: int | None) -> None:
    events = _mixed_history()
    since = None if known_days is None else NOW - timedelta(days=known_days)
    days = tally_days(events, NOW, VelocityParams().span)
    from_events = assess(events, NOW, previously_flagged, known_since=since)
    from_days = assess_days(days, NOW, previously_flagged, known_since=since)
    assert from_days == from_events
    assert from_events.recent_posts > 0


def test_assess_days_treats_missing_older_days_as_quiet() -> None:
    events = [ev(0.5, "hunch", "school"), ev(1.5, "concern", "health"), ev(1.6, "update")]
    short = tally_days(events, NOW, 3)
    assert assess_days(short, NOW) == assess(events, NOW)
    assert assess_days([], NOW) == assess([], NOW)


def test_server_calendar_days_line_up_when_now_is_end_of_utc_day() -> None:
    end_of_day = datetime(2024, 6, 6, tzinfo=UTC)  # midnight ending Wednesday 5 June
    posts = [
        ActivityEvent(datetime(2024, 6, 5, h, tzinfo=UTC), "update", "s/a", "s") for h in (0, 23)
    ]
    posts.append(ActivityEvent(datetime(2024, 6, 4, 23, 59, tzinfo=UTC), "hunch", "s/a", "s"))
    days = tally_days(posts, end_of_day, 2)
    assert [d.posts for d in days] == [2, 1]


def _steady_child(agencies_per_day: int) -> list[DayTally]:
    """`agencies_per_day` agencies active on every day of the span, nothing else."""
    day = DayTally(
        posts=agencies_per_day, agencies=frozenset(f"a{i}" for i in range(agencies_per_day))
    )
    return [day] * VelocityParams().span


def test_cohort_prior_is_the_mean_and_spread_of_baseline_rates() -> None:
    alike = cohort_prior([_steady_child(1)] * 10, NOW)
    mixed = cohort_prior([_steady_child(0), _steady_child(2)] * 5, NOW)
    # Every day active but weekends are expected to carry less: a little over 1 per weekday.
    assert 1.0 < alike[0] < 1.6
    assert mixed[0] == pytest.approx(alike[0])  # same mean rate ...
    assert alike[1] == 50.0  # ... but identical children leave no spread (shape capped)
    assert mixed[1] < 2.0  # while half silent, half busy is a wide prior


def test_cohort_prior_needs_some_activity() -> None:
    with pytest.raises(ValueError, match="at least two children"):
        cohort_prior([_steady_child(0)] * 5, NOW)
    with pytest.raises(ValueError, match="at least two children"):
        cohort_prior([_steady_child(1)], NOW)


# --- low counts and children without history -------------------------------------------


def test_one_post_after_long_silence_does_not_flag() -> None:
    result = assess([ev(0.5, "hunch")], NOW)
    assert not result.flagged
    assert result.score < VelocityParams().release_threshold
    assert result.reasons[0] == "1 post in the last 72 h, none in the 12 weeks before"


def test_too_few_posts_never_flag_or_rank_high_however_worried() -> None:
    two = [ev(0.5, "hunch"), ev(0.6, "concern", "police")]
    lenient = VelocityParams(flag_threshold=0.5, release_threshold=0.2, few_posts_max_score=0.4)
    result = assess(two, NOW, params=lenient)
    assert result.score == lenient.few_posts_max_score  # capped: two posts are not news ...
    assert not result.flagged  # ... and too few to act on, even past the flag threshold
    assert not assess(two, NOW, previously_flagged=True, params=lenient).flagged
    three = [*two, ev(1.5, "hunch", "health")]
    assert assess(three, NOW, params=lenient).score > lenient.few_posts_max_score


def test_worried_posts_from_new_agencies_score_higher_than_routine_ones() -> None:
    history = fortnightly_school_updates()
    routine = [ev(0.5, "update"), ev(1.5, "update"), ev(2.5, "visit")]
    worried_new = [ev(0.5, "hunch", "police"), ev(1.5, "concern", "health"), ev(2.5, "hunch")]
    assert assess(history + worried_new, NOW).score > assess(history + routine, NOW).score + 1.0


def test_child_with_no_history_is_compared_with_the_cohort_prior() -> None:
    events = [ev(0.5, "hunch"), ev(0.6, "update", "health"), ev(1.5), ev(1.6, "hunch", "health")]
    new_child = assess(events, NOW, known_since=NOW - timedelta(days=2))
    silent_child = assess(events, NOW)  # 12 quiet weeks make the same posts more surprising
    busier_cohort = VelocityParams(prior_mean=1.0)
    new_in_busy_cohort = assess(
        events, NOW, known_since=NOW - timedelta(days=2), params=busier_cohort
    )
    assert 0.0 < new_child.score < silent_child.score
    assert 0.0 < new_child.recent_score < silent_child.recent_score
    assert new_in_busy_cohort.score < new_child.score
    assert new_in_busy_cohort.recent_score < new_child.recent_score
    assert not new_in_busy_cohort.flagged
    assert silent_child.flagged
    assert new_child.reasons[0] == "4 posts in the last 72 h, no earlier history to compare with"
    assert new_child.new_agencies == []  # nothing to be new relative to


def test_empty_history_scores_zero_and_explains_itself() -> None:
    result = assess([], NOW)
    assert result.score == 0.0
    assert not result.flagged
    assert result.p_value == 1.0
    assert result.reasons == [
        "0 posts in the last 72 h, none in the 12 weeks before",
        "no posts in the last 7 days",
        "usual for this child: 0 posts this week, usually none",
    ]


# --- post kinds as evidence ----------------------------------------------------------


def two_posts_each_from_three_agencies(kind: str) -> list[ActivityEvent]:
    """Six posts of one kind in the last 36 h: a sitting each from school, health, police."""
    agencies = ("school", "health", "police")
    return [ev(0.2 + 0.5 * i + 0.01 * j, kind, agencies[i]) for i in range(3) for j in range(2)]


def test_a_week_of_good_news_is_not_flagged_where_the_same_updates_are() -> None:
    history = fortnightly_school_updates()
    updates = assess(history + two_posts_each_from_three_agencies("update"), NOW)
    good_news = assess(history + two_posts_each_from_three_agencies("positive"), NOW)
    assert updates.flagged
    assert not good_news.flagged
    assert good_news.score < updates.score and good_news.recent_score < updates.recent_score
    assert good_news.reasons[0] == updates.reasons[0] == "6 posts in the last 72 h, usually 0.3"


def test_a_worried_rise_flags_though_one_of_its_posts_is_good_news() -> None:
    rise = [
        ev(0.2, "hunch", "school"),
        ev(0.3, "positive", "school"),
        ev(1.2, "concern", "health"),
        ev(2.2, "update", "police"),
    ]
    assert assess(fortnightly_school_updates() + rise, NOW).flagged


def test_good_news_on_one_day_never_cancels_worries_on_another() -> None:
    worries = [ev(0.2, "hunch", "health"), ev(1.2, "concern", "police"), ev(2.2, "hunch")]
    good_day = [ev(3.2 + 0.01 * i, "positive") for i in range(4)]  # a day's signal stops at 0
    history = fortnightly_school_updates()
    with_good_day = assess(history + worries + good_day, NOW, previously_flagged=True)
    without = assess(history + worries, NOW, previously_flagged=True)
    assert with_good_day.flagged and without.flagged
    assert with_good_day.score == without.score
    assert with_good_day.recent_score == without.recent_score


# --- the week in plain words, for a child not flagged ----------------------------------


def weekly_updates(first: int = 3) -> list[ActivityEvent]:
    """One school update a week, every week from `first` days ago back to 12 weeks."""
    return [ev(day + 0.4) for day in range(first, 91, 7)]


def test_a_usual_week_says_so_with_the_childs_usual_range() -> None:
    result = assess(weekly_updates(), NOW)
    assert not result.flagged
    assert result.usual == "usual for this child: 1 post this week, usually 1"
    assert result.reasons[-1] == result.usual


def test_a_busier_or_quieter_week_below_the_flag_says_which() -> None:
    busier = assess([*weekly_updates(), ev(0.5)], NOW)
    quieter = assess(weekly_updates(first=10), NOW)
    assert not busier.flagged and not quieter.flagged
    assert busier.usual == (
        "more than usual for this child, not enough to flag: 2 posts this week, usually 1"
    )
    assert quieter.usual == "quieter than usual for this child: 0 posts this week, usually 1"


def test_the_usual_range_leaves_out_one_odd_week() -> None:
    odd_week = [ev(30.5 + 0.1 * i, "update", "health") for i in range(8)]
    steady = [ev(day + 0.4, "update", "health") for day in range(3, 91, 7)]
    two_a_week = weekly_updates() + steady + odd_week
    result = assess(two_a_week, NOW)
    assert not result.flagged
    assert result.usual == "usual for this child: 2 posts this week, usually 2"


def test_a_flagged_child_or_one_known_under_two_weeks_gets_no_usual_sentence() -> None:
    flagged = assess(fortnightly_school_updates() + burst(6), NOW)
    assert flagged.flagged and flagged.usual == ""
    assert not any(reason.startswith("usual for") for reason in flagged.reasons)
    new = assess([ev(1.5), ev(9.5)], NOW, known_since=NOW - timedelta(days=12))
    assert new.usual == "" and len(new.reasons) == 2


# --- hysteresis ------------------------------------------------------------------------


def every_other_day_from_three_agencies() -> list[ActivityEvent]:
    return [
        ev(day + 0.4, "update", ("school", "health", "police")[day % 3]) for day in range(3, 91, 2)
    ]


def every_third_day_from_three_agencies() -> list[ActivityEvent]:
    return [
        ev(day + 0.4, "update", ("school", "health", "police")[day % 3]) for day in range(3, 91, 3)
    ]


def test_flag_is_kept_between_release_and_flag_thresholds() -> None:
    events = every_third_day_from_three_agencies() + burst(4)
    recent = assess(events, NOW).recent_score
    params = VelocityParams(flag_threshold=recent + 0.1, release_threshold=recent - 0.1)
    result = assess(events, NOW, previously_flagged=False, params=params)
    assert result.recent_posts >= params.min_posts_to_flag
    assert not result.flagged
    assert assess(events, NOW, previously_flagged=True, params=params).flagged


def _day_by_day(events: list[ActivityEvent], days: int) -> list[tuple[bool, float]]:
    """(flagged, score) at NOW and each of the next `days` days, carrying the flag."""
    flagged, seen = False, []
    for day in range(days + 1):
        result = assess(events, NOW + timedelta(days=day), flagged)
        flagged = result.flagged
        seen.append((flagged, result.score))
    return seen


def test_one_busy_day_flags_and_lets_go_within_days_though_its_week_still_scores() -> None:
    meeting = [
        ev(0.2 + 0.01 * i, "update", ("school", "health", "police")[i % 3]) for i in range(6)
    ]
    seen = _day_by_day(fortnightly_school_updates() + meeting, 5)
    assert seen[0][0]  # flagged on the day
    released = next(day for day, (flagged, _) in enumerate(seen) if not flagged)
    assert released <= 4
    assert seen[released][1] >= seen[0][1] - 0.5  # the 7-day score has hardly moved
    assert not any(flagged for flagged, _ in seen[released:])  # and it does not flap back


def test_attention_still_rising_keeps_the_flag() -> None:
    rising = [
        ev(-day + 0.2 + 0.01 * i, ("hunch", "update")[i % 2], ("school", "health", "police")[i % 3])
        for day in range(6)
        for i in range(2 + day // 2)
    ]
    seen = _day_by_day(fortnightly_school_updates() + rising, 5)
    assert not seen[0][0]  # two posts: too few to flag
    assert all(flagged for flagged, _ in seen[1:])  # flagged from the fourth post, and kept


def test_three_posts_keep_a_flag_but_do_not_raise_one() -> None:
    params = VelocityParams()
    events = fortnightly_school_updates() + burst(3)
    result = assess(events, NOW)
    assert result.score >= params.flag_threshold  # unusual enough ...
    assert not result.flagged  # ... but 3 posts are too few to raise a flag
    assert assess(events, NOW, previously_flagged=True).flagged  # enough to keep one


def test_flag_is_released_below_release_threshold() -> None:
    events = every_other_day_from_three_agencies() + burst(4)
    result = assess(events, NOW, previously_flagged=True)
    assert result.recent_posts >= VelocityParams().min_recent_posts
    assert result.score < VelocityParams().release_threshold
    assert not result.flagged


def test_flag_is_released_when_posts_fall_below_the_minimum() -> None:
    result = assess(fortnightly_school_updates() + burst(2), NOW, previously_flagged=True)
    assert result.score <= VelocityParams().few_posts_max_score
    assert not result.flagged


def test_release_threshold_above_flag_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="release_threshold"):
        VelocityParams(flag_threshold=2.0, release_threshold=3.0)


# --- validation ------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2024, 6, 5, 18, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        ActivityEvent(naive, "update", "school/a", "school")
    with pytest.raises(ValueError, match="timezone-aware"):
        assess([], naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        assess([], NOW, known_since=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        daily_counts([], naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        period_stats([], naive, naive)


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown post kind 'gossip'"):
        ActivityEvent(NOW, "gossip", "school/a", "school")


def test_every_known_kind_is_accepted() -> None:
    events = [ActivityEvent(NOW, kind, "school/a", "school") for kind in KINDS]
    assert [e.kind for e in events] == list(KINDS)


# --- sparkline and daily counts --------------------------------------------------------


def test_sparkline_has_28_days_oldest_first() -> None:
    events = [ev(0.2), ev(0.9), ev(3.5), ev(27.5), ev(28.5), ev(-0.5)]
    result = assess(events, NOW)
    assert len(result.sparkline) == SPARKLINE_DAYS == 28
    assert result.sparkline[-1] == 2  # the 24 h ending now
    assert result.sparkline[-4] == 1  # 3.5 days ago
    assert result.sparkline[0] == 1  # 27.5 days ago; 28.5 days ago is off the end
    assert sum(result.sparkline) == 4
    assert daily_counts(events, NOW) == result.sparkline


def test_daily_counts_honours_a_custom_length() -> None:
    counts = daily_counts([ev(0.5), ev(1.5), ev(1.6), ev(6.0)], NOW, days=3)
    assert counts == [0, 2, 1]


# --- periods ---------------------------------------------------------------------------


def test_compare_periods_counts_each_period_and_the_change() -> None:
    events = [
        ev(20.0, "update", "school"),
        ev(19.0, "hunch", "school"),
        ev(4.0, "hunch", "school"),
        ev(3.0, "concern", "health"),
        ev(2.0, "visit", "police"),
        ActivityEvent(NOW - timedelta(days=1), "hunch", "school/b", "school"),
    ]
    last_month = (NOW - timedelta(days=28), NOW - timedelta(days=14))
    last_week = (NOW - timedelta(days=7), NOW)
    result = compare_periods(events, *last_month, *last_week)
    assert result.a.total_posts == 2
    assert result.a.distinct_authors == 1
    assert result.a.distinct_agencies == 1
    assert result.b.total_posts == 4
    assert result.b.posts_by_kind == {
        "update": 0,
        "hunch": 2,
        "concern": 1,
        "visit": 1,
        "positive": 0,
    }
    assert result.b.distinct_authors == 4
    assert result.b.distinct_agencies == 3
    assert result.change.total_posts == 2
    assert result.change.posts_by_kind["update"] == -1
    assert result.change.posts_by_kind["hunch"] == 1
    assert result.change.distinct_agencies == 2


def test_period_is_half_open() -> None:
    start, end = NOW - timedelta(days=1), NOW
    events = [ActivityEvent(start, "update", "a", "x"), ActivityEvent(end, "update", "b", "y")]
    stats = period_stats(events, start, end)
    assert stats.total_posts == 1
    assert stats.distinct_agencies == 1


def test_period_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="before its start"):
        period_stats([], NOW, NOW - timedelta(days=1))


# --- the negative-binomial tail --------------------------------------------------------


def _direct_log10_sf(k: int, shape: float, p: float) -> float:
    """Sum the upper tail term by term (no cancellation, so tiny tails stay accurate)."""

    def log_pmf(j: int) -> float:
        return (
            math.lgamma(j + shape)
            - math.lgamma(shape)
            - math.lgamma(j + 1)
            + shape * math.log(p)
            + j * math.log1p(-p)
        )

    return math.log10(sum(math.exp(log_pmf(j)) for j in range(k, k + 5_000)))


@pytest.mark.parametrize("shape", [0.5, 1.0, 3.5, 20.0])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.98])
@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_negative_binomial_tail_matches_direct_sum(k: int, shape: float, p: float) -> None:
    assert nb_log10_sf(k, shape, p) == pytest.approx(_direct_log10_sf(k, shape, p), abs=1e-6)


def test_negative_binomial_tail_is_monotone_and_never_underflows() -> None:
    tails = [nb_log10_sf(k / 2, 1.5, 0.7) for k in range(0, 40)]
    assert tails[0] == 0.0
    assert all(b <= a for a, b in pairwise(tails))
    assert math.isfinite(nb_log10_sf(10_000, 1.0, 0.999))
