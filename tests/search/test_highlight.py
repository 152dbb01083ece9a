"""Snippets around a match never cut a withheld name's placeholder in half (the demo's
search showed "…withheld] alone at Millbrook Primary School")."""

from __future__ import annotations

import pytest

from feeds.access.redaction import WITHHELD
from search.base import parse_query
from search.highlight import highlight


def text_of(body: str, query: str, width: int = 160) -> str:
    return "".join(segment.text for segment in highlight(body, parse_query(query), width).segments)


@pytest.mark.parametrize("lead", ["", "Seen with her brother, ", "Home visit; mum and " * 3])
def test_a_snippet_starts_before_a_placeholder_not_inside_it(lead: str) -> None:
    body = f"{lead}{WITHHELD} alone at Millbrook Primary School. Talked about home."
    shown = text_of(body, "school")
    assert "withheld" not in shown.replace(WITHHELD, "")
    assert "School" in shown


def test_a_snippet_ends_before_a_placeholder_not_inside_it() -> None:
    body = "School said " + "she was tired again " * 6 + f"and {WITHHELD} was not collected."
    for width in range(90, 180, 3):
        shown = text_of(body, "school", width)
        assert "[name" not in shown.replace(WITHHELD, ""), (width, shown)
        assert shown.startswith("School")
