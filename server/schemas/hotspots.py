"""Hotspots: worries per week by team, agency, school or area (managers)."""

from __future__ import annotations

from msgspec import Struct

from feeds.velocity.hotspots import Dimension
from feeds.velocity.trends import Direction
from server.schemas.common import Count


class HotspotsQuery(Struct):
    by: Dimension = "team"


class HotspotRow(Struct):
    label: str
    children: Count
    flagged: Count
    quiet: Count
    weeks: list[int]  # hunches and concerns per week, oldest first
    worries: Count
    trend: Direction  # the last four weeks against the four before


class Hotspots(Struct):
    by: Dimension
    week_starts: list[str]  # YYYY-MM-DD, the first day of each week, oldest first
    children: Count
    rows: list[HotspotRow]
