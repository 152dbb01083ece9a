"""From zero to the first post: the walk-through in docs/operations.md, run command by
command as processes on a temporary SQLite database, then checked through the API."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from server.cli import main as jigsaw_cli
from tests.server.test_cli import environment, fails_clearly, jigsaw

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
MARKER = "<!-- walk-through: tests/server/test_first_run.py"
PASSWORD = "a long enough password"
ADMIN = "ada.admin@northgate.example"
LEAD = "sam.lead@northgate.example"
REFERENCE = "NG-000001"

NOT_RUN = {"serve"}  # the test serves the app in-process instead

# Signs in (one client per person: a login's cookies would need a CSRF token next time),
# then makes each call; prints [status, json] per call.
PROBE = """
import asyncio, json, sys
import httpx
from server.app import create_app
from server.settings import load_settings

async def main(email, password, calls):
    app = create_app(load_settings())
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.post("/api/v1/auth/login", json={"email": email, "password": password})
            results.append([r.status_code, r.json()])
            c.headers["x-csrftoken"] = r.json().get("csrf_token", "")
            for method, path, body in calls:
                r = await c.request(method, path, json=body)
                results.append([r.status_code, r.json()])
    print(json.dumps(results))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
"""


def walk_through() -> list[list[str]]:
    """The `jigsaw` command lines of the documented walk-through, in order."""
    text = DOCS.read_text()
    assert MARKER in text, "the walk-through lost its marker in docs/operations.md"
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER) :], re.S)
    assert block is not None
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [words for words in lines if words and words[0] == "jigsaw"]


def run_typed(env: dict[str, str], args: list[str], typed: str) -> subprocess.CompletedProcess[str]:
    """A command fed `typed` on stdin, in its own session: with no terminal to open,
    the password prompts read stdin as a pipe."""
    return subprocess.run(
        [sys.executable, "-c", "from server.cli import main; main(prog_name='jigsaw')", *args],
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,
    )


def signed_in(env: dict[str, str], email: str, *calls: tuple[str, str, Any]) -> list[Any]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, email, PASSWORD, json.dumps(calls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: list[Any] = json.loads(result.stdout)
    return answer


def run_walk_through(env: dict[str, str]) -> None:
    for words in walk_through():
        command = words[1]
        if command in NOT_RUN:
            continue
        assert command in jigsaw_cli.commands, f"`jigsaw {command}` does not exist"
        typed = f"{PASSWORD}\n{PASSWORD}\n"  # every password prompt asks twice
        result = run_typed(env, words[1:], typed)
        assert result.returncode == 0, f"{shlex.join(words)}: {result.stderr}"
        assert "Traceback" not in result.stderr


def test_the_documented_walk_through_gets_the_lead_to_the_first_post(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    run_walk_through(env)

    [login, children] = signed_in(env, LEAD, ("GET", "/api/v1/children", None))
    assert login[0] == 200, login
    [child_id] = [c["id"] for c in children[1]["children"] if c["reference"] == REFERENCE]
    feed = f"/api/v1/children/{child_id}/posts"
    first = {"kind": "visit", "body": "Home visit: Jamie settled, nursery place agreed."}
    _, empty, posted, read = signed_in(
        env, LEAD, ("GET", feed, None), ("POST", feed, first), ("GET", feed, None)
    )
    assert empty == [200, {"posts": [], "next_before": None}]
    assert posted[0] == 201, posted
    assert [p["body"] for p in read[1]["posts"]] == [first["body"]]


def test_init_asks_twice_and_the_first_admin_can_sign_in(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    args = ["init", "--email", "Ada@Example.test", "--name", "Ada", "--agency", "Northgate"]
    result = run_typed(env, args, f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert "Created the first administrator, ada@example.test." in result.stdout
    assert "jigsaw create-agency --name NAME --sector SECTOR" in result.stdout  # next steps
    [login, audit] = signed_in(env, "ada@example.test", ("GET", "/api/v1/audit", None))
    assert login[0] == 200 and login[1]["me"]["role"] == "admin", login
    assert audit[0] == 200, audit
    created = [r for r in audit[1]["records"] if r["action"] == "account.create"]
    assert [r["actor_email"] for r in created] == ["ada@example.test"]


def test_init_refuses_mismatched_passwords(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    args = ["init", "--email", "ada@example.test", "--name", "Ada", "--agency", "Northgate"]
    result = run_typed(env, args, f"{PASSWORD}\nsomething else entirely\n")
    assert result.returncode != 0
    assert "The two entered values do not match." in result.stderr + result.stdout
    assert "Created" not in result.stdout


def test_init_refuses_once_an_admin_exists_without_asking_for_a_password(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path / "data")
    (tmp_path / "password").write_text(PASSWORD + "\n")
    first = ["--email", "ada@example.test", "--name", "Ada", "--agency", "Northgate"]
    assert (
        jigsaw(env, "init", *first, "--password-file", str(tmp_path / "password")).returncode == 0
    )
    again = ["--email", "eve@example.test", "--name", "Eve", "--agency", "Elsewhere"]
    fails_clearly(
        jigsaw(env, "init", *again),  # no password file and no stdin: it must not prompt
        "An administrator already exists: init only sets up a new installation.",
    )


def test_the_next_steps_init_prints_name_real_commands_and_options() -> None:
    """Found in review: the printed next steps named options the commands do not take."""
    from server.cli import NEXT_STEPS

    for line in NEXT_STEPS.splitlines():
        words = line.split()
        if not words or words[0] != "jigsaw":
            continue
        command = jigsaw_cli.commands[words[1]]
        if isinstance(command, click.Group):  # jigsaw import children|people
            command = command.commands[words[2]]
        known = {name for param in command.params for name in param.opts}
        used = {word.split("=")[0] for word in words[2:] if word.startswith("--")}
        assert used <= known, f"{line.strip()}: {sorted(used - known)}"
        needed = {p.opts[0] for p in command.params if isinstance(p, click.Option) and p.required}
        assert needed <= used, f"{line.strip()}: missing {sorted(needed - used)}"
