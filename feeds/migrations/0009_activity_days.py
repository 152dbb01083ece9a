"""Per-child daily activity tallies and the stored board verdict; backfilled from posts."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
import json
from json import dumps, loads
from tortoise import fields


BATCH = 20_000
CONCERN_KINDS = ("hunch", "concern")
CHILDREN = (
    "SELECT p.id, p.child_id, p.created_at, p.kind, p.author_id, a.name FROM post p "
    "JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id "
    "WHERE p.removed_at IS NULL AND p.id > {mark} ORDER BY p.id LIMIT " + str(BATCH)
)


def _utc_day(value):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.astimezone(UTC).date(), at


def _bump(counts, key):  # type: ignore[no-untyped-def]
    counts[key] = counts.get(key, 0) + 1


async def backfill_days(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    """Tally every existing post into its child's UTC day (the same rules as
    feeds/activity_days.py, frozen here as migrations must be)."""
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    days: dict = {}
    cursor = 0
    while True:
        _, rows = await client.execute_query(CHILDREN.format(mark="$1" if postgres else "?"), [cursor])
        if not rows:
            break
        for post_id, child_id, created, kind, author_id, agency in rows:
            cursor = post_id
            day, at = _utc_day(created)
            row = days.setdefault((child_id, day), [0, {}, {}, {}, {}, {}, at])
            row[0] += 1
            _bump(row[1], kind)
            _bump(row[2], str(author_id))
            _bump(row[3], agency)
            if kind in CONCERN_KINDS:
                _bump(row[4], str(author_id))
                _bump(row[5], agency)
            row[6] = max(row[6], at)
    marks = ",".join(f"${n}" if postgres else "?" for n in range(1, 10))
    insert = (
        "INSERT INTO child_activity_day (child_id, day, posts, by_kind, authors, agencies, "
        f"concern_authors, concern_agencies, last_post_at) VALUES ({marks})"
    )
    values = [
        [child_id, day if postgres else day.isoformat(), row[0]]
        + [json.dumps(counts, separators=(",", ":")) for counts in row[1:6]]
        + [row[6] if postgres else row[6].isoformat()]
        for (child_id, day), row in days.items()
    ]
    if values:
        await client.execute_many(insert, values)

class Migration(migrations.Migration):
    dependencies = [('feeds', '0008_mfa')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChildActivityDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child_id', fields.IntField()),
                ('day', fields.DateField()),
                ('posts', fields.IntField(default=0)),
                ('by_kind', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('authors', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('agencies', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('concern_authors', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('concern_agencies', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_post_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'child_activity_day', 'app': 'feeds', 'unique_together': (('child_id', 'day'),), 'pk_attr': 'id', 'table_description': "One child's activity on one UTC day, kept up to date in each post's transaction"},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='VelocityState',
            options={'table': 'velocity_state', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'The last velocity verdict for each child, kept so hysteresis holds between runs'},
        ),
        ops.AddField(
            model_name='VelocityState',
            name='assessed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='VelocityState',
            name='assessment',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='VelocityState',
            name='last_post_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(backfill_days),
    ]
