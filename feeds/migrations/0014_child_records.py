"""Children's records: school, area and closure on the child, a revision table for its
history, and references unique whatever their case (one index, the same on both backends)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# lower() folds ASCII letters on SQLite and every letter on PostgreSQL; references are
# checked to be ASCII by feeds/records/children.py, so both refuse the same duplicates.
FOLDED_REFERENCE = (
    "CREATE UNIQUE INDEX IF NOT EXISTS child_reference_folded ON child (lower(reference))"
)


async def fold_references(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await schema_editor.client.execute_script(FOLDED_REFERENCE)


class Migration(migrations.Migration):
    dependencies = [('feeds', '0013_credentials')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChildRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('feeds.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.RESTRICT)),
                ('change', fields.CharField(max_length=16)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('changed_by', fields.ForeignKeyField('feeds.Professional', source_field='changed_by_id', db_constraint=True, to_field='id', related_name='child_revisions_made', on_delete=OnDelete.RESTRICT)),
                ('display_name', fields.CharField(max_length=200)),
                ('reference', fields.CharField(max_length=32)),
                ('date_of_birth', fields.DateField(null=True)),
                ('school', fields.CharField(default='', max_length=200)),
                ('area', fields.CharField(default='', max_length=200)),
                ('lead_professional_id', fields.IntField(null=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'child_revision', 'app': 'feeds', 'indexes': [Index(fields=['child_id', 'id'])], 'pk_attr': 'id', 'table_description': "A child's record as it was before one change (edit, close or reopen): who, when,"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Child',
            name='area',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Child',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Child',
            name='closed_by',
            field=fields.ForeignKeyField('feeds.Professional', source_field='closed_by_id', null=True, db_constraint=True, to_field='id', related_name='children_closed', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Child',
            name='school',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.RunPython(fold_references),
    ]
