"""raw_sql builds the instances the ORM would (from_row), and runs statements on a held
connection as the ORM would (same rows, same counts, same exceptions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from feeds import raw_sql
from feeds.clock import utcnow
from feeds.models import Agency, Child, Post, Professional
from feeds.raw_sql import one_connection
from tests.conftest import Factory


def _state(instance: Model) -> dict[str, object]:
    return dict(vars(instance))


async def _orm_and_fast(model: type[Model], alias: str, row_id: int) -> tuple[Model, Model]:
    table, columns = model._meta.db_table, raw_sql.columns(model, alias)
    sql = f'SELECT {columns} FROM "{table}" {alias} WHERE {alias}.id = $1'  # noqa: S608
    row = (await raw_sql.fetch(sql, row_id))[0]
    names = raw_sql.column_names(model)
    orm = model._init_from_db(**dict(zip(names, tuple(row), strict=True)))
    return orm, raw_sql.from_row(model, row)


async def test_from_row_builds_what_the_orm_builds(make: Factory) -> None:
    lead = await make.practitioner()
    child = await make.child(lead)
    child.date_of_birth, child.closed_at = date(2015, 3, 1), utcnow()
    await child.save()
    post = await Post.create(child=child, author=lead, kind="update", body="Seen at school.")
    for model, row_id in (
        (Child, child.id),
        (Professional, lead.id),
        (Agency, lead.agency_id),
        (Post, post.id),
    ):
        orm, fast = await _orm_and_fast(model, "x", row_id)
        assert type(fast) is model
        assert _state(fast) == _state(orm), model.__name__
        assert list(vars(fast)) == list(vars(orm)), model.__name__  # same attributes, same order


async def test_saved_builds_what_the_orm_builds(make: Factory) -> None:
    await make.practitioner()  # the ORM initialised
    values = {
        "id": 5,
        "child_id": 1,
        "author_id": 2,
        "kind": "update",
        "body": "Seen at school.",
        "created_at": utcnow(),
        "edited_at": None,
        "removed_at": None,
        "removed_by_id": None,
        "idempotency_key": None,
        "request_fingerprint": "f" * 64,
    }
    fast, orm = raw_sql.saved(Post, **values), Post._init_from_db(**values)
    assert _state(fast) == _state(orm)
    assert list(vars(fast)) == list(vars(orm))
    partial = raw_sql.saved(Post, id=5, body="Seen.")  # some columns: the ORM's partial path
    assert partial._partial and (partial.id, partial.body) == (5, "Seen.")


async def test_times_convert_to_the_instant_the_orm_gives(make: Factory) -> None:
    await make.practitioner()
    convert, field = raw_sql.converter(Post, "created_at"), Post._meta.fields_map["created_at"]
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for value in (
        noon,  # asyncpg's timestamptz, kept as it comes
        noon.astimezone(timezone(timedelta(hours=1))),
        noon.replace(tzinfo=None),
        "2026-01-01 12:00:00+00:00",  # SQLite's text
        None,
    ):
        got, want = convert(value), field.to_python_value(value)
        assert got == want, value
        assert got is None or (got.utcoffset(), got.isoformat()) == (
            want.utcoffset(),
            want.isoformat(),
        )


async def test_from_row_reads_at_an_offset(make: Factory) -> None:
    lead = await make.practitioner()
    sql = (
        f"SELECT 7, {raw_sql.columns(Professional, 'p')}, {raw_sql.columns(Agency, 'a')} "  # noqa: S608
        "FROM professional p JOIN agency a ON a.id = p.agency_id WHERE p.id = $1"
    )
    row = (await raw_sql.fetch(sql, lead.id))[0]
    person = raw_sql.from_row(Professional, row, 1)
    agency = raw_sql.from_row(Agency, row, 1 + len(raw_sql.column_names(Professional)))
    assert (person.id, person.email, agency.id) == (lead.id, lead.email, lead.agency_id)
    await person.save(update_fields=["job_title"])  # saved-in-db: an UPDATE, not an INSERT


@pytest.mark.parametrize("pinned", [False, True])
async def test_statements_on_a_held_connection_answer_as_the_orm(
    make: Factory, pinned: bool
) -> None:
    agency = await make.agency()
    async with one_connection() if pinned else in_transaction():
        rows = await raw_sql.fetch("SELECT id, name FROM agency WHERE id = $1", agency.id)
        assert [tuple(r) for r in rows] == [(agency.id, agency.name)]
        changed = await raw_sql.execute(
            "UPDATE agency SET name = $1 WHERE id = $2", "Renamed", agency.id
        )
        assert changed == 1
        assert await raw_sql.execute("DELETE FROM agency WHERE id = $1", -1) == 0
    assert (await Agency.get(id=agency.id)).name == "Renamed"


async def test_a_held_connection_still_raises_integrity_errors(make: Factory) -> None:
    lead = await make.practitioner()
    async with one_connection():
        with pytest.raises(IntegrityError):
            await raw_sql.insert(
                "INSERT INTO professional (id, email, name, handle, agency_id, role, "
                "job_title, password_hash, is_active, failed_logins, created_at, work_email, "
                "work_phone) SELECT id, email, name, handle, agency_id, role, job_title, "
                "password_hash, is_active, failed_logins, created_at, work_email, work_phone "
                "FROM professional WHERE id = $1 RETURNING id",
                lead.id,
            )


async def test_fetch_answers_alike_on_a_held_connection_or_not(make: Factory) -> None:
    agency = await make.agency()
    for sql in (
        "SELECT id FROM agency WHERE id = $1",
        "UPDATE agency SET name = name WHERE id = $1 RETURNING id",  # the ORM's: no rows
    ):
        outside = [tuple(row) for row in await raw_sql.fetch(sql, agency.id)]
        async with one_connection():
            pinned = [tuple(row) for row in await raw_sql.fetch(sql, agency.id)]
        async with in_transaction():
            inside = [tuple(row) for row in await raw_sql.fetch(sql, agency.id)]
        assert outside == pinned == inside, sql
