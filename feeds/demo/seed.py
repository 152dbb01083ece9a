"""Realistic fictional demo data: agencies, people, children, grants and 90 days of posts.

Everything is planned in memory from one ``random.Random(seed)`` (so a seed and a
``now`` always give the same data) and then written with bulk inserts. The password
is hashed once: argon2 is slow on purpose, and forty hashes would dominate the run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from feeds.access.policy import visible_child_ids
from feeds.accounts.passwords import hash_password
from feeds.audit.records import AuditContext
from feeds.demo import text as text
from feeds.demo.chronology import seed_significance
from feeds.demo.households import link_demo_households
from feeds.demo.my_day import seed_my_day
from feeds.demo.shielded import shield_demo_child
from feeds.demo.worries import seed_shared_worries
from feeds.feed.posting import MAX_BODY
from feeds.models import (
    Agency,
    Child,
    Grant,
    Post,
    PostKind,
    PostRevision,
    Professional,
    Role,
    Team,
    TeamMember,
)
from feeds.network.involvement import backfill_entries
from feeds.network.requests import do_request_access
from feeds.search_queue import do_queue_posts_for_search
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity.tallies import rebuild_days

Progress = Callable[[str, int, int], None]

DAYS = 90
CHILDREN = 80
POST_BATCH = 500
RECENT_BURSTS = 6
PAST_BURSTS = 2
TEAM_PREFIX = "team:"
MANAGER = "manager@demo.jigsaw.test"
PRACTITIONER = "practitioner@demo.jigsaw.test"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str  # "admin" | "manager" | "practitioner"
    description: str


@dataclass(frozen=True)
class DemoSummary:
    logins: list[DemoLogin]
    agencies: int
    teams: int
    professionals: int
    children: int
    grants: int
    posts: int


@dataclass
class _Kid:
    reference: str
    first: str
    surname: str
    dob: date
    context: dict[str, str]  # sibling, mum, partner, school, gp: fills the templates
    rate: float = 0.5  # expected posts on a weekday
    lead: str = ""
    burst: bool = False


@dataclass
class _Grant:
    child: int
    holder: str  # a professional's email, or TEAM_PREFIX + team key
    created: datetime
    granted_by: str | None
    expires: datetime | None = None
    revoked: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        ends = [end for end in (self.expires, self.revoked) if end is not None]
        return self.created <= at and all(at < end for end in ends)


@dataclass
class _Post:
    child: int
    author: str
    kind: PostKind
    body: str
    at: datetime


@dataclass
class _Plan:
    people: list[text.PersonSpec]
    kids: list[_Kid] = field(default_factory=list)
    grants: list[_Grant] = field(default_factory=list)
    posts: list[_Post] = field(default_factory=list)
    families: list[list[str]] = field(default_factory=list)  # references of siblings


async def database_is_empty() -> bool:
    """True when no professional exists yet (a fresh, migrated database)."""
    return not await Professional.exists()


async def seed_demo(
    password: str = "jigsaw-demo",  # noqa: S107 - a published demo password, by design
    *,
    now: datetime | None = None,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill an empty, migrated database with fictional but realistic data.

    Deterministic for a seed and a `now`; the password is the same for every login.
    """
    if not await database_is_empty():
        raise RuntimeError("seed_demo needs an empty database: professionals already exist")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    plan = _Planner(random.Random(seed), moment).plan()
    password_hash = hash_password(password)
    async with in_transaction():
        await _insert(plan, password_hash, moment, progress or (lambda *_: None))
    await _ask_to_join()
    await seed_my_day(moment)  # a few posts new since the practitioner's last visit
    # What the sweep would do in its first minute: the board and the team pages show
    # the agencies gone quiet as soon as the demo opens.
    children = [int(row["id"]) for row in await Child.all().values("id")]
    await do_recompute_silence(children, moment)
    await seed_shared_worries(moment)
    await link_demo_households(plan.families, PRACTITIONER)
    await shield_demo_child(PRACTITIONER)  # its team sees "Shielded child"
    await seed_significance(seed)  # the chronology's significant events
    await _correct_a_post(moment)
    return _summary(plan, moment)


