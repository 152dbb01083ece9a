"""Trends in words: which way attention and worry moved between two periods."""

from __future__ import annotations

import pytest

from feeds.velocity.detector import KINDS, PeriodStats, side_by_side
from feeds.velocity.trends import describe, direction


def _stats(agencies: int = 1, **kinds: int) -> PeriodStats:
    by_kind = {kind: kinds.get(kind, 0) for kind in KINDS}
    return PeriodStats(by_kind, sum(by_kind.values()), agencies, agencies)


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        (0, 2, "rose"),  # two more posts is a change
        (0, 1, "same"),  # one is not
        (10, 11, "same"),
        (10, 13, "rose"),
        (20, 23, "same"),  # +3 is under a fifth of 23
        (20, 15, "fell"),
        (3, 1, "fell"),
    ],
)
def test_a_change_must_be_large_both_absolutely_and_relatively(
    earlier: int, later: int, expected: str
) -> None:
    assert direction(earlier, later) == expected


def test_words_name_attention_worry_and_the_balance_of_positive_posts() -> None:
    earlier = _stats(update=4, hunch=1)
    later = _stats(agencies=3, update=5, hunch=2, concern=2, positive=1)

    trend = describe(side_by_side(earlier, later))

    assert (trend.attention, trend.worry) == ("rose", "rose")
    assert (trend.attention_change, trend.worry_change) == (5, 3)
    assert trend.words == [
        "Attention rose: 10 posts against 5, from 3 agencies against 1.",
        "Worry rose: 4 hunches and concerns against 1.",
        "Balance in the later period: 1 positive post against 4 hunches and concerns.",
    ]


def test_steady_periods_say_about_the_same() -> None:
    trend = describe(side_by_side(_stats(update=6), _stats(update=6, positive=1)))
    assert trend.attention == trend.worry == "same"
    assert trend.words[0].startswith("Attention was about the same: 7 posts against 6")
