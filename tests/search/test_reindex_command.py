"""`jigsaw reindex`, run as a user runs it: a real process on a temporary SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import MFA_KEY


def jigsaw(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "JIGSAW_DATA_DIR": str(tmp_path),
        "JIGSAW_DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}",
        "JIGSAW_SECRET_KEY": "reindex-test-secret-0123456789abcdef",
        "JIGSAW_MFA_KEYS": MFA_KEY,
    }
    env.pop("JIGSAW_MEILI_URL", None)
    command = [sys.executable, "-c", "from server.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_reindex_rebuilds_the_index_of_the_demo_posts(tmp_path: Path) -> None:
    assert jigsaw(tmp_path, "demo").returncode == 0
    done = jigsaw(tmp_path, "reindex")
    assert done.returncode == 0, done.stderr
    assert "Indexed" in done.stdout and "(sqlite)" in done.stdout