# The demo shows a request to join waiting for a decision: the school's safeguarding lead
# asks to join a child the demo practitioner leads and the school does not yet see.
ASKER, LEAD = "teacher@demo.jigsaw.test", "practitioner@demo.jigsaw.test"


async def _ask_to_join() -> None:
    asker = await Professional.get(email=ASKER)
    lead = await Professional.get(email=LEAD)
    seen = await visible_child_ids(asker)
    led = await Child.filter(lead_professional_id=lead.id).order_by("id").values("reference", "id")
    unseen = [row["reference"] for row in led if row["id"] not in seen]
    if unseen:
        why = "Starting in Year 4 at Northgate Primary next week; I am the school's DSL."
        ctx = AuditContext(request_id="demo")
        await do_request_access(asker, unseen[0], "designated safeguarding lead", why, ctx)


# The demo shows an edited post: the demo practitioner's newest post, corrected an hour
# after it was written, its first wording kept as a revision (posts/{id}/history).
CORRECTION = " Correction: it was the Tuesday visit, not Monday."


async def _correct_a_post(now: datetime) -> None:
    author = await Professional.get(email=LEAD)
    post = await Post.filter(author_id=author.id).order_by("-created_at", "-id").first()
    if post is None or len(post.body + CORRECTION) > MAX_BODY:
        return
    await PostRevision.create(post=post, kind=post.kind, body=post.body, replaced_by=author)
    post.body += CORRECTION
    post.edited_at = min(now, post.created_at + timedelta(hours=1))
    await post.save(update_fields=["body", "edited_at"])


