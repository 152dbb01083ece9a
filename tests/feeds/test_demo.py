"""The demo data: realistic enough to show the product, and never breaking its own rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette

from feeds.access import identity
from feeds.access.policy import visible_child_ids
from feeds.accounts.passwords import verify_password
from feeds.audit.records import SYSTEM, AuditContext
from feeds.chronology.models import Significance
from feeds.clock import utcnow
from feeds.demo.seed import CORRECTION, DemoSummary, database_is_empty, seed_demo
from feeds.models import (
    Agency,
    Child,
    ChildVisit,
    Follow,
    Grant,
    Notification,
    Post,
    PostKind,
    PostRevision,
    Professional,
    Role,
    Sector,
    SilenceState,
    Team,
    TeamMember,
)
from feeds.network.models import (
    AccessRequest,
    ChildEvent,
    Household,
    HouseholdMember,
    WorryEpisode,
    WorryShare,
)
from feeds.network.team import team_picture
from feeds.velocity.hotspots import NOT_RECORDED, read_hotspots

PASSWORD = "correct horse battery staple"
NOW = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
MANDATORY = {
    "admin@demo.jigsaw.test": Role.ADMIN,
    "manager@demo.jigsaw.test": Role.MANAGER,
    "practitioner@demo.jigsaw.test": Role.PRACTITIONER,
    "healthvisitor@demo.jigsaw.test": Role.PRACTITIONER,
    "teacher@demo.jigsaw.test": Role.PRACTITIONER,
}


@pytest.fixture
async def demo(app: Starlette) -> DemoSummary:
    """The test database (SQLite or PostgreSQL) seeded with the real clock."""
    return await seed_demo(PASSWORD)


def active(grant: Grant, at: datetime) -> bool:
    ends = [end for end in (grant.expires_at, grant.revoked_at) if end is not None]
    return grant.created_at <= at and all(at < end for end in ends)


async def visible_children(email: str, at: datetime) -> set[int]:
    """Children a professional may see at `at`, directly or through a team."""
    person = await Professional.get(email=email)
    teams = await TeamMember.filter(professional=person).values_list("team_id", flat=True)
    direct = await Grant.filter(professional=person)
    via_team = await Grant.filter(team_id__in=list(teams))
    return {g.child_id for g in [*direct, *via_team] if active(g, at)}


async def test_counts_meet_the_minimums(demo: DemoSummary) -> None:
    sectors = {agency.sector for agency in await Agency.all()}
    assert sectors == set(Sector)
    assert await Agency.all().count() == demo.agencies >= 5
    assert await Professional.all().count() == demo.professionals >= 30
    assert await Child.all().count() == demo.children == 80
    assert await Grant.all().count() == demo.grants
    assert await Post.all().count() == demo.posts
    assert 3_000 <= demo.posts <= 6_000
    assert await Child.filter(lead_professional_id=None).count() == 0


async def test_every_team_has_a_manager(demo: DemoSummary) -> None:
    teams = await Team.all()
    assert len(teams) == demo.teams >= 3
    for team in teams:
        assert await TeamMember.filter(team=team, is_manager=True).exists(), team.name


async def test_some_grants_expired_some_revoked_some_to_teams(demo: DemoSummary) -> None:
    now = datetime.now(UTC)
    assert await Grant.filter(expires_at__lt=now).count() >= 3
    assert await Grant.filter(revoked_at__isnull=False, revoked_by_id__isnull=False).count() >= 3
    assert await Grant.filter(team_id__isnull=False).count() >= 3


async def test_mandatory_logins_have_their_role_and_the_password(demo: DemoSummary) -> None:
    assert {login.email: login.role for login in demo.logins} == MANDATORY
    for email, role in MANDATORY.items():
        person = await Professional.get(email=email)
        assert person.role == role
        assert verify_password(person.password_hash, PASSWORD)
    assert all(login.description for login in demo.logins)


async def test_generated_people_have_agency_emails(demo: DemoSummary) -> None:
    emails = [str(e) for e in await Professional.all().values_list("email", flat=True)]
    others = [e for e in emails if e not in MANDATORY]
    assert all(e.endswith(".demo.jigsaw.test") and "." in e.split("@")[0] for e in others)


async def test_admin_has_no_access_to_any_child(demo: DemoSummary) -> None:
    admin = await Professional.get(email="admin@demo.jigsaw.test")
    assert not await Grant.filter(professional=admin).exists()
    assert not await TeamMember.filter(professional=admin).exists()
    assert not await Child.filter(lead_professional=admin).exists()


async def test_manager_leads_children_and_their_team_has_a_grant(demo: DemoSummary) -> None:
    manager = await Professional.get(email="manager@demo.jigsaw.test")
    membership = await TeamMember.get(professional=manager)
    assert membership.is_manager
    assert await Grant.filter(team_id=membership.team_id).count() >= 3
    assert await Child.filter(lead_professional=manager).count() >= 1


async def test_every_author_had_a_grant_when_posting(demo: DemoSummary) -> None:
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, person_id in await TeamMember.all().values_list("team_id", "professional_id"):
        members[team_id].add(person_id)
    grants: dict[int, list[Grant]] = defaultdict(list)
    for grant in await Grant.all():
        grants[grant.child_id].append(grant)
    for post in await Post.all():
        holders = [
            g
            for g in grants[post.child_id]
            if active(g, post.created_at)
            and (g.professional_id == post.author_id or post.author_id in members[g.team_id or 0])
        ]
        assert holders, f"post {post.id} by {post.author_id} without a grant"


async def test_posts_are_short_past_and_spread_over_ninety_days(demo: DemoSummary) -> None:
    now = datetime.now(UTC)
    posts = await Post.all()
    assert all(p.created_at.tzinfo is not None and p.created_at <= now for p in posts)
    assert all(0 < len(p.body) <= 500 for p in posts)
    # created_at is set explicitly; auto_now_add must keep it rather than stamp "now".
    assert min(p.created_at for p in posts) < now - timedelta(days=80)
    assert {p.kind for p in posts} == set(PostKind)
    weekday = sum(1 for p in posts if p.created_at.weekday() < 5)
    assert weekday > 0.85 * len(posts)


async def test_several_children_have_a_recent_multi_agency_burst(demo: DemoSummary) -> None:
    since = datetime.now(UTC) - timedelta(days=5)
    agency_of = dict(await Professional.all().values_list("id", "agency_id"))
    worried: dict[int, list[int]] = defaultdict(list)
    kinds = [PostKind.HUNCH, PostKind.CONCERN]
    for post in await Post.filter(created_at__gte=since, kind__in=kinds):
        worried[post.child_id].append(agency_of[post.author_id])
    bursts = {c for c, agencies in worried.items() if len(agencies) >= 3 <= len(set(agencies))}
    assert len(bursts) >= 3
    assert bursts & await visible_children("practitioner@demo.jigsaw.test", datetime.now(UTC))


async def test_practitioner_and_health_visitor_caseloads_overlap_but_differ(
    demo: DemoSummary,
) -> None:
    now = datetime.now(UTC)
    social = await visible_children("practitioner@demo.jigsaw.test", now)
    health = await visible_children("healthvisitor@demo.jigsaw.test", now)
    teacher = await visible_children("teacher@demo.jigsaw.test", now)
    assert 10 <= len(social) <= 20
    assert health and teacher
    assert social != health and social != teacher
    assert social & (health | teacher)


async def test_refuses_to_seed_twice(demo: DemoSummary) -> None:
    assert not await database_is_empty()
    with pytest.raises(RuntimeError):
        await seed_demo(PASSWORD)


async def wipe() -> None:
    """Empty the tables the seeder fills, children before parents."""
    await ChildEvent.all().delete()  # the agencies around each child (feeds/network)
    await HouseholdMember.all().delete()  # the demo's households
    await Household.all().delete()
    await AccessRequest.all().delete()  # the request to join the demo shows
    await Notification.all().delete()  # ...and the notifications it sent
    await WorryEpisode.all().delete()  # the shared worries it shows
    await WorryShare.all().delete()
    await Significance.all().delete()  # the chronology's significant posts
    await PostRevision.all().delete()  # the corrected post's first wording
    await ChildVisit.all().delete()  # last visits (feeds/demo/my_day.py)
    await Follow.all().delete()  # ...and the team follow
    for model in (Post, Grant, TeamMember, Child, Team, Professional, Agency):
        await model.all().delete()


async def seed_fresh(progress: list[tuple[str, int, int]]) -> list[str]:
    await wipe()
    assert await database_is_empty()
    await seed_demo(PASSWORD, now=NOW, seed=3, progress=lambda *a: progress.append(a))
    bodies = await Post.all().order_by("id").values_list("body", flat=True)
    return [str(body) for body in bodies]


async def test_same_seed_gives_the_same_posts(app: Starlette) -> None:
    first: list[tuple[str, int, int]] = []
    bodies = await seed_fresh(first)
    assert bodies == await seed_fresh([])
    stage, done, total = first[-1]
    assert (stage, done, total) == ("posts", len(bodies), len(bodies))
    assert sum(1 for s, _, _ in first if s == "posts") >= len(bodies) // 500


async def test_every_demo_post_is_queued_for_search(demo: DemoSummary) -> None:
    """The bulk insert bypasses posting's outbox row: the seeder queues them all itself."""
    from feeds.models import SearchOutbox

    queued = await SearchOutbox.filter(op="index").values_list("post_id", flat=True)
    posts = await Post.all().values_list("id", flat=True)
    assert sorted(queued) == sorted(posts) and len(posts) == demo.posts


