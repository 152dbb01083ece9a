"""The child page says when the child is flagged on the board, and why (the stored verdict
the board reads); its activity chart has a legend, a date axis and the same numbers as a
table; the chart and notice are also served alone for the page to refresh."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx

from feeds.clock import utcnow
from feeds.models import AuditRecord, PostKind
from feeds.velocity.verdicts import do_recompute_velocity
from tests.conftest import Factory, api_login
from tests.server.test_board import _authors, _burst, _post, _quiet_history


async def test_a_flagged_child_page_says_so_with_the_boards_reasons(
    client: httpx.AsyncClient, make: Factory
) -> None:
    authors = await _authors(make, 3)
    child, calm = await make.child(), await make.child()
    for each in (child, calm):
        await _quiet_history(each, authors[0])
        await make.grant(each, professional=authors[0])
    await _burst(child, authors)
    flips = await do_recompute_velocity({child.id, calm.id})
    assert [flip.child_id for flip in flips] == [child.id]
    await api_login(client, authors[0].email)

    page = (await client.get(f"/children/{child.id}")).text
    notice = re.search(r'<section class="card flag-notice".*?</section>', page, re.S)
    assert notice, "no flag notice"
    text = html.unescape(notice.group(0))
    assert "on the attention board" in text and "not risk" in text
    reasons = flips[0].assessment.reasons
    assert reasons and all(f"<li>{reason}</li>" in text for reason in reasons)
    assert any("3 agencies" in reason for reason in reasons)
    assert f"flagged since {utcnow().date().isoformat()}" in text
    # A child that is not flagged says nothing of the kind.
    assert "flag-notice" not in (await client.get(f"/children/{calm.id}")).text


async def test_the_chart_has_a_legend_a_date_axis_and_a_table(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await _post(child, author, 0.01, PostKind.HUNCH)
    await _post(child, author, 0.02, PostKind.HUNCH)
    await _post(child, author, 2.2, PostKind.UPDATE)
    await api_login(client, author.email)
    page = (await client.get(f"/children/{child.id}")).text
    legend = re.search(r'<ul class="legend".*?</ul>', page, re.S)
    assert legend and all(kind.value.capitalize() in legend.group(0) for kind in PostKind)
    axis = re.findall(r"<li>(\d{1,2} \w{3})", page.split('class="timeline-axis')[1])
    today = utcnow().date()
    first = today - timedelta(days=27)
    assert axis == [f"{(first + timedelta(days=7 * n)):%-d %b}" for n in range(4)]
    assert "<span>today</span>" in page
    rows = re.findall(r'<tr><th scope="row"><time datetime="([\d-]+)">', page)
    two_days_ago = (utcnow() - timedelta(days=2.2)).date()
    assert rows == [today.isoformat(), two_days_ago.isoformat()]  # days with posts, newest first
    assert "Tallest bar: 2 posts" in page


async def test_the_chart_says_which_way_attention_and_worry_moved(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await _post(child, author, 40, PostKind.POSITIVE)
    for days in (1, 2, 3):
        await _post(child, author, days, PostKind.CONCERN)
    await api_login(client, author.email)

    page = html.unescape((await client.get(f"/children/{child.id}")).text)

    assert "Attention rose: 3 posts against 1, from 1 agency against 1." in page
    assert "Worry rose: 3 hunches and concerns against 0." in page
    assert "Balance in the later period: 0 positive posts against 3 hunches" in page
    assert '<span class="trend trend-rose" aria-hidden="true">▲</span>' in page


async def test_the_activity_fragment_is_the_chart_and_notice_alone_and_audited(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await _post(child, author, 0.01, PostKind.CONCERN)
    await api_login(client, author.email)
    response = await client.get(f"/children/{child.id}/activity")
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="flag-slot">')
    assert '<figure class="timeline" id="activity"' in response.text
    assert "<html" not in response.text and child.display_name not in response.text
    assert response.headers["cache-control"] == "no-store"
    record = await AuditRecord.filter(action="velocity.read").order_by("-id").first()
    assert record is not None and record.child_id == child.id
    hidden = await make.child()
    assert (await client.get(f"/children/{hidden.id}/activity")).status_code == 404
