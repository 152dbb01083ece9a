"""The velocity board and a child's velocity with a comparison of two periods."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from feeds.velocity.board import MAX_ROWS, PAGE_ROWS, ChangeOrder
from feeds.velocity.trends import Direction
from server.schemas.common import Count

Day = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]


class Periods(Struct):
    """Two periods of whole UTC days to compare; each defaults from the others."""

    from_: Day | None = msgspec.field(default=None, name="from")
    to: Day | None = None
    compare_from: Day | None = None
    compare_to: Day | None = None


class BoardQuery(Periods, kw_only=True):
    status: Literal["all", "flagged"] = "all"
    sort: ChangeOrder = "attention"  # order of the per-child changes when comparing
    team: Annotated[str, Meta(pattern=r"^[0-9]*$", max_length=10)] | None = None
    group: Literal["household"] | None = None  # rows of one household together
    # Rows in this answer (the top): a manager reads the top 50 as the page shows them.
    limit: Annotated[int, Meta(ge=1, le=MAX_ROWS)] = PAGE_ROWS


class ChildRef(Struct):
    id: int
    display_name: str
    ref: str


class Velocity(Struct):
    score: float
    flagged: bool
    reasons: list[str]
    sparkline: list[int]  # posts per day, 28 days
    posts_72h: Count
    usual_72h: float
    agencies: list[str]
    new_agencies: list[str]
    concerns_7d: Count


class BoardRow(Velocity, kw_only=True):
    child: ChildRef
    posts_7d: Count
    posts_28d: Count
    last_post_at: str | None
    shared_worry: str | None = None  # "Shared worry: 5 professionals from 3 agencies"
    household_id: int | None = None  # the household the child is linked into, if any


class Stats(Struct):
    posts_by_kind: dict[str, int]
    total_posts: int
    distinct_authors: int
    distinct_agencies: int


class PeriodStats(Stats, kw_only=True):
    from_: str = msgspec.field(name="from")
    to: str


class Trend(Struct):
    """Whether attention (all posts) and worry (hunches and concerns) rose or fell."""

    attention: Direction
    worry: Direction
    attention_change: int
    worry_change: int
    worries_earlier: Count
    worries_later: Count
    positives_later: Count
    words: list[str]


class Comparison(Struct):
    a: PeriodStats
    b: PeriodStats
    change: Stats
    trend: Trend


class ChildChange(Struct):
    """One child on a compared board: its own periods A and B, and its trend."""

    child: ChildRef
    a: Stats
    b: Stats
    change: Stats
    trend: Trend


class Board(Struct, omit_defaults=True):
    at: str | None
    children: Count
    flagged: Count
    rows: list[BoardRow]
    more: Count = 0  # rows ranked below these: ask again with a larger `limit`
    comparison: Comparison | None = None  # only when a period parameter is given
    changes: list[ChildChange] | None = None  # each child's own comparison, sorted by `sort`


class ChildVelocity(Struct):
    child: ChildRef
    velocity: Velocity
    comparison: Comparison
