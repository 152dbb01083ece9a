"""The search API and page: bad input answers 4xx with a message, snippets render safely."""

from __future__ import annotations

import httpx
import pytest

from search.base import SearchIndex, parse_query
from tests.conftest import api_login
from tests.search.conftest import World, api_search, drain_all, post


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "a"}, "q"),
        ({"q": "  "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "!!! ???"}, "q"),
        ({"q": "boyfriend", "since": "yesterday"}, "since"),
        ({"q": "boyfriend", "until": "2024-02-30"}, "until"),
        ({"q": "boyfriend", "since": "2024-03-02", "until": "2024-03-01"}, "since"),
        ({"q": "boyfriend", "kind": "gossip"}, "kind"),
        ({"q": "boyfriend", "order": "random"}, "order"),
        ({"q": "boyfriend", "limit": "0"}, "limit"),
        ({"q": "boyfriend", "limit": "51"}, "limit"),
        ({"q": "boyfriend", "cursor": "abc"}, "cursor"),
        ({"q": "boyfriend", "child": "-1"}, "child"),
    ],
)
async def test_bad_search_parameters_answer_422_naming_the_parameter(
    client: httpx.AsyncClient, world: World, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/search", params=params, headers=world.auth("author"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field and error["message"]


async def test_search_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/search", params={"q": "boyfriend"})
    assert response.status_code == 401
    page = await client.get("/search", params={"q": "boyfriend"})
    assert page.status_code == 303


async def test_results_page_escapes_post_text_and_marks_matches(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    await post(world.author, world.child, "<script>alert(1)</script> zebracrossing seen")
    await drain_all(index)
    await api_login(client, world.author.email)
    page = await client.get("/search", params={"q": "zebracrossing"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<mark>zebracrossing</mark>" in page.text
    assert f"/children/{world.child.id}" in page.text


async def test_results_page_shows_the_form_without_searching_when_empty(
    client: httpx.AsyncClient, world: World
) -> None:
    await api_login(client, world.author.email)
    page = await client.get("/search")
    assert page.status_code == 200 and 'role="search"' in page.text
    bad = await client.get("/search", params={"q": "a"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


async def test_snippet_highlights_are_offsets_into_the_snippet(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    body = "Mum said the Older brother's new boyfriend stays over; brother upset"
    await post(world.author, world.child, body)
    await drain_all(index)
    result = (await api_search(client, world, "author", q='"new boyfriend" brother')).json()
    marked = [result["results"][0]["snippet"][a:b] for a, b in result["results"][0]["highlights"]]
    assert marked == ["brother", "new", "boyfriend", "brother"]


def test_query_parsing_splits_words_phrases_and_a_last_word_prefix() -> None:
    parsed = parse_query('older "New Boyfriend" visit')
    assert parsed.words == ("older",)
    assert parsed.phrases == (("new", "boyfriend"),)
    assert parsed.prefix == "visit"
    assert parse_query('older "new boyfriend"').prefix is None
    assert parse_query("to be").prefix is None  # too short for a prefix
    assert parse_query("to be").words == ("to", "be")
    assert parse_query('"unclosed phrase here').phrases == (("unclosed", "phrase", "here"),)
    assert parse_query("!!!").is_empty