class _Planner:
    """Decides everything in memory; owns the one random generator."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.plan_ = _Plan(people=text.roster(rng))
        self.by_email = {p.email: p for p in self.plan_.people}

    def plan(self) -> _Plan:
        families = self._families()
        self.plan_.kids = [kid for family in families for kid in family]
        self.plan_.families = [[kid.reference for kid in family] for family in families]
        self._assign_leads()
        for index, kid in enumerate(self.plan_.kids):
            self._plan_grants(index, kid)
        self._plan_team_grants()
        self._end_some_grants()
        self._plan_posts()
        self._plan_quiet_school()
        return self.plan_

    # People and children -------------------------------------------------------------

    def _staff(self, job_title: str) -> list[str]:
        return [p.email for p in self.plan_.people if p.job_title == job_title]

    def _families(self) -> list[list[_Kid]]:
        families: list[list[_Kid]] = []
        references = self.rng.sample(range(100, 999_999), CHILDREN)
        while (made := sum(map(len, families))) < CHILDREN:
            size = min(self.rng.choice((1, 1, 1, 2, 2, 3)), CHILDREN - made)
            families.append(self._family(size, references[made : made + size]))
        return families

    def _family(self, size: int, references: Sequence[int]) -> list[_Kid]:
        rng = self.rng
        surname = rng.choice(text.SURNAMES)
        firsts = rng.sample(text.CHILD_FIRST, size + 1)  # one extra: a sibling not on Jigsaw
        shared = {
            "mum": rng.choice(text.WOMEN),
            "partner": rng.choice(text.MEN),
            "gp": rng.choice(text.GP_SURGERIES),
        }
        kids = []
        for number, first in zip(references, firsts[:size], strict=True):
            dob = self.now.date() - timedelta(days=rng.randint(20, 17 * 365 + 300))
            sibling = next(name for name in firsts if name != first)
            context = {
                **shared,
                "sibling": sibling,
                "school": rng.choice(text.schools_for(_age(dob, self.now))),
            }
            kids.append(_Kid(f"JS-{number:06d}", first, surname, dob, context))
            kids[-1].rate = rng.uniform(0.35, 0.7) if rng.random() < 0.8 else rng.uniform(1, 2)
        return kids

    def _assign_leads(self) -> None:
        social_workers = [e for e in self._staff("Social worker") if e != PRACTITIONER]
        leads = [PRACTITIONER] * 10 + [MANAGER] * 3
        leads += self._staff("Family support worker") * 2
        while len(leads) < CHILDREN:
            leads.append(social_workers[len(leads) % len(social_workers)])
        self.rng.shuffle(leads)
        for kid, lead in zip(self.plan_.kids, leads, strict=True):
            kid.lead = lead
        mine = [k for k in self.plan_.kids if k.lead == PRACTITIONER]
        others = [k for k in self.plan_.kids if k.lead != PRACTITIONER]
        for kid in self.rng.sample(mine, 2) + self.rng.sample(others, RECENT_BURSTS - 2):
            kid.burst, kid.rate = True, self.rng.uniform(0.25, 0.45)

    # Grants ----------------------------------------------------------------------------

    def _days_ago(self, low: int, high: int) -> datetime:
        minutes = self.rng.randint(8 * 60, 17 * 60)
        day = self.now.date() - timedelta(days=self.rng.randint(low, high))
        return datetime.combine(day, time(), UTC) + timedelta(minutes=minutes)

    def _grant(self, index: int, holder: str, *, granted_by: str | None = None) -> _Grant:
        kid = self.plan_.kids[index]
        joined_late = not kid.burst and self.rng.random() < 0.25
        created = self._days_ago(5, 80) if joined_late else self._days_ago(95, 300)
        grant = _Grant(index, holder, created, granted_by or kid.lead)
        if self.rng.random() < 0.15:
            grant.expires = self.now + timedelta(days=self.rng.randint(30, 120))
        self.plan_.grants.append(grant)
        return grant

    def _plan_grants(self, index: int, kid: _Kid) -> None:
        lead = self.by_email[kid.lead]
        manager = text.manager_of(self.plan_.people, lead.team)
        lead_grant = self._grant(index, kid.lead, granted_by=manager)
        lead_grant.created, lead_grant.expires = self._days_ago(100, 400), None
        for holder in self._team_around(kid):
            self._grant(index, holder)
        if (self.now.date() - kid.dob).days < 120:
            self._midwife_grant(index, kid)

    def _team_around(self, kid: _Kid) -> list[str]:
        rng, age = self.rng, (self.now.date() - kid.dob).days / 365.25
        chosen: list[str] = []
        if age < 5:
            visitors = self._staff("Health visitor")  # healthvisitor@ is first, and busiest
            chosen.append(visitors[0] if rng.random() < 0.45 else rng.choice(visitors[1:]))
        elif kid.burst or rng.random() < 0.6:
            chosen.append(rng.choice(self._staff("School nurse")))
        odds = {"GP": 0.35, "PC, public protection unit": 0.25, "Family support worker": 0.35}
        for job, chance in odds.items():
            if kid.burst or rng.random() < chance:
                chosen.append(rng.choice(self._staff(job)))
        dsl = text.dsl_for(self.plan_.people, kid.context["school"])
        if dsl and (kid.burst or rng.random() < 0.9):
            chosen.append(dsl)
        return [email for email in dict.fromkeys(chosen) if email != kid.lead]

    def _midwife_grant(self, index: int, kid: _Kid) -> None:
        grant = self._grant(index, self.rng.choice(self._staff("Community midwife")))
        born = datetime.combine(kid.dob, time(10), UTC)
        grant.created = born - timedelta(days=120)
        grant.expires = born + timedelta(days=28)  # handed over to health visiting

    def _plan_team_grants(self) -> None:
        kids = self.plan_.kids
        assessment = [i for i, k in enumerate(kids) if self.by_email[k.lead].team == "assessment"]
        covered = [i for i in assessment if kids[i].lead == MANAGER]
        others = [i for i in assessment if kids[i].lead not in (MANAGER, PRACTITIONER)]
        covered += self.rng.sample(others, 2)  # duty cases the whole team keeps an eye on
        # The manager supervises the worried-about cases of the demo practitioner, so the
        # demo board opens with children drawing unusual attention.
        covered += [i for i in assessment if kids[i].lead == PRACTITIONER and kids[i].burst]
        for index in sorted(covered):
            self._grant(index, TEAM_PREFIX + "assessment", granted_by=MANAGER)
        for index in [i for i, k in enumerate(kids) if k.burst][:4]:
            self._grant(index, TEAM_PREFIX + "ppu")

    def _end_some_grants(self) -> None:
        """A few grants were revoked and a few expired: the record shows both."""
        candidates = [
            g
            for g in self.plan_.grants
            if g.holder != self.plan_.kids[g.child].lead
            and not self.plan_.kids[g.child].burst
            and not g.holder.startswith(TEAM_PREFIX)
            and g.expires is None
        ]
        for number, grant in enumerate(self.rng.sample(candidates, 8)):
            end = max(grant.created + timedelta(days=3), self._days_ago(3, 40))
            if number % 2:
                grant.expires = end
            else:
                grant.revoked = end

    # Posts -----------------------------------------------------------------------------

    def _authors_at(self, index: int, at: datetime) -> dict[str, float]:
        """Who could post on this child at this moment, with how likely each one is to."""
        weights: dict[str, float] = {}
        for grant in self.plan_.grants:
            if grant.child != index or not grant.active_at(at):
                continue
            if grant.holder.startswith(TEAM_PREFIX):
                team = grant.holder.removeprefix(TEAM_PREFIX)
                for person in [p for p in self.plan_.people if p.team == team]:
                    weights.setdefault(person.email, 0.3)
            else:
                weights[grant.holder] = 3.0 if grant.holder == self.plan_.kids[index].lead else 1.0
        return weights

    def _plan_posts(self) -> None:
        for index, kid in enumerate(self.plan_.kids):
            for offset in range(DAYS, -1, -1):
                self._quiet_day(index, kid, self.now.date() - timedelta(days=offset))
            if kid.burst:
                self._burst(index, kid, 0, self.rng.randint(2, 5))
        quiet = [i for i, k in enumerate(self.plan_.kids) if not k.burst]
        for index in self.rng.sample(quiet, PAST_BURSTS):
            self._burst(index, self.plan_.kids[index], self.rng.randint(30, 60), 3)
        self.plan_.posts.sort(key=lambda post: post.at)

    def _plan_quiet_school(self) -> None:
        """One of the demo practitioner's children: its school posted every Wednesday for
        ten weeks, then nothing for over three weeks, so its team shows the school gone
        quiet (feeds/silence). Last, and without the random generator: the rest stays."""
        kids, today = self.plan_.kids, self.now.date()
        school = [
            g
            for g in self.plan_.grants
            if not g.holder.startswith(TEAM_PREFIX)
            and self.by_email[g.holder].agency == "schools"
            and kids[g.child].lead == PRACTITIONER
            and not kids[g.child].burst
            and g.created < self.now - timedelta(days=DAYS)
            and g.expires is None
            and g.revoked is None
        ]
        if not school:
            return
        grant, last = school[0], today - timedelta(days=22)
        last -= timedelta(days=(last.weekday() - 2) % 7)  # a Wednesday, 22-28 days ago
        kid = kids[grant.child]
        self.plan_.posts = [
            p
            for p in self.plan_.posts
            if p.child != grant.child or self.by_email[p.author].agency != "schools"
        ]
        values = {**kid.context, "child": kid.first, "day": "Wednesday", "time": "3.45"}
        notes = text.TEMPLATES["school"][PostKind.UPDATE]
        for week in range(10):
            at = datetime.combine(last - timedelta(weeks=week), time(15, 40), UTC)
            body = notes[week % len(notes)].format(**values, appt=text.APPOINTMENTS[0])
            self.plan_.posts.append(_Post(grant.child, grant.holder, PostKind.UPDATE, body, at))
        self.plan_.posts.sort(key=lambda post: post.at)

    def _at(self, day: date) -> datetime:
        start, end = (8 * 60, 18 * 60) if day.weekday() < 5 else (10 * 60, 17 * 60)
        minutes = self.rng.randint(start, end) + self.rng.random()
        return datetime.combine(day, time(), UTC) + timedelta(minutes=minutes)

    def _quiet_day(self, index: int, kid: _Kid, day: date) -> None:
        rate = kid.rate if day.weekday() < 5 else kid.rate * 0.12
        for _ in range(_poisson(self.rng, rate)):
            at = self._at(day)
            authors = self._authors_at(index, at)
            if not authors or not self.now - timedelta(days=DAYS) <= at < self.now:
                continue
            author = self.rng.choices(list(authors), weights=list(authors.values()))[0]
            voice = self.by_email[author].voice
            kind = self.rng.choices(list(PostKind), weights=text.KIND_WEIGHTS[voice])[0]
            body = self._body(self.rng.choice(text.TEMPLATES[voice][kind]), kid)
            self.plan_.posts.append(_Post(index, author, kind, body, at))

    def _burst(self, index: int, kid: _Kid, end_offset: int, days: int) -> None:
        """Several agencies noticing something about one child within a few days."""
        start = self.now.date() - timedelta(days=end_offset + days - 1)
        turn = 0  # rotates through agencies so each day hears from several
        for day in [start + timedelta(days=d) for d in range(days)]:
            for _ in range(self.rng.randint(3, 5)):
                at = self._at(day)
                by_agency = self._by_agency(self._authors_at(index, at))
                if at >= self.now or not by_agency:
                    continue
                agency = sorted(by_agency)[turn % len(by_agency)]
                turn += 1
                self._burst_post(index, kid, self.rng.choice(by_agency[agency]), at)

    def _by_agency(self, authors: dict[str, float]) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for email in authors:
            grouped.setdefault(self.by_email[email].agency, []).append(email)
        return grouped

    def _burst_post(self, index: int, kid: _Kid, author: str, at: datetime) -> None:
        voice = self.by_email[author].voice
        kind = self.rng.choices(list(PostKind), weights=(10, 30, 50, 10, 0))[0]
        pool = text.BURST[voice] if kind != PostKind.VISIT else text.TEMPLATES[voice][kind]
        body = self._body(self.rng.choice(pool), kid)
        self.plan_.posts.append(_Post(index, author, kind, body, at))

    def _body(self, template: str, kid: _Kid) -> str:
        if self.rng.random() < 0.2:
            template += self.rng.choice(text.TAILS)
        values = {
            **kid.context,
            "child": kid.first,
            "day": self.rng.choice(text.DAYS),
            "time": self.rng.choice(text.TIMES),
            "appt": self.rng.choice(text.APPOINTMENTS),
        }
        return template.format(**values)[:500]


def _age(dob: date, now: datetime) -> int:
    return (now.date() - dob).days // 365


def _poisson(rng: random.Random, rate: float) -> int:
    threshold, count, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


# Writing ---------------------------------------------------------------------------------


async def _insert(plan: _Plan, password_hash: str, now: datetime, progress: Progress) -> None:
    agencies = await _insert_agencies()
    people = await _insert_people(plan.people, agencies, password_hash, now)
    progress("people", len(people), len(people))
    teams = await _insert_teams(plan.people, agencies, people)
    children = await _insert_children(plan.kids, people, plan.grants)
    progress("children", len(children), len(children))
    await Grant.bulk_create(
        [_grant_row(g, children, people, teams) for g in plan.grants], batch_size=POST_BATCH
    )
    progress("grants", len(plan.grants), len(plan.grants))
    await _insert_posts(plan.posts, children, people, progress)
    await backfill_entries()  # the agencies around each child, as the feed shows them


async def _ids(model: type[Agency | Professional | Team | Child], key: str) -> dict[str, int]:
    rows: list[tuple[Any, Any]] = await model.all().values_list(key, "id")
    return {str(value): int(pk) for value, pk in rows}


async def _insert_agencies() -> dict[str, int]:
    await Agency.bulk_create([Agency(name=a.name, sector=a.sector) for a in text.AGENCIES])
    by_name = await _ids(Agency, "name")
    return {a.key: by_name[a.name] for a in text.AGENCIES}


async def _insert_people(
    people: list[text.PersonSpec], agencies: dict[str, int], password_hash: str, now: datetime
) -> dict[str, int]:
    joined = now - timedelta(days=400)
    rows = [
        Professional(
            email=p.email,
            name=p.name,
            handle=p.email.split("@")[0],
            job_title=p.job_title,
            work_phone=f"01632 960{n:03d}",  # Ofcom's range for drama: never a real line
            work_email=text.work_email(p.name, p.agency),
            agency_id=agencies[p.agency],
            role=p.role,
            password_hash=password_hash,
            created_at=joined,
        )
        for n, p in enumerate(people)
    ]
    await Professional.bulk_create(rows)
    return await _ids(Professional, "email")


async def _insert_teams(
    people: list[text.PersonSpec], agencies: dict[str, int], ids: dict[str, int]
) -> dict[str, int]:
    await Team.bulk_create([Team(name=t.name, agency_id=agencies[t.agency]) for t in text.TEAMS])
    by_name = await _ids(Team, "name")
    teams = {t.key: by_name[t.name] for t in text.TEAMS}
    members = [
        TeamMember(team_id=teams[p.team], professional_id=ids[p.email], is_manager=p.is_manager)
        for p in people
        if p.team
    ]
    await TeamMember.bulk_create(members)
    return teams


async def _insert_children(
    kids: list[_Kid], people: dict[str, int], grants: list[_Grant]
) -> list[int]:
    opened: dict[int, datetime] = {}
    for grant in grants:  # a child's record opens with its earliest grant
        opened[grant.child] = min(grant.created, opened.get(grant.child, grant.created))
    rows = [
        Child(
            display_name=f"{k.first} {k.surname}",
            date_of_birth=k.dob,
            reference=k.reference,
            lead_professional_id=people[k.lead],
            created_at=opened[i],
            school=k.context["school"],
            area=text.AREA_OF_SURGERY[k.context["gp"]],
        )
        for i, k in enumerate(kids)
    ]
    await Child.bulk_create(rows)
    by_reference = await _ids(Child, "reference")
    return [by_reference[k.reference] for k in kids]


def _grant_row(
    grant: _Grant, children: list[int], people: dict[str, int], teams: dict[str, int]
) -> Grant:
    is_team = grant.holder.startswith(TEAM_PREFIX)
    revoker = grant.granted_by if grant.revoked else None
    return Grant(
        child_id=children[grant.child],
        professional_id=None if is_team else people[grant.holder],
        team_id=teams[grant.holder.removeprefix(TEAM_PREFIX)] if is_team else None,
        granted_by_id=people[grant.granted_by] if grant.granted_by else None,
        created_at=grant.created,
        expires_at=grant.expires,
        revoked_at=grant.revoked,
        revoked_by_id=people[revoker] if revoker else None,
    )


async def _insert_posts(
    posts: list[_Post], children: list[int], people: dict[str, int], progress: Progress
) -> None:
    for start in range(0, len(posts), POST_BATCH):
        batch = posts[start : start + POST_BATCH]
        rows = [
            Post(
                child_id=children[p.child],
                author_id=people[p.author],
                kind=p.kind,
                body=p.body,
                created_at=p.at,
            )
            for p in batch
        ]
        await Post.bulk_create(rows)
        progress("posts", start + len(batch), len(posts))
    # Bulk-loaded posts bypass posting's per-post tally and outbox row: count their days
    # once, and queue their search indexing (drained by search/, like any post's).
    await rebuild_days(children)
    await do_queue_posts_for_search(children)


# Summary ---------------------------------------------------------------------------------


def _summary(plan: _Plan, now: datetime) -> DemoSummary:
    logins = [_login(plan, spec, now) for spec in text.LOGINS]
    return DemoSummary(
        logins=logins,
        agencies=len(text.AGENCIES),
        teams=len(text.TEAMS),
        professionals=len(plan.people),
        children=len(plan.kids),
        grants=len(plan.grants),
        posts=len(plan.posts),
    )


def _login(plan: _Plan, spec: text.PersonSpec, now: datetime) -> DemoLogin:
    title = spec.job_title if spec.job_title[:2].isupper() else spec.job_title.lower()
    if spec.is_manager:
        title += f" of {text.team_name(spec.team)}"
    if spec.role == Role.ADMIN:
        return DemoLogin(spec.email, spec.role.value, f"{title}; sees no children's records")
    direct = _caseload(plan, {spec.email}, now)
    through_team = _caseload(plan, {TEAM_PREFIX + (spec.team or "")}, now) - direct
    detail = f"caseload of {len(direct)} children"
    if through_team:
        detail += f", {len(through_team)} more through the {text.team_name(spec.team)}"
    where = text.agency(spec.agency).name
    return DemoLogin(spec.email, spec.role.value, f"{title}, {where}; {detail}")


def _caseload(plan: _Plan, holders: set[str], now: datetime) -> set[int]:
    """Children these grant holders (emails or team keys) can see now."""
    return {g.child for g in plan.grants if g.holder in holders and g.active_at(now)}
