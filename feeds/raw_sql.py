"""Hand-written SQL for the per-request hot paths (token lookup, access check, feed page).

The ORM's query building and row instantiation cost more CPU than the queries
themselves on every API request; these helpers run one parametrised statement text on
both databases and build model instances straight from its rows.

This is the one adapter that touches Tortoise's private API (`_meta`, `_init_from_db`'s
work, the client's `_pool`, a wrapper's `_connection`, `_lock` and `_translate_exceptions`);
the rest of the code goes through the functions below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.connection import get_connection, get_connections
from tortoise.fields import DatetimeField, Field
from tortoise.models import Model

M = TypeVar("M", bound=Model)
Row = Sequence[Any]


def placeholders(sql: str, dialect: str) -> str:
    """`$1`-style parameters as PostgreSQL takes them; `?1`-style (the same numbering)
    for SQLite. Statements here never contain a literal `$`."""
    return sql if dialect == "postgres" else sql.replace("$", "?")


async def fetch(sql: str, *params: Any) -> list[Row]:
    """Rows of one parametrised statement, on the current connection or transaction."""
    connection = get_connection("default")
    if held_connection(connection):
        _, rows = await _held_query(connection, sql, params)
        return list(rows)
    # Records (asyncpg) or rows (SQLite), whatever Tortoise's annotation says.
    found: tuple[int, Sequence[Any]] = await connection.execute_query(
        placeholders(sql, connection.capabilities.dialect), list(params)
    )
    return list(found[1])


async def insert(sql: str, *params: Any) -> Any:
    """Run one `INSERT ... RETURNING id` and return the id."""
    found = await _returning(sql, params)
    return found[0]["id"]


async def insert_or_none(sql: str, *params: Any) -> Any | None:
    """Run one `INSERT ... ON CONFLICT DO NOTHING RETURNING id`: the id, or None when the
    row was already there."""
    found = await _returning(sql, params)
    return found[0]["id"] if found else None


async def _returning(sql: str, params: tuple[Any, ...]) -> Sequence[Any]:
    connection = get_connection("default")
    if held_connection(connection):
        return await _held_fetch(connection, sql, params)
    # execute_query_dict: asyncpg's execute_query drops an INSERT's RETURNING rows.
    found: list[dict[str, Any]] = await connection.execute_query_dict(
        placeholders(sql, connection.capabilities.dialect), list(params)
    )
    return found


_COLUMNS: dict[type[Model], tuple[str, ...]] = {}


def column_names(model: type[Model]) -> tuple[str, ...]:
    """The model's database columns, in the order `columns` selects them. Foreign key
    columns exist only once Tortoise is initialised, so only then is the list kept."""
    names = _COLUMNS.get(model)
    if names is None:
        names = tuple(model._meta.fields_db_projection.values())
        if model._meta._inited:
            _COLUMNS[model] = names
    return names


@cache
def _select_list(model: type[Model], alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f'{alias}."{name}"' for name in names)


def columns(model: type[Model], alias: str) -> str:
    """A select list of every column of `model` (table alias `alias`)."""
    return _select_list(model, alias, column_names(model))


def from_row(model: type[M], row: Row, start: int = 0) -> M:
    """The instance whose `columns(...)` start at `row[start]`, as the ORM would build it
    (values converted by the model's fields, marked as saved)."""
    plan = _plan(model)
    if plan is None:
        names = column_names(model)
        values = tuple(row)[start : start + len(names)]
        return saved(model, **dict(zip(names, values, strict=True)))
    return plan.build(model, row, start)


class _Plan:
    """What `Model._init_from_db` does for a whole row, worked out once per model: which
    column goes to which attribute, converted how. A caseload builds fifty children a
    request, and the ORM's per-call work (a keyword dict, its checks) was most of it."""

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        self.names = column_names(model)
        at = {name: i for i, name in enumerate(self.names)}
        self.lists = (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
        self.native = [(at[key], attr) for key, attr, _ in meta.db_native_fields]
        self.typed = [(at[key], attr, f.field_type) for key, attr, f in meta.db_default_fields]
        # Most of these are nullable times, mostly NULL (closed_at, shielded_at): where the
        # field turns None into None, a NULL needs no call.
        self.converted = [
            (at[key], attr, _python_value(f), _keeps_none(f.to_python_value))
            for key, attr, f in meta.db_complex_fields
        ]
        self.custom_pk = meta.db_pk_column not in meta.generated_db_fields

    def build(self, model: type[M], row: Row, start: int) -> M:
        instance = model.__new__(model)
        values = instance.__dict__
        values["_partial"], values["_saved_in_db"] = False, True
        values["_custom_generated_pk"], values["_await_when_save"] = self.custom_pk, {}
        for i, attr in self.native:
            values[attr] = row[start + i]
        for i, attr, kind in self.typed:
            value = row[start + i]
            values[attr] = None if value is None else kind(value)
        for i, attr, convert, keeps_none in self.converted:
            value = row[start + i]
            values[attr] = None if value is None and keeps_none else convert(value)
        return instance


def _python_value(field: Field[Any]) -> Callable[[Any], Any]:
    """The field's `to_python_value`; for a time, one that keeps a UTC time as it comes.
    asyncpg hands back timestamptz values in UTC and `feeds.clock.utcnow` makes them so;
    the ORM would move each one into its configured zone, also UTC, through a new object
    (a tenth of a feed read's CPU, two times a post). Only the tzinfo object differs."""
    convert: Callable[[Any], Any] = field.to_python_value
    if not isinstance(field, DatetimeField):
        return convert

    def moment(value: Any) -> Any:
        if value.__class__ is datetime and value.tzinfo is UTC:
            return value
        return convert(value)

    return moment


def _keeps_none(convert: Callable[[Any], Any]) -> bool:
    try:
        return convert(None) is None
    except Exception:  # then every value goes through it
        return False


_PLANS: dict[type[Model], _Plan] = {}


def _plan(model: type[Model]) -> _Plan | None:
    """The model's plan, once Tortoise is initialised (and again if it was initialised
    anew); None for a model with an attribute the class itself handles (a descriptor),
    which only the ORM's own path sets right."""
    meta = model._meta
    plan = _PLANS.get(model)
    if plan is not None and plan.lists[0] is meta.db_native_fields:
        return plan
    if not meta._inited:
        return None
    plan = _Plan(model)
    attrs = [attr for _, attr in plan.native] + [attr for _, attr, _ in plan.typed]
    attrs += [attr for _, attr, _, _ in plan.converted]
    if any(hasattr(getattr(model, a, None), "__set__") for a in attrs):
        return None
    _PLANS[model] = plan
    return plan


def saved(model: type[M], **values: Any) -> M:
    """An instance built from column values and marked as saved (what the ORM returns
    after an insert), without another round trip."""
    plan = _plan(model)
    if plan is None or len(values) != len(plan.names):
        return model._init_from_db(**values)  # some columns only: the ORM's partial path
    try:
        row = tuple(values[name] for name in plan.names)
    except KeyError:  # not keyed by column
        return model._init_from_db(**values)
    return plan.build(model, row, 0)


def db_value(model: type[Model], field: str, value: Any) -> Any:
    """One field's value as the database stores it (JSON fields become text)."""
    return model._meta.fields_map[field].to_db_value(value, model)


def python_value(model: type[Model], field: str, value: Any) -> Any:
    """One column's value as the ORM returns it (SQLite hands back stored text)."""
    return model._meta.fields_map[field].to_python_value(value)


def converter(model: type[Model], field: str) -> Callable[[Any], Any]:
    """`python_value` for one field, looked up once (for a column read row after row)."""
    return _python_value(model._meta.fields_map[field])


async def execute(sql: str, *params: Any) -> int:
    """Run one parametrised UPDATE or DELETE; returns the number of rows it changed."""
    connection = get_connection("default")
    if held_connection(connection):
        changed, _ = await _held_query(connection, sql, params)
        return changed
    changed, _ = await connection.execute_query(
        placeholders(sql, connection.capabilities.dialect), list(params)
    )
    return int(changed)


def model_tables() -> tuple[str, ...]:
    """The table of every model in feeds.models, in declaration order (what a backup
    counts and a restore checks)."""
    from feeds import models

    defined = [value for value in vars(models).values() if isinstance(value, type)]
    return tuple(
        value._meta.db_table
        for value in defined
        if issubclass(value, Model) and value.__module__ == models.__name__
    )


# Statements straight to asyncpg on a connection the request already holds. Inside
# `one_connection()` or a transaction, Tortoise's client wraps every statement in three
# layers (exception translation, its statement method, a connection wrapper that takes the
# lock and logs at debug level) before asyncpg's own call; on a feed read those layers cost
# about as much CPU as asyncpg itself. The connection is already held, so the statement
# runs on it directly, keeping what the layers are for: the client's lock (statements of
# one task group never interleave on one connection) and Tortoise's exception translation
# (an IntegrityError is still an IntegrityError; server/errors.py answers it). A client
# holding no connection (the pool, SQLite) keeps the ORM's path.


def held_connection(client: BaseDBAsyncClient) -> bool:
    """True for an asyncpg client holding one connection (pinned or in a transaction)."""
    kind = type(client)
    held = _HOLDS.get(kind)
    if held is None:  # worked out once per client class: asked before every statement
        held = _HOLDS[kind] = issubclass(kind, TransactionalDBClient) and any(
            base.__module__ == "tortoise.backends.asyncpg.client" for base in kind.__mro__
        )
    return held


_HOLDS: dict[type, bool] = {}


async def _held_query(client: Any, sql: str, params: Sequence[Any]) -> tuple[int, Sequence[Any]]:
    """Tortoise's `execute_query` on the held connection: (rows changed, no rows) for an
    UPDATE, DELETE or INSERT, (row count, rows) for anything else."""
    found: tuple[int, Sequence[Any]] = await client._translate_exceptions(_query_on, sql, params)
    return found


async def _held_fetch(client: Any, sql: str, params: Sequence[Any]) -> Sequence[Any]:
    """Every row the statement returns (an INSERT's RETURNING rows too)."""
    rows: Sequence[Any] = await client._translate_exceptions(_fetch_on, sql, params)
    return rows


async def _query_on(client: Any, sql: str, params: Sequence[Any]) -> tuple[int, Sequence[Any]]:
    if not sql.lstrip().upper().startswith(("UPDATE", "DELETE", "INSERT")):
        rows = await _fetch_on(client, sql, params)
        return len(rows), rows
    async with client._lock:
        status = await client._connection.execute(sql, *params)
    try:
        return int(status.split(" ")[1]), []
    except (AttributeError, IndexError, ValueError):
        return 0, []


async def _fetch_on(client: Any, sql: str, params: Sequence[Any]) -> Sequence[Any]:
    async with client._lock:
        return await client._connection.fetch(sql, *params)  # type: ignore[no-any-return]


# One pooled connection for a block of statements (PostgreSQL), instead of one per
# statement. Tortoise takes a connection from the pool for every statement run outside a
# transaction and gives it back after; asyncpg's release runs in a task of its own
# (`asyncio.shield`). A feed read makes five statements, so five acquire/release pairs and
# five tasks: together more CPU than the statements' own work (loadtests/cpu_ratio.py).
# Inside `one_connection()` every statement of the current task runs on one connection,
# each still committing by itself; `in_transaction()` inside starts a real transaction on
# that connection (BEGIN ... COMMIT, rolled back on an error), as it would outside.
# Only for request handlers that start no background task of their own: a task created
# inside would inherit the connection, which goes back to the pool when the block ends.
# SQLite (one connection anyway) and a block already inside a transaction are left as
# they are.


@cache  # one class, not one per request
def _pinned_class() -> Any:
    # Imported late: asyncpg's client is only needed (and importable) with PostgreSQL.
    from tortoise.backends.asyncpg.client import TransactionWrapper

    class Pinned(TransactionWrapper):
        """A pooled connection held for a block, outside any transaction: statements
        commit one by one; a nested `in_transaction()` begins a top-level transaction."""

    return Pinned


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """Run the block's statements (this task's) on one connection from the pool."""
    client = get_connection("default")
    pool = getattr(client, "_pool", None)
    if (
        client.capabilities.dialect != "postgres"
        or isinstance(client, TransactionalDBClient)
        or pool is None
    ):
        yield
        return
    pinned = _pinned_class()(client)
    pinned._connection = await pool.acquire()
    token = get_connections().set("default", pinned)
    try:
        yield
    finally:
        get_connections().reset(token)
        await pool.release(pinned._connection)
