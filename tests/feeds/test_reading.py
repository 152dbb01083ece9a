"""The API's feed page is hand-written SQL straight to JSON views; it must say exactly
what the ORM page rendered by views.post_view says, page by page."""

from __future__ import annotations

from feeds.audit.records import AuditContext
from feeds.feed.posting import do_create_post, do_edit_post
from feeds.feed.reading import read_feed, read_feed_views
from feeds.serializers import post_views_for
from tests.conftest import Factory

CTX = AuditContext(ip="198.51.100.7", request_id="req-reading")


async def test_feed_views_equal_the_orm_page_rendered(make: Factory) -> None:
    child = await make.child()
    nurse = await make.practitioner(grants=[child])
    teacher = await make.practitioner(grants=[child])
    made = [
        (await do_create_post(author, child.id, kind, f"note {n}", CTX)).post
        for n, (author, kind) in enumerate(
            [(nurse, "update"), (teacher, "hunch"), (nurse, "concern"), (teacher, "visit")] * 2
        )
    ]
    await do_edit_post(nurse, made[0].id, "update", "note 0, corrected", CTX)

    before = None
    pages = 0
    while True:
        orm = await read_feed(nurse, child.id, CTX, before=before, limit=3)
        views = await read_feed_views(nurse, child.id, CTX, before=before, limit=3)
        assert views.posts == await post_views_for(nurse, orm.posts)
        assert views.next_before == orm.next_before
        pages += 1
        if orm.next_before is None:
            break
        before = orm.next_before
    assert pages == 3
    assert any(view["edited_at"] for view in views.posts)
