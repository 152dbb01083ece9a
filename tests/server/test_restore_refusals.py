"""`jigsaw backup`/`restore` refuse what would lose or fake data, with a message each:
run as processes on temporary SQLite databases (whatever backend the run uses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.server.test_cli import environment, fails_clearly, jigsaw, ok


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small installation (its first administrator) and one backup of it."""
    root = tmp_path_factory.mktemp("made")
    env = environment(root / "data")
    (root / "password").write_text("a long enough password\n")
    args = ["--email", "admin@example.test", "--name", "Ada", "--agency", "Northgate Council"]
    ok(jigsaw(env, "init", *args, "--password-file", str(root / "password")))
    ok(jigsaw(env, "backup", str(root / "backup")))
    return root / "backup"


@pytest.fixture
def backup(made: Path, tmp_path: Path) -> Path:
    """This test's own copy of the backup, to damage at will."""
    return Path(shutil.copytree(made, tmp_path / "backup"))


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "restored" / "jigsaw.sqlite3"


def restore(backup: Path, target: Path) -> tuple[str, str, int]:
    env = environment(target.parent.parent, JIGSAW_DATABASE_URL=f"sqlite://{target}")
    result = jigsaw(env, "restore", str(backup))
    return result.stdout, result.stderr, result.returncode


def edit_manifest(backup: Path, change: dict[str, object]) -> None:
    path = backup / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, **change}))


def test_an_untouched_backup_restores(backup: Path, target: Path) -> None:
    out, err, code = restore(backup, target)
    assert code == 0, err
    assert "row counts match the manifest" in out
    assert target.stat().st_size == (backup / "jigsaw.sqlite3").stat().st_size


def test_a_damaged_data_file_is_refused_before_anything_is_written(
    backup: Path, target: Path
) -> None:
    data = backup / "jigsaw.sqlite3"
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))
    result = jigsaw(
        environment(target.parent.parent, JIGSAW_DATABASE_URL=f"sqlite://{target}"),
        "restore",
        str(backup),
    )
    fails_clearly(result, "jigsaw.sqlite3 does not match the manifest's SHA-256: it is damaged.")
    assert not target.exists()


def test_rows_that_differ_from_the_manifest_are_refused_and_leave_no_database(
    backup: Path, target: Path
) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    edit_manifest(backup, {"counts": {**manifest["counts"], "professional": 2}})
    _, err, code = restore(backup, target)
    assert code == 1 and "Traceback" not in err
    assert "does not match the backup's manifest; do not use it. professional: 1 rows" in err
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no half-restored file either


def test_a_manifest_naming_an_odd_table_is_refused(backup: Path, target: Path) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    edit_manifest(backup, {"counts": {**manifest["counts"], 'post"; DROP TABLE post; --': 1}})
    _, err, code = restore(backup, target)
    assert code == 1
    assert "Error: The manifest lists a table name that is not a plain identifier." in err


def test_restore_refuses_a_database_file_that_already_exists(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True)
    target.write_bytes(b"something precious")
    _, err, code = restore(backup, target)
    assert code == 1
    assert f"Error: {target} already exists and is not empty" in err
    assert target.read_bytes() == b"something precious"


def test_restore_refuses_a_backup_of_the_other_engine(backup: Path, tmp_path: Path) -> None:
    env = environment(tmp_path, JIGSAW_DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    fails_clearly(
        jigsaw(env, "restore", str(backup)),
        "This is a sqlite backup and JIGSAW_DATABASE_URL is postgres",
    )


def test_restore_needs_a_manifest(tmp_path: Path, target: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, err, code = restore(tmp_path / "empty", target)
    assert code == 1
    assert "Error: No manifest.json in" in err


def test_backup_never_writes_into_a_directory_with_files(made: Path) -> None:
    env = environment(made.parent / "data")
    before = sorted(p.name for p in made.iterdir())
    fails_clearly(
        jigsaw(env, "backup", str(made)), f"{made} already exists and is not an empty directory."
    )
    assert sorted(p.name for p in made.iterdir()) == before


def test_backup_of_a_missing_database_file_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    env = environment(tmp_path, JIGSAW_DATABASE_URL=f"sqlite://{missing}")
    fails_clearly(jigsaw(env, "backup", str(tmp_path / "b")), f"No SQLite database at {missing}.")
    assert not missing.exists()
    assert list((tmp_path / "b").iterdir()) == []
