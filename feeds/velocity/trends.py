"""Whether attention and worry rose or fell between two periods, in words.

Pure: a PeriodComparison in, a Trend out. The board and the child page show the words
beside an arrow and the word itself ("rose", "fell", "about the same"), so the cue never
relies on colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from feeds.kinds import WORRY_KINDS, PostKind
from feeds.velocity.detector import PeriodComparison, PeriodStats

Direction = Literal["rose", "fell", "same"]
ARROWS: dict[Direction, str] = {"rose": "▲", "fell": "▼", "same": "="}
# A change counts when it is both relative and absolute: 2 posts against 1 is not a trend.
MIN_RELATIVE = 0.2
MIN_ABSOLUTE = 2


@dataclass(frozen=True)
class Trend:
    attention: Direction  # all posts
    worry: Direction  # hunches and concerns
    attention_change: int
    worry_change: int
    worries_earlier: int  # hunches and concerns in period A
    worries_later: int  # ... and in period B
    positives_later: int  # positive posts in period B
    words: list[str]  # plain sentences, earlier period first in each


def worries(stats: PeriodStats) -> int:
    return sum(stats.posts_by_kind.get(kind.value, 0) for kind in WORRY_KINDS)


def positives(stats: PeriodStats) -> int:
    return stats.posts_by_kind.get(PostKind.POSITIVE.value, 0)


def direction(earlier: int, later: int) -> Direction:
    change = later - earlier
    if abs(change) < MIN_ABSOLUTE or abs(change) < MIN_RELATIVE * max(earlier, later):
        return "same"
    return "rose" if change > 0 else "fell"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _said(what: str, way: Direction) -> str:
    return f"{what} {'was about the same' if way == 'same' else way}"


def describe(comparison: PeriodComparison) -> Trend:
    """The change from period A (earlier) to B (later), in words."""
    a, b = comparison.a, comparison.b
    attention = direction(a.total_posts, b.total_posts)
    worry = direction(worries(a), worries(b))
    posts = _plural(b.total_posts, "post", "posts")
    agencies = _plural(b.distinct_agencies, "agency", "agencies")
    worried = _plural(worries(b), "hunch or concern", "hunches and concerns")
    kind = _plural(positives(b), "positive post", "positive posts")
    words = [
        f"{_said('Attention', attention)}: {posts} against {a.total_posts}, "
        f"from {agencies} against {a.distinct_agencies}.",
        f"{_said('Worry', worry)}: {worried} against {worries(a)}.",
        f"Balance in the later period: {kind} against {worried}.",
    ]
    return Trend(
        attention=attention,
        worry=worry,
        attention_change=b.total_posts - a.total_posts,
        worry_change=worries(b) - worries(a),
        worries_earlier=worries(a),
        worries_later=worries(b),
        positives_later=positives(b),
        words=words,
    )
