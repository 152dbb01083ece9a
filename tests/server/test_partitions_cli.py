"""`jigsaw partitions ensure|list` as an operator runs them, on both databases."""

from __future__ import annotations

from pathlib import Path

from tests import db_backends
from tests.server.test_cli import environment, jigsaw, ok


def test_partitions_ensure_and_list(database_url: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "data", JIGSAW_DATABASE_URL=database_url)
    ensured, listed = ok(jigsaw(env, "partitions", "ensure")), ok(jigsaw(env, "partitions", "list"))
    if db_backends.backend() != "postgres":
        assert ensured.strip() == "SQLite has no partitions: nothing to do."
        assert "No partitioned tables" in listed
        return
    assert ensured.startswith("Created partitions:")  # this month and two ahead, or already there
    assert ok(jigsaw(env, "partitions", "ensure")).strip() == (
        "Created partitions: none (all present)."
    )
    assert "event: " in listed and "and event_default" in listed
    assert "audit_record: " in listed and "and audit_record_default" in listed
