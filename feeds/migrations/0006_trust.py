from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('feeds', '0005_velocity_state')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BreakGlass',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('feeds.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='break_glass', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='break_glass', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(max_length=500)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reviewed_by', fields.ForeignKeyField('feeds.Professional', source_field='reviewed_by_id', null=True, db_constraint=True, to_field='id', related_name='break_glass_reviewed', on_delete=OnDelete.RESTRICT)),
                ('review_note', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'break_glass', 'app': 'feeds', 'indexes': [Index(fields=['professional_id', 'child_id', 'expires_at'])], 'pk_attr': 'id', 'table_description': 'Emergency access to a child without a grant: a reason, a time limit, an admin review.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditRecord',
            name='hash',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='Professional',
            name='failed_logins',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Professional',
            name='locked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
