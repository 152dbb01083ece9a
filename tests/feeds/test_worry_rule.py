"""The shared-worry threshold (feeds/network/worry_rule.py): a pure function, tested at its
edges: how many professionals, how many agencies, and the 14-day window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feeds.network.worry_rule import WINDOW, Worry, assess, reason

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def worry(days_ago: float, person: int, agency: int) -> Worry:
    return Worry(NOW - timedelta(days=days_ago), person, agency)


def test_three_professionals_from_one_agency_are_not_enough() -> None:
    count = assess([worry(1, 1, 10), worry(1, 2, 10), worry(1, 3, 10)], NOW)
    assert (count.professionals, count.agencies, count.met) == (3, 1, False)
    assert count.holds_until is None


def test_two_professionals_from_two_agencies_are_not_enough() -> None:
    count = assess([worry(1, 1, 10), worry(2, 2, 20), worry(3, 2, 20)], NOW)
    assert (count.professionals, count.agencies, count.met) == (2, 2, False)


def test_three_professionals_from_two_agencies_are_enough() -> None:
    count = assess([worry(1, 1, 10), worry(2, 2, 20), worry(3, 3, 20)], NOW)
    assert (count.professionals, count.agencies, count.met) == (3, 2, True)
    assert reason(count) == "Shared worry: 3 professionals from 2 agencies"


def test_a_professional_counts_once_however_often_they_worry() -> None:
    count = assess([worry(1, 1, 10), worry(2, 1, 10), worry(3, 2, 20), worry(4, 2, 20)], NOW)
    assert (count.professionals, count.met) == (2, False)


def test_only_the_last_fourteen_days_count() -> None:
    just_inside = WINDOW - timedelta(minutes=1)
    inside = [Worry(NOW - just_inside, 1, 10), worry(1, 2, 20), worry(1, 3, 20)]
    assert assess(inside, NOW).met
    exactly = [Worry(NOW - WINDOW, 1, 10), worry(1, 2, 20), worry(1, 3, 20)]
    assert not assess(exactly, NOW).met
    assert assess(exactly, NOW).agencies == 1


def test_it_holds_until_the_worry_whose_ageing_breaks_the_threshold() -> None:
    # Four professionals: the oldest may age out (three remain from two agencies); the
    # second oldest may not (two would remain).
    worries = [worry(10, 1, 10), worry(8, 2, 20), worry(5, 3, 10), worry(2, 4, 10)]
    count = assess(worries, NOW)
    assert count.holds_until == NOW - timedelta(days=8) + WINDOW
    later = assess(worries, count.holds_until - timedelta(seconds=1))
    assert later.met
    assert not assess(worries, count.holds_until).met


def test_future_worries_do_not_count() -> None:
    assert not assess([worry(-1, 1, 10), worry(1, 2, 20), worry(1, 3, 20)], NOW).met
