"""Hotspots over HTTP: GET /hotspots (the heat grid) and GET /api/v1/hotspots."""

from __future__ import annotations

import re

import httpx
import pytest

from feeds.models import AuditRecord
from tests.conftest import Factory, api_login
from tests.feeds.test_hotspots import _scene


async def test_api_hotspots_by_school_without_the_hidden_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, _children, hidden, _ = await _scene(make)
    await api_login(client, manager.email)

    response = await client.get("/api/v1/hotspots", params={"by": "school"})

    assert response.status_code == 200
    body = response.json()
    assert (body["by"], body["children"], len(body["week_starts"])) == ("school", 3, 12)
    assert [(r["label"], r["worries"], r["flagged"]) for r in body["rows"]] == [
        ("Oak", 3, 1),
        ("Elm", 1, 0),
    ]
    assert hidden.display_name not in response.text and hidden.reference not in response.text


async def test_the_page_draws_one_heat_strip_per_group_with_text_alternatives(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, _children, _hidden, _ = await _scene(make)
    await api_login(client, manager.email)

    page = await client.get("/hotspots", params={"by": "area"})

    assert page.status_code == 200
    text = page.text
    assert len(re.findall(r'<svg class="heat"', text)) == 2  # North, South
    assert 'aria-label="North: hunches and concerns per week, oldest first: ' in text
    assert "the darkest is 2" in text and 'class="heat-4"' in text
    assert "style=" not in text and "<script>" not in text  # CSP: no inline style or script
    assert '<strong aria-current="page">Area</strong>' in text
    assert await AuditRecord.filter(action="hotspots.read", actor_id=manager.id).count() == 1


@pytest.mark.parametrize("path", ["/api/v1/hotspots", "/hotspots"])
async def test_practitioners_are_refused_and_bad_groupings_are_422(
    client: httpx.AsyncClient, make: Factory, path: str
) -> None:
    person = await make.practitioner(grants=[await make.child()])
    await api_login(client, person.email)
    assert (await client.get(path)).status_code == 403
    manager = await make.manager_of(await make.child())
    await client.post("/logout")
    await api_login(client, manager.email)
    bad = await client.get(path, params={"by": "postcode"})
    assert bad.status_code == 422 and "by" in bad.text
