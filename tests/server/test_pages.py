"""The HTML app, driven like a browser without JavaScript: forms, cookies, redirects."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest

from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import Child, Event, Grant, Post, Professional
from tests.conftest import PASSWORD, Factory, api_login

ORIGIN = {"origin": "http://testserver"}  # what a browser sends with a same-site form post
CTX = AuditContext(ip="127.0.0.1", request_id="test")


# --- helpers ---------------------------------------------------------------------------


def hidden(page: str, name: str) -> str:
    """The value of the first hidden input called `name` in a page."""
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} field in the page"
    return html.unescape(match.group(1))


async def token(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return hidden(page.text, "csrftoken")


async def submit(
    client: httpx.AsyncClient, page_path: str, action: str, **fields: str
) -> httpx.Response:
    """Load `page_path`, then post its CSRF token and `fields` to `action`, as a form."""
    data = {"csrftoken": await token(client, page_path), **fields}
    return await client.post(action, data=data, headers=ORIGIN)


async def log_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    return await submit(client, "/login", "/login", email=email, password=password, next=next_path)


async def logged_in(client: httpx.AsyncClient, person: Professional) -> None:
    response = await log_in(client, person.email)
    assert response.status_code == 303, response.text


async def child_named(name: str, lead: Professional | None = None) -> Child:
    reference = "R-" + re.sub(r"[^A-Z]", "", name.upper())
    return await Child.create(display_name=name, reference=reference, lead_professional=lead)


def session_set_cookie(response: httpx.Response) -> str:
    cookies = [c for c in response.headers.get_list("set-cookie") if "jigsaw_session=" in c]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def assert_page_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().partition(" ")[::2] for part in csp.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives.get("style-src", "")
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/html")


# --- logging in and out ----------------------------------------------------------------


async def test_login_form_has_csrf_field_and_sets_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/login?next=/children/3")
    assert response.status_code == 200
    assert hidden(response.text, "csrftoken")
    assert hidden(response.text, "next") == "/children/3"
    assert "csrftoken" in client.cookies
    assert '<label for="email">' in response.text
    assert '<label for="password">' in response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in response.text
    assert_page_headers(response)


async def test_login_redirects_to_next_with_a_strict_session_cookie(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    response = await log_in(client, person.email.upper(), next_path="/children/7")
    assert response.status_code == 303
    assert response.headers["location"] == "/children/7"
    cookie = session_set_cookie(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    home = await client.get("/")
    assert home.status_code == 200
    assert person.name in home.text


async def test_wrong_password_and_unknown_email_get_the_same_401_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    wrong = await log_in(client, person.email, "not the password")
    unknown = await log_in(client, "nobody@example.test", PASSWORD)
    message = "Email or password is not right."
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert f'<p class="error" role="alert">{message}</p>' in response.text
        assert "jigsaw_session" not in response.headers.get("set-cookie", "")
        assert_page_headers(response)
    assert f'value="{person.email}"' in wrong.text  # the email is kept for a retry
    assert wrong.text.replace(person.email, "") == unknown.text.replace("nobody@example.test", "")


async def test_login_without_csrf_token_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    await client.get("/login")  # has the cookie, but the form field is missing
    response = await client.post(
        "/login", data={"email": person.email, "password": PASSWORD}, headers=ORIGIN
    )
    assert response.status_code == 403
    assert "jigsaw_session" not in response.headers.get("set-cookie", "")
    forged = await client.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrftoken": "forged"},
        headers=ORIGIN,
    )
    assert forged.status_code == 403


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
    ],
)
async def test_login_next_cannot_leave_the_site(
    client: httpx.AsyncClient, make: Factory, target: str
) -> None:
    person = await make.practitioner()
    response = await log_in(client, person.email, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_login_form_does_not_echo_an_off_site_next(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", params={"next": "//evil.example"})
    assert hidden(response.text, "next") == "/"
    assert "evil.example" not in response.text


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/login?next=%2F"),
        ("/children/1?before=40", "/login?next=%2Fchildren%2F1%3Fbefore%3D40"),
    ],
)
async def test_anonymous_pages_redirect_to_login(
    client: httpx.AsyncClient, path: str, location: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_logout_ends_the_session_for_the_old_cookie(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    login = await log_in(client, person.email)
    raw = session_set_cookie(login).split(";")[0].split("=", 1)[1]
    response = await submit(client, "/", "/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "jigsaw_session" not in client.cookies
    client.cookies.set("jigsaw_session", raw)  # an attacker who kept the old cookie
    replayed = await client.get("/")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


# --- the caseload ----------------------------------------------------------------------


async def test_home_lists_exactly_the_children_the_user_may_see(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    team = await make.team(members=[person])
    direct, via_team = await child_named("Amelia Hartwell"), await child_named("Bilal Osei")
    hidden_child, revoked = await child_named("Cora Lindqvist"), await child_named("Dmitri Volkov")
    expired = await child_named("Esme Quarrington")
    await make.grant(direct, professional=person)
    await make.grant(via_team, team=team)
    await make.grant(revoked, professional=person, revoked=True)
    await make.grant(expired, professional=person, expired=True)
    await make.grant(hidden_child, professional=await make.practitioner())
    await logged_in(client, person)
    page = await client.get("/")
    assert page.status_code == 200
    assert "Amelia Hartwell" in page.text
    assert "Bilal Osei" in page.text
    for name in ("Cora Lindqvist", "Dmitri Volkov", "Esme Quarrington"):
        assert name not in page.text
    assert f'href="/children/{direct.id}"' in page.text
    assert f'href="/children/{hidden_child.id}"' not in page.text
    assert ">My children</h2>" in page.text
    assert_page_headers(page)


async def test_home_with_no_children_says_how_to_get_access(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await logged_in(client, await make.practitioner())
    page = await client.get("/")
    assert "no children on your caseload" in page.text


async def test_every_page_header_has_a_search_box(client: httpx.AsyncClient, make: Factory) -> None:
    child = await make.child()
    await logged_in(client, await make.practitioner(grants=[child]))
    for path in ("/", f"/children/{child.id}", "/notifications"):
        page = await client.get(path)
        assert '<form role="search" action="/search" method="get"' in page.text, path


# --- a child's feed --------------------------------------------------------------------


async def test_child_page_shows_posts_newest_first_and_pages_older_ones(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Freya Nakamura")
    person = await make.practitioner(grants=[child])
    for n in range(1, 26):
        await do_create_post(person, child.id, "update", f"Visit note number {n:02d}.", CTX)
    await logged_in(client, person)
    first = await client.get(f"/children/{child.id}")
    assert first.status_code == 200
    assert "<h1>Freya Nakamura" in first.text
    shown = re.findall(r"Visit note number (\d\d)\.", first.text)
    assert shown == [f"{n:02d}" for n in range(25, 5, -1)]
    older = re.search(r'href="(/children/\d+\?before=\d+)"[^>]*>Older posts<', first.text)
    assert older, "no Older posts link on a full page"
    second = await client.get(html.unescape(older.group(1)))
    assert second.status_code == 200
    assert re.findall(r"Visit note number (\d\d)\.", second.text) == ["05", "04", "03", "02", "01"]
    assert "Older posts" not in second.text


async def test_child_page_has_an_accessible_post_form(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Gideon Abara")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    page = await client.get(f"/children/{child.id}")
    assert f'action="/children/{child.id}/posts"' in page.text
    assert hidden(page.text, "idempotency_key")
    assert '<label for="body">' in page.text
    assert '<label for="kind"' in page.text
    for kind in ("update", "hunch", "concern", "visit", "positive"):
        assert f'<option value="{kind}"' in page.text


async def test_posting_through_the_form_adds_to_the_feed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Hana Whitlock")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    path = f"/children/{child.id}"
    page = await client.get(path)
    response = await client.post(
        f"{path}/posts",
        data={
            "csrftoken": hidden(page.text, "csrftoken"),
            "idempotency_key": hidden(page.text, "idempotency_key"),
            "kind": "hunch",
            "body": "Mum seemed very tired at the 10am visit.",
        },
        headers=ORIGIN,
    )
    assert response.status_code == 303
    assert response.headers["location"] == path
    after = await client.get(path)
    assert "Mum seemed very tired at the 10am visit." in after.text
    assert 'class="post kind-hunch"' in after.text
    post = await Post.get(child_id=child.id)
    assert (post.author_id, post.kind) == (person.id, "hunch")


async def test_the_same_idempotency_key_posted_twice_creates_one_post(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Ivo Petrakis")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    path = f"/children/{child.id}"
    page = await client.get(path)
    form = {
        "csrftoken": hidden(page.text, "csrftoken"),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "kind": "update",
        "body": "School says attendance is back to normal.",
    }
    for _ in range(2):
        response = await client.post(f"{path}/posts", data=form, headers=ORIGIN)
        assert response.status_code == 303
    assert await Post.filter(child_id=child.id).count() == 1
    after = await client.get(path)
    assert after.text.count("School says attendance is back to normal.") == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "Write something before posting: the post is empty."),
        (
            "x" * 501,
            "This post is 1 character over the 500-character limit (501 written): "
            "shorten it before posting.",
        ),
        (
            "y" * 600,
            "This post is 100 characters over the 500-character limit (600 written): "
            "shorten it before posting.",
        ),
    ],
)
async def test_an_invalid_post_shows_the_message_and_keeps_the_draft(
    client: httpx.AsyncClient, make: Factory, body: str, message: str
) -> None:
    child = await child_named("Jonah Ferreira")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    response = await submit(
        client, f"/children/{child.id}", f"/children/{child.id}/posts", kind="concern", body=body
    )
    assert response.status_code == 422
    assert f'role="alert">{html.escape(message)}</p>' in response.text
    assert 'aria-describedby="post-error body-count" aria-invalid="true"' in response.text
    textarea = re.search(r"<textarea([^>]*)>([^<]*)</textarea>", response.text)
    assert textarea and textarea.group(2) == body  # the whole draft, never cut to the limit
    assert "maxlength" not in textarea.group(1)
    assert re.search(r'<option value="concern" selected', response.text)
    assert await Post.filter(child_id=child.id).count() == 0
    assert_page_headers(response)


async def test_an_overlong_draft_shows_how_far_over_it_is_without_javascript(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Jonah Ferreira")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    response = await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="update",
        body="z" * 620,
    )
    assert response.status_code == 422
    assert '<p class="char-count muted" id="body-count">620 of 500 characters: 120 over</p>' in (
        response.text
    )
    fresh = await client.get(f"/children/{child.id}")
    assert '<p class="char-count muted" id="body-count">Up to 500 characters</p>' in fresh.text


async def test_line_breaks_from_a_form_count_as_one_character_each(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Jonah Ferreira")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    body = "\r\n".join(["a" * 99] * 5)  # 495 letters and 4 breaks: 499 as the counter says
    response = await submit(
        client, f"/children/{child.id}", f"/children/{child.id}/posts", kind="update", body=body
    )
    assert response.status_code == 303, response.text
    post = await Post.get(child_id=child.id)
    assert post.body == body.replace("\r\n", "\n") and len(post.body) == 499


async def test_an_unknown_post_kind_is_refused(client: httpx.AsyncClient, make: Factory) -> None:
    child = await child_named("Kezia Mbeki")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    response = await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="gossip",
        body="A real note.",
    )
    assert response.status_code == 422
    assert "kind must be one of: update, hunch, concern, visit, positive." in response.text
    assert "A real note." in response.text
    assert await Post.filter(child_id=child.id).count() == 0


async def test_posting_without_csrf_token_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Lorcan Doyle")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    response = await client.post(
        f"/children/{child.id}/posts", data={"kind": "update", "body": "hi"}, headers=ORIGIN
    )
    assert response.status_code == 403
    assert await Post.filter(child_id=child.id).count() == 0


async def test_post_bodies_are_escaped(client: httpx.AsyncClient, make: Factory) -> None:
    child = await child_named("Mirela Constantin")
    person = await make.practitioner(grants=[child])
    await do_create_post(person, child.id, "update", "<script>alert(1)</script>", CTX)
    await logged_in(client, person)
    page = await client.get(f"/children/{child.id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    # No inline scripts at all (CSP forbids them): every script tag loads a file.
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", page.text))
    assert "style=" not in page.text


async def test_a_hidden_child_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    secret = await child_named("Nadia Okonkwo-Reyes")
    await make.grant(secret, professional=await make.practitioner())
    person = await make.practitioner()
    await logged_in(client, person)
    hidden_page = await client.get(f"/children/{secret.id}")
    missing_page = await client.get(f"/children/{secret.id + 1000}")
    for response in (hidden_page, missing_page):
        assert response.status_code == 404
        assert "Nadia" not in response.text
        assert secret.reference not in response.text
        assert "<h1>Not found</h1>" in response.text
        assert_page_headers(response)
    # Identical but for the break-glass form's target, which repeats the id in the URL.
    same = [re.sub(r"/children/\d+/", "/children/ID/", p.text) for p in (hidden_page, missing_page)]
    assert same[0] == same[1]
    posted = await submit(client, "/", f"/children/{secret.id}/posts", kind="update", body="probe")
    assert posted.status_code == 404
    assert "Nadia" not in posted.text
    assert await Post.filter(child_id=secret.id).count() == 0


async def test_error_pages_show_who_is_logged_in(client: httpx.AsyncClient, make: Factory) -> None:
    person = await make.practitioner()
    await person.fetch_related("agency")
    await logged_in(client, person)
    response = await client.get("/children/999999")
    assert response.status_code == 404
    shown = re.search(r'<span class="who">(.*?)</span></span>', response.text)
    assert (
        shown and re.sub(r"<[^>]+>", "", shown.group(0)) == f"{person.name} · {person.agency.name}"
    )
    assert "&lt;Agency" not in response.text


async def test_a_non_numeric_child_id_is_a_404_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await logged_in(client, await make.practitioner())
    response = await client.get("/children/abc")
    assert response.status_code == 404
    assert_page_headers(response)


# --- the team around the child ---------------------------------------------------------


async def test_team_around_the_child_lists_holders_with_agency_and_since(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Orla Brennan")
    person = await make.practitioner(grants=[child], name="Priya Raman", job_title="Midwife")
    team = await make.team()
    await make.grant(child, team=team)
    await make.grant(
        child, professional=await make.practitioner(name="Quentin Revoked"), revoked=True
    )
    await person.fetch_related("agency")
    await team.fetch_related("agency")
    await logged_in(client, person)
    page = await client.get(f"/children/{child.id}")
    section = page.text.split('id="team"', 1)[1]
    today = utcnow().date().isoformat()
    assert "Priya Raman" in section
    assert f"Midwife, {person.agency.name} · since {today}" in section
    assert f"{team.name}</strong> (team)" in section
    assert f"{team.agency.name} · since {today}" in section
    current, past = section.split('class="past-access"', 1)
    assert "Quentin Revoked" not in current
    assert "Quentin Revoked" in past


async def test_a_practitioner_sees_no_grant_form_and_cannot_grant_or_revoke(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Rhys Gallagher")
    person = await make.practitioner(grants=[child])
    other = await make.practitioner()
    their_grant = await Grant.get(child_id=child.id, professional_id=person.id)
    await logged_in(client, person)
    path = f"/children/{child.id}"
    page = await client.get(path)
    assert f'action="{path}/grants"' not in page.text
    assert "/revoke" not in page.text
    granted = await submit(client, path, f"{path}/grants", email=other.email)
    assert granted.status_code == 403
    assert "Only the lead professional or a manager" in granted.text
    assert_page_headers(granted)
    revoked = await submit(client, path, f"/grants/{their_grant.id}/revoke")
    assert revoked.status_code == 403
    assert await Grant.filter(child_id=child.id).count() == 1
    await their_grant.refresh_from_db()
    assert their_grant.revoked_at is None


@pytest.mark.parametrize("who", ["lead", "manager"])
async def test_a_lead_or_manager_grants_by_email_and_team_and_revokes(
    client: httpx.AsyncClient, make: Factory, who: str
) -> None:
    child = await child_named("Saoirse Lindgren")
    if who == "lead":
        boss = await make.practitioner(grants=[child])
        child.lead_professional_id = boss.id
        await child.save(update_fields=["lead_professional_id"])
    else:
        boss = await make.manager_of(child)
    newcomer = await make.practitioner(name="Tomasz Wojcik")
    team = await make.team()
    await logged_in(client, boss)
    path = f"/children/{child.id}"
    page = await client.get(path)
    assert f'action="{path}/grants"' in page.text
    assert '<label for="grant-email">' in page.text

    by_email = await submit(client, path, f"{path}/grants", email=newcomer.email.upper())
    assert by_email.status_code == 303
    assert by_email.headers["location"] == f"{path}#team"
    by_team = await submit(client, path, f"{path}/grants", team_id=str(team.id))
    assert by_team.status_code == 303
    after = await client.get(path)
    assert "Tomasz Wojcik" in after.text
    assert f"{team.name}</strong> (team)" in after.text
    grant = await Grant.get(child_id=child.id, professional_id=newcomer.id)
    assert grant.granted_by_id == boss.id
    assert await Grant.filter(child_id=child.id, team_id=team.id, revoked_at=None).exists()

    revoked = await submit(client, path, f"/grants/{grant.id}/revoke")
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"{path}?revoked={grant.id}#team"
    await grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by_id == boss.id
    final = await client.get(path)
    current = final.text.split('id="team"', 1)[1].split('class="past-access"', 1)[0]
    assert "Tomasz Wojcik" not in current.split('class="team"', 1)[1]


async def test_granting_to_an_unknown_email_shows_an_error(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Ulla Sorensen")
    boss = await make.manager_of(child)
    await logged_in(client, boss)
    path = f"/children/{child.id}"
    response = await submit(client, path, f"{path}/grants", email="ghost@example.test")
    assert response.status_code == 422
    assert '<p class="error" role="alert">Nobody with that email address.</p>' in response.text
    empty = await submit(client, path, f"{path}/grants")
    assert empty.status_code == 422
    assert "Give an email address or choose a team." in empty.text
    past = await submit(
        client,
        path,
        f"{path}/grants",
        email=boss.email,
        expires_on=(utcnow() - timedelta(days=2)).date().isoformat(),
    )
    assert past.status_code == 422
    assert await Grant.filter(child_id=child.id).count() == 1


# --- following, the home stream, "seen" and notifications ------------------------------


def unread_badge(page: str) -> int:
    match = re.search(r'data-unread="(\d+)"', page)
    assert match, "no unread badge in the header"
    return int(match.group(1))


async def test_following_a_child_puts_its_posts_on_the_home_stream(
    client: httpx.AsyncClient, make: Factory
) -> None:
    followed, other = await child_named("Ada Okafor"), await child_named("Ben Marsh")
    person = await make.practitioner(grants=[followed, other])
    await do_create_post(person, followed.id, "update", "walked to school with nan", CTX)
    await do_create_post(person, other.id, "update", "quiet week at nursery", CTX)
    await logged_in(client, person)
    assert "walked to school" not in (await client.get("/")).text
    path = f"/children/{followed.id}"
    response = await submit(client, path, f"{path}/follow")
    assert response.status_code == 303
    assert "Unfollow" in (await client.get(path)).text
    home = await client.get("/")
    assert "walked to school with nan" in home.text
    assert "quiet week at nursery" not in home.text
    assert f'data-following="{followed.id}"' in home.text
    await submit(client, path, f"{path}/unfollow")
    assert "walked to school" not in (await client.get("/")).text


async def test_home_stream_is_newest_first_across_children(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first, second = await child_named("Cal Reyes"), await child_named("Dee Patel")
    person = await make.practitioner(grants=[first, second])
    for child in (first, second):
        await submit_follow(client, person, child)
    await do_create_post(person, first.id, "update", "older note", CTX)
    await do_create_post(person, second.id, "update", "newer note", CTX)
    home = (await client.get("/")).text
    assert home.index("newer note") < home.index("older note")
    assert "Dee Patel</a>" in home  # a mixed stream names the child of each post


async def submit_follow(client: httpx.AsyncClient, person: Professional, child: Child) -> None:
    if "jigsaw_session" not in client.cookies:
        await logged_in(client, person)
    path = f"/children/{child.id}"
    assert (await submit(client, path, f"{path}/follow")).status_code == 303


async def test_seen_button_on_a_hunch_notifies_the_author(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Eli Novak")
    author = await make.practitioner(grants=[child])
    reader = await make.practitioner(grants=[child])
    hunch = (await do_create_post(author, child.id, "hunch", "new adult at home?", CTX)).post
    await do_create_post(author, child.id, "update", "ordinary update", CTX)
    await logged_in(client, reader)
    path = f"/children/{child.id}"
    page = (await client.get(path)).text
    assert page.count('class="inline ack-form"') == 1  # hunches and concerns only
    response = await submit(client, path, f"/posts/{hunch.id}/acknowledge", next=path)
    assert response.status_code == 303
    assert response.headers["location"] == f"{path}#post-{hunch.id}"
    assert "Seen by 1" in (await client.get(path)).text
    client.cookies.clear()
    await logged_in(client, author)
    inbox = await client.get("/notifications")
    assert "Your post was marked seen" in inbox.text
    assert unread_badge(inbox.text) == 1


async def test_mentions_show_in_the_inbox_with_mark_read_and_mark_all_read(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Fay Holm")
    author = await make.practitioner(grants=[child])
    me = await make.practitioner(grants=[child], handle="sam.jones")
    for n in range(3):
        await do_create_post(author, child.id, "update", f"@sam.jones see note {n}", CTX)
    await logged_in(client, me)
    assert unread_badge((await client.get("/")).text) == 3
    inbox = await client.get("/notifications")
    assert inbox.text.count("mentioned you") == 3
    assert "Fay Holm</a>" in inbox.text
    first = re.search(r'action="/notifications/(\d+)/read"', inbox.text)
    assert first
    await submit(client, "/notifications", f"/notifications/{first.group(1)}/read")
    assert unread_badge((await client.get(f"/children/{child.id}")).text) == 2
    await submit(client, "/notifications", "/notifications/read-all")
    after = await client.get("/notifications")
    assert unread_badge(after.text) == 0
    assert "Mark all read" not in after.text


async def test_pages_carry_what_the_live_script_needs(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Gus Lund")
    person = await make.practitioner(grants=[child])
    await do_create_post(person, child.id, "update", "first", CTX)
    posted = await Event.filter(type="post.created").order_by("-id").first()
    assert posted
    await logged_in(client, person)
    page = (await client.get(f"/children/{child.id}")).text
    # The latest event when the page was drawn: the post's, or a later velocity update.
    latest = await Event.all().order_by("-id").first()
    shown = re.search(r'data-last-event-id="(\d+)"', page)
    assert shown and latest and posted.id <= int(shown.group(1)) <= latest.id
    assert f'data-live-feed="child" data-child-id="{child.id}"' in page
    assert '<meta name="csrf-token" content="' in page
    assert re.search(r'<script type="module" src="[^"]*/static/js/live\.js">', page)
    older = await client.get(f"/children/{child.id}?before=999999")
    assert "data-live-feed" not in older.text  # an older page does not grow live


async def test_the_service_worker_is_served_from_the_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["content-type"].startswith("text/javascript")


async def test_the_child_page_title_is_the_childs_name_only(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Found in review: the page's script tags had slipped into its <title> block."""
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    page = (await client.get(f"/children/{child.id}")).text
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == f"{child.display_name} · Jigsaw"
