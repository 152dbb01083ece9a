"""The capacity goal is Jigsaw's throughput against the bare app's "running the same SQL":
the bare baseline must send PostgreSQL exactly the statements Jigsaw sends for a feed read
and for posts (a plain one and a worry, which reassesses the child's worry episode), and
answer with the same JSON (the feed's posts with their authors, times and worry shares).

Runs loadtests.same_sql in a subprocess: it drives both apps in one process of its own,
with asyncpg's statements recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loadtests.same_sql import MARK
from tests.db_backends import postgres_only

pytestmark = postgres_only("the bare app runs on PostgreSQL only: it runs in the PostgreSQL pass")
ROOT = Path(__file__).resolve().parents[2]


def test_bare_app_sends_the_statements_and_answers_jigsaw_sends() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.same_sql"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert MARK in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.split(MARK, 1)[1])
    assert set(found) == {"feed", "post update", "post hunch"}
    for request, pair in found.items():
        assert pair["jigsaw"]["statements"] == pair["bare"]["statements"], request
        assert pair["jigsaw"]["status"] == pair["bare"]["status"], request
        assert pair["jigsaw"]["answer"] == pair["bare"]["answer"], request
    # What makes the work equal: a token look-up, the access check, the audit append...
    for pair in found.values():
        assert "FROM api_token t" in pair["bare"]["statements"][0]
        assert any("INSERT INTO audit_record" in sql for sql in pair["bare"]["statements"])
    # ...and the statements a worry adds (its episode re-read under the child's lock).
    hunch, update = found["post hunch"]["bare"], found["post update"]["bare"]
    assert len(hunch["statements"]) > len(update["statements"])
    # The answers are whole: every post with its author, and the shared worry's share.
    posts = found["feed"]["bare"]["answer"]["posts"]
    assert len(posts) == 20 and all(post["author"]["agency"] for post in posts)
    assert found["feed"]["bare"]["answer"]["next_before"] == posts[-1]["id"]
    shared = [post["worry"] for post in posts if post.get("worry", {}).get("count")]
    assert shared and shared[0]["shared_by"][0]["note"] == "Same here."
    assert hunch["answer"]["body"] == "Something is off at home."
    assert hunch["answer"]["author"]["name"] == "Person 3"
    assert done.returncode == 0