async def test_the_demo_feeds_show_the_agencies_around_each_child(demo: DemoSummary) -> None:
    """Written in bulk, the demo records its agencies' arrivals itself (quietly)."""
    from feeds.models import Notification

    around = {
        (child_id, agency_id)
        for child_id, agency_id in await Post.all().values_list("child_id", "author__agency_id")
    }
    recorded = set(await ChildEvent.all().values_list("child_id", "agency_id"))
    assert around and around <= recorded
    assert not await Notification.filter(kind="agency_involved").exists()


async def test_the_demo_has_a_request_to_join_waiting_for_its_lead(app: Starlette) -> None:
    """Every feature can be seen in the demo: a request to join waits for a decision."""
    await seed_demo(now=NOW)
    waiting = await AccessRequest.all().prefetch_related("requester", "child__lead_professional")
    assert len(waiting) == 1
    assert waiting[0].requester.email == "teacher@demo.jigsaw.test"
    assert waiting[0].child is not None
    lead = waiting[0].child.lead_professional
    assert lead is not None
    assert lead.email == "practitioner@demo.jigsaw.test"


async def test_the_demo_managers_hotspots_show_schools_and_areas(demo: DemoSummary) -> None:
    """Every feature can be seen in the demo: hotspots by school and by area have worries."""
    manager = await Professional.get(email="manager@demo.jigsaw.test")
    ctx = AuditContext(ip="127.0.0.1", request_id="demo")
    by_school = await read_hotspots(manager, "school", ctx)
    by_area = await read_hotspots(manager, "area", ctx)
    assert len(by_school.rows) >= 3 and NOT_RECORDED not in [r.label for r in by_school.rows]
    assert len(by_area.rows) >= 2 and all(row.worries > 0 for row in by_area.rows)


