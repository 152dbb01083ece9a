""" "Gone quiet" on the manager's board and in the inbox, beside "flagged"."""

from __future__ import annotations

import httpx

from feeds.clock import utcnow
from feeds.models import Role
from feeds.silence.verdicts import do_recompute_silence
from tests.conftest import Factory, api_login
from tests.feeds.test_silence_verdicts import contact_every


async def test_board_shows_a_child_gone_quiet_with_its_reason_and_ranks_it_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    now = utcnow()
    lead = await make.practitioner()
    steady, quiet = await make.child(lead=lead), await make.child(lead=lead)
    manager = await make.professional(role=Role.MANAGER, email="boss@example.test")
    team = await make.team(managers=[manager])
    for child in (steady, quiet):
        await make.grant(child, team=team)
    await contact_every(steady, "Oak School", 7, 14, silent=2, now=now)
    await contact_every(quiet, "Oak School", 7, 14, silent=23, now=now)
    await do_recompute_silence([steady.id, quiet.id], now)
    await api_login(client, manager.email)

    html = (await client.get("/board")).text

    assert '<strong id="board-quiet">1</strong> gone quiet' in html
    assert html.count('<span class="badge badge-quiet">Gone quiet</span>') == 1
    assert "Oak School posted about every 7 days for 13 weeks; nothing for 23 days" in html
    assert html.index(quiet.display_name) < html.index(steady.display_name)
    # The JSON API keeps its shape (typed schemas are being written for it elsewhere).
    body = (await client.get("/api/v1/board")).json()
    assert "gone_quiet" not in body and all("gone_quiet" not in r for r in body["rows"])


async def test_the_lead_reads_gone_quiet_in_the_inbox(
    client: httpx.AsyncClient, make: Factory
) -> None:
    now = utcnow()
    lead = await make.practitioner(email="lead@example.test")
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    await contact_every(child, "Oak School", 7, 14, silent=23, now=now)
    await do_recompute_silence([child.id], now)
    await api_login(client, lead.email)

    html = (await client.get("/notifications")).text

    assert "<strong>Gone quiet</strong>: an agency in regular contact has stopped posting" in html
    assert child.display_name in html
