"""Locust scenarios of a working day, against Jigsaw or the bare baseline (LOAD_TARGET).

Two mixes (LOAD_MIX):
- capacity: practitioners only, reading feeds and posting with idempotency keys, no think
  time, signed in by their seeded tokens: the same requests for Jigsaw and for the bare
  target, which runs the same SQL without the framework (loadtests/bare_app.py);
- day (Jigsaw): practitioners also read caseloads and search, signing in with passwords;
  followers hold a websocket and report post-to-screen delay as "WS post delivery";
  managers watch the board and compare periods.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import websocket  # websocket-client: gevent-friendly under locust's monkey-patching
from locust import User, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.seed import PASSWORD, caseload, load_token

TARGET = os.environ.get("LOAD_TARGET", "jigsaw")
PROFESSIONALS = int(os.environ.get("LOAD_PROFESSIONALS", "200"))
CHILDREN = int(os.environ.get("LOAD_CHILDREN", "2000"))
MANAGERS = max(1, PROFESSIONALS // 50)
# LOAD_THINK=0 saturates the server (capacity runs); the default mimics people.
THINK = float(os.environ.get("LOAD_THINK", "1"))
# "capacity": only what the bare app also serves (the ratio runs); "day": everyone.
MIX = os.environ.get("LOAD_MIX", "day")
DAY = TARGET == "jigsaw" and MIX == "day"
# Measure the day from when everyone has signed in (loadtests/run.py sets it for the full
# profile): every user's argon2 login (deliberately slow) falls in the first seconds of
# the run and holds the 2-core box for most of ten, a burst no real morning has.
AFTER_SIGN_IN = DAY and os.environ.get("LOAD_DAY_AFTER_SIGN_IN") == "1"
_SIGNED_IN = [0]


def signed_in(user: User) -> None:
    """One more user has signed in; after the last, the statistics start again (the sign-in
    times, printed first, are reported on their own)."""
    _SIGNED_IN[0] += 1
    options = user.environment.parsed_options
    if not AFTER_SIGN_IN or options is None or _SIGNED_IN[0] != options.num_users:
        return
    logins = user.environment.stats.get("token", "POST")
    print(
        f"signed in: {logins.num_requests} logins over HTTP, median"
        f" {logins.median_response_time} ms, slowest {logins.max_response_time:.0f} ms;"
        " the day's statistics start now",
        flush=True,
    )
    user.environment.stats.reset_all()


# The people signed in during a run. Caseloads are contiguous blocks (loadtests/seed.py),
# so followers only see posts when they share people with the posters: drawing both from
# one small pool makes the delivery metric sample real posts.
ACTIVE = min(PROFESSIONALS - MANAGERS, 40)


def pick_practitioner() -> int:
    return random.randrange(MANAGERS, MANAGERS + ACTIVE)


def bearer(client: Any, email: str) -> dict[str, str]:
    """Log in once (argon2: deliberately slow) and return the token header."""
    response = client.post(
        "/api/v1/auth/tokens",
        json={"email": email, "password": PASSWORD, "name": "load"},
        name="token",
    )
    return {"authorization": f"Bearer {response.json()['token']}"}


class Practitioner(FastHttpUser):
    """Frontline practitioner: caseload, feeds, short posts (and search now and then)."""

    wait_time = between(0.5 * THINK, 2.0 * THINK)
    weight = 3

    def on_start(self) -> None:
        self.person = pick_practitioner()
        self.children = list(caseload(self.person, CHILDREN, MANAGERS))
        if DAY:
            self.headers = bearer(self.client, f"p{self.person}@load.test")
            signed_in(self)
        else:  # capacity: no argon2 logins in the window, the same header for both targets
            self.headers = {"authorization": f"Bearer {load_token(self.person)}"}

    @task(1)
    def caseload(self) -> None:
        if DAY:
            self.client.get("/api/v1/children", headers=self.headers, name="caseload")

    @task(6)
    def read_feed(self) -> None:
        child = random.choice(self.children)
        self.client.get(
            f"/api/v1/children/{child}/posts?limit=20", headers=self.headers, name="feed"
        )

    @task(1)
    def search(self) -> None:
        if DAY:
            word = random.choice(["home", "school", "visit", "calm"])
            self.client.get(f"/api/v1/search?q={word}", headers=self.headers, name="search")

    @task(2)
    def post(self) -> None:
        child = random.choice(self.children)
        body = {
            "kind": random.choice(["update", "hunch", "visit"]),
            "body": f"Visited at {time.strftime('%H:%M')}, all calm.",
        }
        headers = {**self.headers, "idempotency-key": uuid.uuid4().hex}
        self.client.post(f"/api/v1/children/{child}/posts", json=body, headers=headers, name="post")


class Manager(FastHttpUser):
    """Team manager: watches the board (2,000 children each at full scale), now and then
    compares the last four weeks with the four before."""

    weight = 1 if DAY else 0
    wait_time = between(0.5 * THINK, 2.0 * THINK)

    def on_start(self) -> None:
        self.headers = bearer(self.client, f"m{random.randrange(MANAGERS)}@load.test")
        signed_in(self)

    @task(4)
    def board(self) -> None:
        self.client.get("/api/v1/board", headers=self.headers, name="board")

    @task(1)
    def compare(self) -> None:
        since = (datetime.now(UTC).date() - timedelta(days=27)).isoformat()
        self.client.get(f"/api/v1/board?from={since}", headers=self.headers, name="board compare")


class Follower(User):
    """A team member with the home stream open: measures post-to-screen delay."""

    weight = 1 if DAY else 0
    wait_time = constant(0)  # always in recv: a sleeping follower would add its sleep

    def on_start(self) -> None:
        person = pick_practitioner()
        token = self._token(person)
        host = (self.host or "").replace("http://", "ws://")
        # A saturated server may take seconds to answer the handshake; reads then poll.
        self.socket = websocket.create_connection(
            f"{host}/ws", header=[f"Authorization: Bearer {token}"], timeout=30
        )
        self.socket.settimeout(1)
        signed_in(self)

    def _token(self, person: int) -> str:
        import requests

        response = requests.post(
            f"{self.host}/api/v1/auth/tokens",
            json={"email": f"p{person}@load.test", "password": PASSWORD, "name": "ws"},
            timeout=30,
        )
        token: str = response.json()["token"]
        return token

    @task
    def listen(self) -> None:
        try:
            message: dict[str, Any] = json.loads(self.socket.recv())
        except websocket.WebSocketTimeoutException:
            return
        if message.get("type") != "post.created":
            return
        created = datetime.fromisoformat(message["data"]["created_at"]).timestamp()
        events.request.fire(  # type: ignore[no-untyped-call]  # locust's hook is untyped
            request_type="WS",
            name="post delivery",
            response_time=(time.time() - created) * 1000,
            response_length=0,
            exception=None,
            context={},
        )

    def on_stop(self) -> None:
        self.socket.close()