async def test_demo_people_have_fictional_work_contacts(demo: DemoSummary) -> None:
    people = await Professional.all()
    assert all(p.work_phone.startswith("01632 960") for p in people)  # Ofcom's drama range
    assert len({p.work_phone for p in people}) == len(people)
    assert all(p.work_email.endswith(".example.org") for p in people)


async def test_a_demo_child_of_the_practitioner_shows_its_school_gone_quiet(
    demo: DemoSummary,
) -> None:
    practitioner = await Professional.get(email="practitioner@demo.jigsaw.test")
    mine = await Child.filter(lead_professional=practitioner).values_list("id", flat=True)
    quiet = await SilenceState.filter(child_id__in=list(mine), flagged=True)
    assert quiet, "none of the demo practitioner's children shows an agency gone quiet"
    pictures = [await team_picture(practitioner, state.child_id) for state in quiet]
    gone = [a for picture in pictures for a in picture.agencies if a.gone_quiet]
    school = next(a for a in gone if a.name == "Northgate Learning Trust")
    assert "posted about every 7 days" in school.quiet_reason
    assert school.holders and school.holders[0].people[0].work_email.endswith(".example.org")


async def test_the_demo_shows_an_open_shared_worry_to_its_lead_and_manager(app: Starlette) -> None:
    """Shared worries: at least one child has an open episode, whose prompt reached the demo
    practitioner (its lead) and the demo manager, and which the manager's board shows."""
    from feeds.network.worry_episodes import PROMPT, open_episodes

    now = utcnow()
    await seed_demo(now=now)
    assert await WorryShare.all().count() >= 2
    episodes = await WorryEpisode.filter(closed_at__isnull=True).values("child_id")
    assert await open_episodes({int(row["child_id"]) for row in episodes}, now)
    for email in ("practitioner@demo.jigsaw.test", "manager@demo.jigsaw.test"):
        told = await Notification.filter(recipient__email=email, kind=PROMPT).count()
        assert told >= 1, email


