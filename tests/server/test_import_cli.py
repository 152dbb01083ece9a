"""`jigsaw import children|people FILE.csv`: dry runs, idempotent re-imports, refused rows
with their line numbers, bad files, and the audit, through click's CliRunner against the
test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from feeds.accounts.passwords import verify_password
from feeds.models import AuditRecord, Child, ChildRevision, Grant, Professional, Team, TeamMember
from tests.server.test_cli_setup import PASSWORD, ok, query, shell  # noqa: F401 - fixture

Shell = Callable[..., Result]
REASON = "Moving the caseload over from the old case system"
ADMIN = "admin@example.test"
CHILDREN = (
    "reference,display_name,date_of_birth,lead_email,school,team\n"
    "NG-1,Leah Marsh,2016-03-09,lead@example.test,Northgate Primary,Children in need\n"
    'NG-2,"Tom O\'Neill, jr",2014-11-30,lead@example.test,,\n'
    "NG-3,Ava Reid,2019-06-01,lead@example.test,Hill Nursery,\n"
)


@pytest.fixture
def organisation(shell: Shell) -> Shell:  # noqa: F811 - the fixture above
    ok(shell("create-agency", "--name", "Northgate Council", "--sector", "social_care"))
    ok(shell("create-team", "--name", "Children in need", "--agency", "Northgate Council"))
    for email, role in ((ADMIN, "admin"), ("lead@example.test", "practitioner")):
        ok(
            shell(
                "create-user",
                *("--email", email, "--name", email.split("@")[0].title(), "--role", role),
                *("--agency", "Northgate Council", "--password", PASSWORD),
            )
        )
    return shell


def write(tmp_path: Path, text: str | bytes, name: str = "file.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def run_import(shell: Shell, kind: str, path: str, *extra: str) -> Result:  # noqa: F811
    return shell("import", kind, path, "--by", ADMIN, "--reason", REASON, *extra)


def test_a_dry_run_reports_and_changes_nothing_then_the_import_creates_with_grants(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    path = write(tmp_path, CHILDREN)
    dry = ok(run_import(organisation, "children", path, "--dry-run"))
    assert "3 created, 0 changed, 0 unchanged, 0 refused" in dry and "nothing was changed" in dry
    assert query(database_url, lambda: Child.all().count()) == 0
    done = ok(run_import(organisation, "children", path))
    assert "Children: 3 created" in done and "Imported file.csv" in done

    async def check() -> None:
        leah = await Child.get(reference="NG-1")
        assert (leah.display_name, leah.school) == ("Leah Marsh", "Northgate Primary")
        assert (await Child.get(reference="NG-2")).display_name == "Tom O'Neill, jr"
        lead = await Professional.get(email="lead@example.test")
        team = await Team.get(name="Children in need")
        holders = await Grant.filter(child_id=leah.id).values_list("professional_id", "team_id")
        assert set(holders) == {(lead.id, None), (None, team.id)}
        assert await Grant.filter(professional_id=lead.id).count() == 3
        summary = await AuditRecord.filter(action="import.children").order_by("id")
        assert [s.detail["applied"] for s in summary] == [False, True]  # the dry run, then this
        assert summary[1].detail["reason"] == REASON and summary[1].actor_email == ADMIN
        per_child = await AuditRecord.filter(action="child.import", child_id=leah.id)
        assert len(per_child) == 1 and per_child[0].detail["reason"] == REASON
        assert per_child[0].detail["import_id"] == summary[1].id

    query(database_url, check)


def test_importing_a_newer_export_updates_and_keeps_the_old_values(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    ok(run_import(organisation, "children", write(tmp_path, CHILDREN)))
    newer = CHILDREN.replace("Northgate Primary", "Hillside Academy").replace("NG-3", "ng-3")
    newer += "NG-4,Isla Brown,2020-01-02,lead@example.test,,\n"
    out = ok(run_import(organisation, "children", write(tmp_path, newer, "newer.csv")))
    assert "1 created, 2 changed, 1 unchanged, 0 refused" in out
    assert "line 2: NG-1: changes school" in out and "line 4: ng-3: changes reference" in out

    async def check() -> None:
        assert await Child.all().count() == 4
        leah = await Child.get(reference="NG-1")
        assert leah.school == "Hillside Academy"
        revision = await ChildRevision.get(child_id=leah.id)
        assert (revision.change, revision.school) == ("import", "Northgate Primary")
        assert await Grant.filter(child_id=leah.id).count() == 2  # no second grant

    query(database_url, check)
    again = ok(run_import(organisation, "children", write(tmp_path, newer, "newer.csv")))
    assert "0 created, 0 changed, 4 unchanged" in again


def test_a_bad_row_imports_nothing_and_names_its_line(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    bad = CHILDREN + (
        "NG-5,,2016-01-01,lead@example.test,,\n"
        "NG-6,Max Cole,31/01/2016,nobody@example.test,,No such team\n"
        "ng-1,Leah again,2016-03-09,admin@example.test,,\n"
    )
    result = run_import(organisation, "children", write(tmp_path, bad))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 5: NG-5: refused: display_name is required." in result.output
    assert "line 6: NG-6: refused:" in result.output
    for reason in ("YYYY-MM-DD", "no active professional has the email nobody@", "no team"):
        assert reason in result.output, reason
    assert "is also on line 2" in result.output and "administrator cannot be" in result.output
    assert "3 created, 0 changed, 0 unchanged, 3 refused" in result.output
    assert "Nothing was imported" in result.output
    assert query(database_url, lambda: Child.all().count()) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a CSV file"),
        ("reference;name\nNG-1;Leah\n".encode("utf-16"), "not a CSV file"),
        ("référence\n".encode("latin-1"), "not UTF-8"),
        (b"", "The file is empty"),
        (b"reference,display_name,date_of_birth\nNG-1,A,2016-01-01\n", "Missing column: lead_"),
        (CHILDREN.replace("school", "colour").encode(), "Unknown column: colour"),
        (b'reference,display_name,date_of_birth,lead_email\n"NG-1,A', "not valid CSV"),
    ],
)
def test_a_bad_file_is_refused_whole_with_a_message(
    organisation: Shell, tmp_path: Path, content: bytes, message: str
) -> None:
    result = run_import(organisation, "children", write(tmp_path, content))
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_file_too_big_and_a_missing_reason_or_administrator_are_refused(
    organisation: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.cli_import.MAX_FILE_BYTES", 100)
    big = run_import(organisation, "children", write(tmp_path, CHILDREN))
    assert big.exit_code == 1 and "too big" in big.output
    monkeypatch.undo()
    path = write(tmp_path, CHILDREN)
    short = organisation("import", "children", path, "--by", ADMIN, "--reason", "because")
    assert short.exit_code == 1 and "Give a reason" in short.output
    lead = organisation("import", "children", path, "--by", "lead@example.test", "--reason", REASON)
    assert lead.exit_code == 1 and "not an active administrator" in lead.output


PEOPLE = (
    "email,name,agency,role,job_title,teams,manages,handle\n"
    "Sam.Patel@Example.test,Sam Patel,Northgate Council,manager,Team manager,,"
    "Children in need,\n"
    "jo@example.test,Jo Lee,northgate council,,Social worker,Children in need,,\n"
    "ali@example.test,Ali Khan,Northgate Council,,,,,akhan\n"
)


def test_people_are_imported_without_a_usable_password_and_updated_by_email(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    out = ok(run_import(organisation, "people", write(tmp_path, PEOPLE)))
    assert "People: 3 created" in out
    newer = PEOPLE.replace("Social worker", "Senior social worker").replace(",,,,akhan", ",,,,ak")
    again = ok(run_import(organisation, "people", write(tmp_path, newer, "newer.csv")))
    assert "0 created, 2 changed, 1 unchanged" in again

    async def check() -> None:
        sam = await Professional.get(email="sam.patel@example.test")
        assert (sam.role, sam.handle, sam.job_title) == ("manager", "sam.patel", "Team manager")
        assert not verify_password(sam.password_hash, "") and sam.password_hash.startswith("!")
        team = await Team.get(name="Children in need")
        members = await TeamMember.filter(team_id=team.id).values_list(
            "professional__email", "is_manager"
        )
        assert set(members) == {("sam.patel@example.test", True), ("jo@example.test", False)}
        jo = await Professional.get(email="jo@example.test")
        assert jo.job_title == "Senior social worker"
        assert (await Professional.get(email="ali@example.test")).handle == "ak"
        rows = await AuditRecord.filter(action="person.import").order_by("id")
        assert len(rows) == 5 and rows[-1].detail["before"] == {"handle": "akhan"}

    query(database_url, check)


def test_a_refused_person_row_imports_nobody(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    bad = PEOPLE + "not-an-email,Nobody,Nowhere Trust,boss,,Lost team,,\n"
    bad += "jo@example.test,Jo Again,Northgate Council,,,,,akhan\n"
    result = run_import(organisation, "people", write(tmp_path, bad))
    assert result.exit_code == 1
    line5 = "line 5: not-an-email: refused: email: not-an-email is not an email address."
    assert line5 in result.output
    for reason in ("no agency called Nowhere Trust", "role must be one of", "no team called"):
        assert reason in result.output, reason
    assert "line 6: jo@example.test: refused: email jo@example.test is also on line 3" in (
        result.output
    )
    assert query(database_url, lambda: Professional.all().count()) == 2