async def test_households_include_one_the_practitioner_sees_only_part_of(
    demo: DemoSummary,
) -> None:
    members = await HouseholdMember.all().values("household_id", "child_id")
    households: dict[int, set[int]] = defaultdict(set)
    for row in members:
        households[row["household_id"]].add(row["child_id"])
    assert 2 <= len(households) <= 3
    assert all(len(children) >= 2 for children in households.values())
    seen = await visible_children("practitioner@demo.jigsaw.test", datetime.now(UTC))
    assert any(0 < len(seen & kids) < len(kids) for kids in households.values())
    entries = await ChildEvent.filter(kind="household_joined").count()
    assert entries == len(members)


async def test_the_demo_chronologies_have_significant_events(demo: DemoSummary) -> None:
    """Some hunches and concerns are marked significant by the child's lead, with notes."""
    marked = await Significance.all().values("post_id", "child_id", "changed_by_id", "action_taken")
    assert len(marked) >= 10
    posts = {
        p["id"]: p
        for p in await Post.filter(id__in=[m["post_id"] for m in marked]).values(
            "id", "kind", "child_id"
        )
    }
    leads = dict(await Child.all().values_list("id", "lead_professional_id"))
    for mark in marked:
        assert posts[mark["post_id"]]["kind"] in {PostKind.HUNCH, PostKind.CONCERN}
        assert posts[mark["post_id"]]["child_id"] == mark["child_id"]
        assert mark["changed_by_id"] == leads[mark["child_id"]]
        assert mark["action_taken"]


async def test_the_demo_has_an_edited_post_with_its_first_wording(demo: DemoSummary) -> None:
    """Every feature can be seen in the demo: "(edited)" opens an earlier wording."""
    (revision,) = await PostRevision.all().prefetch_related("post__author")
    assert revision.post.author.email == "practitioner@demo.jigsaw.test"
    assert revision.post.edited_at is not None
    assert revision.post.body == revision.body + CORRECTION


async def test_the_practitioner_has_a_few_new_posts_and_a_team_follows_a_child(
    demo: DemoSummary,
) -> None:
    from feeds.feed.following import home_stream
    from feeds.feed.visits import my_children

    practitioner = await Professional.get(email="practitioner@demo.jigsaw.test")
    mine = await my_children(practitioner)
    assert mine and any(child.new_posts for child in mine)
    assert all(child.last_visit_at is not None for child in mine if child.last_post_at)
    follows = await Follow.filter(team_id__isnull=False)
    assert len(follows) == 1
    managers = await TeamMember.filter(team_id=follows[0].team_id, is_manager=True)
    manager = await Professional.get(id=managers[0].professional_id)
    assert [p.child_id for p in await home_stream(manager, SYSTEM, limit=1)] == [
        follows[0].child_id
    ]


async def test_one_demo_child_is_shielded_named_to_its_lead_not_to_the_manager(
    demo: DemoSummary,
) -> None:
    shielded = await Child.filter(shielded_at__isnull=False)
    assert len(shielded) == 1
    child = shielded[0]
    lead = await Professional.get(email="practitioner@demo.jigsaw.test")
    manager = await Professional.get(email="manager@demo.jigsaw.test")
    assert child.lead_professional_id == lead.id and child.shield_reason
    assert (await identity.seen_child(lead, child)).display_name == child.display_name
    assert (await identity.seen_child(manager, child)).display_name == identity.label(child.id)
    assert child.id in await visible_child_ids(manager)  # the manager sees it, as a label
